"""The error gallery's events against trackeval's CLEAR counts; the rendered strips."""

from __future__ import annotations

import configparser
import contextlib
import io
import json
from pathlib import Path

import cv2
import numpy as np
import pytest

pytest.importorskip("trackeval")
import trackeval  # noqa: E402

from visionstack.tasks.tracking import error_gallery  # noqa: E402
from visionstack.tasks.tracking.error_gallery import write_error_gallery  # noqa: E402

WIDTH, HEIGHT = 320, 240


def _random_sequence(seed: int, length: int = 30, objects: int = 6) -> tuple[np.ndarray, np.ndarray]:
    """Moving boxes; predictions jittered, with dropped boxes, id changes, id swaps between neighbours,
    false positives, a consider=0 box and a static-person distractor with a prediction on it."""
    rng = np.random.default_rng(seed)
    start = rng.uniform([10, 10], [250, 150], (objects, 2))
    velocity = rng.uniform(-4, 4, (objects, 2))
    size = rng.uniform([15, 30], [30, 60], (objects, 2))
    gt, pred = [], []
    ids = np.arange(1, objects + 1) * 10
    for f in range(1, length + 1):
        if rng.random() < 0.15:  # an id switch or a swap of two ids
            a, b = rng.choice(objects, 2, replace=False)
            ids[a], ids[b] = (ids[b], ids[a]) if rng.random() < 0.5 else (ids[a] + 1000, ids[b])
        for k in range(objects):
            x, y = start[k] + velocity[k] * f
            gt.append([f, k + 1, x, y, *size[k], 0 if (k == 0 and f == 5) else 1, 1, 1])
            if rng.random() > 0.15:
                jitter = rng.normal(0, 2, 4)
                pred.append([f, ids[k], x + jitter[0], y + jitter[1], size[k, 0] + jitter[2], size[k, 1] + jitter[3], 0.9, 1, -1, -1])  # fmt: skip
        gt.append([f, 99, 280, 180, 20, 40, 1, 7, 1])
        pred.append([f, 5000, 281, 181, 20, 40, 0.5, 1, -1, -1])
        if rng.random() < 0.2:
            pred.append([f, 7000 + f, *rng.uniform([0, 0, 10, 10], [250, 180, 40, 60]), 0.3, 1, -1, -1])
    return np.array(gt, float), np.array(pred, float)


def _write_sequence(
    root: Path, seq: str, gt: np.ndarray, pred: np.ndarray, length: int, images: bool = False
) -> Path:
    seq_dir = root / "gt" / seq
    (seq_dir / "gt").mkdir(parents=True)
    np.savetxt(seq_dir / "gt" / "gt.txt", gt, fmt="%.3f", delimiter=",")
    ini = configparser.ConfigParser()
    ini.optionxform = str
    ini["Sequence"] = {"name": seq, "imDir": "img1", "seqLength": str(length), "imWidth": str(WIDTH), "imHeight": str(HEIGHT)}  # fmt: skip
    with open(seq_dir / "seqinfo.ini", "w") as file:
        ini.write(file)
    data = root / "trackers" / "t" / "data"
    data.mkdir(parents=True, exist_ok=True)
    np.savetxt(data / f"{seq}.txt", pred, fmt="%.3f", delimiter=",")
    (root / "seqmap.txt").write_text(f"name\n{seq}\n")
    if images:
        (seq_dir / "img1").mkdir()
        for f in range(1, length + 1):
            image = np.full((HEIGHT, WIDTH, 3), (90, 80, 70), np.uint8)
            cv2.line(image, (0, 200), (WIDTH, 200), (120, 140, 120), 3)
            for row in gt[gt[:, 0] == f]:
                x, y, w, h = row[2:6] - [1, 1, 0, 0]
                color = tuple(
                    int(c) for c in (60 + 37 * row[1] % 190, 200 - 23 * row[1] % 150, 90 + 51 * row[1] % 160)
                )
                cv2.rectangle(image, (int(x), int(y)), (int(x + w), int(y + h)), color, -1)
            cv2.imwrite(str(seq_dir / "img1" / f"{f:06d}.jpg"), image)
    return seq_dir


def _trackeval_clear(root: Path) -> dict:
    config = trackeval.datasets.MotChallenge2DBox.get_default_dataset_config()
    config.update(GT_FOLDER=str(root / "gt"), TRACKERS_FOLDER=str(root / "trackers"), SEQMAP_FILE=str(root / "seqmap.txt"),
                  SKIP_SPLIT_FOL=True, PRINT_CONFIG=False)  # fmt: skip
    eval_config = trackeval.Evaluator.get_default_eval_config()
    for key in (
        "PRINT_RESULTS",
        "PRINT_CONFIG",
        "TIME_PROGRESS",
        "OUTPUT_SUMMARY",
        "OUTPUT_DETAILED",
        "PLOT_CURVES",
    ):
        eval_config[key] = False
    with contextlib.redirect_stdout(io.StringIO()):
        dataset = trackeval.datasets.MotChallenge2DBox(config)
        results, _ = trackeval.Evaluator(eval_config).evaluate([dataset], [trackeval.metrics.CLEAR()])
    return results["MotChallenge2DBox"]["t"]["COMBINED_SEQ"]["pedestrian"]["CLEAR"]


@pytest.mark.parametrize("seed", range(6))
def test_event_counts_equal_trackeval_clear(tmp_path, seed):
    gt, pred = _random_sequence(seed)
    seq_dir = _write_sequence(tmp_path, "RAND", gt, pred, 30)
    events = write_error_gallery(seq_dir / "gt" / "gt.txt", tmp_path / "trackers" / "t" / "data" / "RAND.txt", None, tmp_path / "out")  # fmt: skip
    clear = _trackeval_clear(tmp_path)
    assert clear["IDSW"] + clear["Frag"] > 0
    assert sum(e.kind == "idsw" for e in events) == clear["IDSW"]
    assert sum(e.kind == "frag" for e in events) == clear["Frag"]
    assert len(list((tmp_path / "out").glob("RAND_*.png"))) == len({e.image for e in events})


def _hand_made() -> tuple[np.ndarray, np.ndarray]:
    """Two people; person 1's track changes id at frame 5 and person 2's track is lost in frames 4-5."""
    gt, pred = [], []
    for f in range(1, 9):
        gt += [[f, 1, 20 + 12 * f, 60, 30, 70, 1, 1, 1], [f, 2, 230 - 8 * f, 90, 28, 66, 1, 1, 1]]
        pred.append([f, 7 if f < 5 else 8, 22 + 12 * f, 62, 30, 68, 0.9, 1, -1, -1])
        if f not in (4, 5):
            pred.append([f, 3, 231 - 8 * f, 88, 28, 66, 0.8, 1, -1, -1])
    return np.array(gt, float), np.array(pred, float)


def test_strips_written(tmp_path):
    gt, pred = _hand_made()
    seq_dir = _write_sequence(tmp_path, "HAND", gt, pred, 8, images=True)
    out = tmp_path / "gallery"
    events = write_error_gallery(seq_dir / "gt" / "gt.txt", tmp_path / "trackers" / "t" / "data" / "HAND.txt",
                                 seq_dir / "img1", out, thumb_height=80)  # fmt: skip
    assert [(e.kind, e.gt_id, e.frame, e.previous_pred_id, e.pred_id) for e in events] == [
        ("idsw", 1, 5, 7, 8),
        ("frag", 2, 6, 3, 3),
    ]
    assert events[1].previous_frame == 3 and events[0].image == "HAND_idsw_gt1_f5.png"
    for event, tiles in zip(events, (5, 5)):  # frames 3..7 (the last match is inside the window)
        strip = cv2.imread(str(out / event.image))
        assert strip.shape[0] == 80 + error_gallery.STRIP_EXTRA_HEIGHT
        assert (strip.shape[1] - error_gallery.PAD) % tiles == 0
    listed = json.loads((out / "events.json").read_text())
    assert [e["image"] for e in listed] == [e.image for e in events]
    assert "1 id switches, 1 fragmentations" in (out / "index.html").read_text()


def test_frame_paths_and_long_gaps(tmp_path):
    gt, pred = _hand_made()
    pred = pred[~((pred[:, 1] == 3) & (pred[:, 0] >= 2) & (pred[:, 0] <= 6))]  # person 2 lost in frames 2-6
    seq_dir = _write_sequence(tmp_path, "HAND", gt, pred, 8, images=True)
    paths = sorted((seq_dir / "img1").iterdir())
    events = write_error_gallery(seq_dir / "gt" / "gt.txt", tmp_path / "trackers" / "t" / "data" / "HAND.txt",
                                 paths, tmp_path / "g", context_frames=1, class_ids=[1], seq_name="X")  # fmt: skip
    frag = [e for e in events if e.kind == "frag"][0]
    assert (frag.frame, frag.previous_frame) == (7, 1)
    strip = cv2.imread(str(tmp_path / "g" / "X_frag_gt2_f7.png"))
    assert (strip.shape[1] - error_gallery.PAD) % 4 == 0  # frame 1 (last match) + frames 6, 7, 8
