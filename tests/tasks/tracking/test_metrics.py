"""MOTMetric: per-frame DataSamples (or dicts) -> result files -> the numbers evaluate_mot gives on them."""

from __future__ import annotations

import configparser
from pathlib import Path

import numpy as np
import pytest
import torch

pytest.importorskip("trackeval")

from visionstack.registry import METRICS  # noqa: E402
from visionstack.structures import DataSample, InstanceData  # noqa: E402
from visionstack.tasks.tracking.evaluation import evaluate_mot  # noqa: E402
from visionstack.tasks.tracking.metrics import MOTMetric  # noqa: E402

CLASSES = ("pedestrian", "car")
MOT_IDS = (1, 3)


def _scene() -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """Per sequence: gt rows (frame, id, bb_left, bb_top, w, h, consider, class, vis), predictions
    (frame, id, bb_left, bb_top, w, h, score, label) with an id switch, a 1-frame gap and a car."""
    seqs = {}
    for seq, length, shift in (("S1", 8, 0.0), ("S2", 6, 40.0)):
        gt, pred = [], []
        for f in range(1, length + 1):
            gt += [[f, 1, 10 + 4 * f + shift, 20, 20, 40, 1, 1, 1], [f, 2, 200 - 3 * f, 30, 20, 40, 1, 1, 1]]
            gt.append([f, 3, 100 + 2 * f, 150, 60, 30, 1, 3, 1])
            pred.append([f, 10 if f <= 4 else 11, 10.5 + 4 * f + shift, 20.25, 20, 40, 0.9, 0])
            if f != 3:
                pred.append([f, 20, 201 - 3 * f, 30.5, 20, 40, 0.75, 0])
            pred.append([f, 20, 101 + 2 * f, 151, 60, 30, 0.5, 1])  # id 20 again: another class
        seqs[seq] = (np.array(gt, float), np.array(pred, float), length)
    return seqs


def _write_gt(root: Path, scene: dict) -> Path:
    for seq, (gt, _, length) in scene.items():
        (root / seq / "gt").mkdir(parents=True)
        np.savetxt(root / seq / "gt" / "gt.txt", gt, fmt="%g", delimiter=",")
        ini = configparser.ConfigParser()
        ini.optionxform = str
        ini["Sequence"] = {"name": seq, "seqLength": str(length), "frameRate": "10"}
        with open(root / seq / "seqinfo.ini", "w") as file:
            ini.write(file)
    return root


def _write_pred(root: Path, scene: dict) -> Path:
    root.mkdir(parents=True)
    for seq, (_, pred, _) in scene.items():
        rows = np.column_stack(
            [pred[:, :7], np.take(MOT_IDS, pred[:, 7].astype(int)), -np.ones((len(pred), 2))]
        )
        np.savetxt(root / f"{seq}.txt", rows, fmt="%g", delimiter=",")
    return root


def _samples(scene: dict, gt_root: Path, as_dict: bool = False) -> list:
    """One sample per frame: xyxy 0-based boxes (x1 = bb_left - 1), as the model would give them."""
    samples = []
    for seq, (_, pred, length) in scene.items():
        for f in range(1, length + 1):
            rows = pred[pred[:, 0] == f]
            boxes = np.column_stack(
                [rows[:, 2] - 1, rows[:, 3] - 1, rows[:, 2] - 1 + rows[:, 4], rows[:, 3] - 1 + rows[:, 5]]
            )
            fields = dict(
                bboxes=torch.as_tensor(boxes, dtype=torch.float32),
                scores=torch.as_tensor(rows[:, 6]),
                labels=torch.as_tensor(rows[:, 7], dtype=torch.int64),
                instances_id=torch.as_tensor(rows[:, 1], dtype=torch.int64),
            )
            meta = {
                "seq_name": seq,
                "seq_dir": str(gt_root / seq),
                "frame_id": f,
                "img_path": f"{seq}/{f:06d}.jpg",
            }
            if as_dict:
                samples.append({**meta, "pred_track_instances": fields})
            else:
                samples.append(DataSample(metainfo=meta, pred_track_instances=InstanceData(**fields)))
    return samples


def _run(metric: MOTMetric, samples: list, batch: int = 3) -> dict[str, float]:
    metric.dataset_meta = {"classes": CLASSES}
    for start in range(0, len(samples), batch):
        metric.process({}, samples[start : start + batch])
    return metric.evaluate(len(samples))


def test_equals_evaluate_mot_on_the_same_rows(tmp_path):
    scene = _scene()
    gt_root = _write_gt(tmp_path / "train", scene)
    expected = evaluate_mot(gt_root, _write_pred(tmp_path / "direct", scene), classes=CLASSES)
    metric = MOTMetric(outfile_prefix=str(tmp_path / "results"))
    ours = _run(metric, _samples(scene, gt_root))
    assert ours == {f"tracking/{k}": v for k, v in expected.items()}
    assert ours["tracking/IDSW"] == 2 and ours["tracking/car/MOTA"] == 1.0
    written = np.loadtxt(tmp_path / "results" / "S1.txt", delimiter=",")
    first = written[(written[:, 0] == 1) & (written[:, 1] == 10)][0]
    np.testing.assert_allclose(first[2:8], [14.5, 20.25, 20, 40, 0.9, 1])  # bb_left = x1 + 1, MOT class id


def test_registered():
    # a lookup by name imports every registering module of visionstack
    assert METRICS.get("MOTMetric") is MOTMetric


def test_dict_samples_and_temporary_folder(tmp_path):
    scene = _scene()
    gt_root = _write_gt(tmp_path / "train", scene)
    from_dicts = _run(MOTMetric(metric=("CLEAR",), prefix="mot"), _samples(scene, gt_root, as_dict=True))
    from_samples = _run(MOTMetric(metric="CLEAR", prefix="mot"), _samples(scene, gt_root))
    assert from_dicts == from_samples and "mot/MOTA" in from_dicts and "mot/HOTA" not in from_dicts


def test_sequences_from_other_folders_and_names(tmp_path):
    scene = _scene()
    _write_gt(tmp_path / "a", {"S1": scene["S1"]})
    _write_gt(tmp_path / "b", {"S2": scene["S2"]})
    samples = _samples({"S1": scene["S1"]}, tmp_path / "a") + _samples({"S2": scene["S2"]}, tmp_path / "b")
    ours = _run(MOTMetric(), samples)
    expected = evaluate_mot(
        _write_gt(tmp_path / "both", scene), _write_pred(tmp_path / "p", scene), classes=CLASSES
    )
    assert ours == {f"tracking/{k}": v for k, v in expected.items()}


def test_interpolation_fills_the_gap(tmp_path):
    scene = _scene()
    gt_root = _write_gt(tmp_path / "train", scene)
    plain = _run(MOTMetric(), _samples(scene, gt_root))
    filled = _run(MOTMetric(interpolate={"max_gap": 2, "min_track_length": 2}), _samples(scene, gt_root))
    assert plain["tracking/pedestrian/Frag"] == 2 and filled["tracking/pedestrian/Frag"] == 0
    assert filled["tracking/FN"] == plain["tracking/FN"] - 2


def test_errors(tmp_path):
    scene = _scene()
    gt_root = _write_gt(tmp_path / "train", scene)
    samples = _samples(scene, gt_root)
    metric = MOTMetric()
    with pytest.raises(KeyError, match="seq_dir"):
        metric.process({}, [DataSample(metainfo={"seq_name": "S1", "frame_id": 1})])
    metric.dataset_meta = {"classes": ("pedestrian",)}
    metric.process({}, samples)
    with pytest.raises(ValueError, match="labels"):
        metric.compute_metrics(metric.results)
    with pytest.raises(ValueError, match="subset"):
        MOTMetric(metric=("MOTA",))
