"""evaluate_mot against trackeval run directly (its own Evaluator + MotChallenge2DBox) on the same files."""

from __future__ import annotations

import configparser
import contextlib
import io
from pathlib import Path

import numpy as np
import pytest

pytest.importorskip("trackeval")
import trackeval  # noqa: E402

from visionstack.tasks.tracking.evaluation import evaluate_mot, read_mot_rows  # noqa: E402

GT_FMT = ["%d", "%d", "%.2f", "%.2f", "%.2f", "%.2f", "%d", "%d", "%.2f"]
PRED_FMT = ["%d", "%d", "%.2f", "%.2f", "%.2f", "%.2f", "%.3f", "%d", "%d", "%d"]


def _box(frame: int, x0: float, vx: float, y: float = 20.0, w: float = 20.0, h: float = 40.0) -> list[float]:
    return [x0 + vx * frame, y, w, h]


def _tiny_rows() -> dict[str, tuple[np.ndarray, np.ndarray, int]]:
    """Two sequences: gt (frame, id, box, consider, class, vis) and predictions (frame, id, box, score,
    class, -1, -1) with an id switch, a miss (-> a fragmentation), a false positive, a car class, a
    static-person distractor (its matched prediction is removed by trackeval) and class -1 results."""
    gt, pred = [], []
    for f in range(1, 9):
        gt.append([f, 1, *_box(f, 10, 4), 1, 1, 1.0])
        gt.append([f, 2, *_box(f, 200, -3, y=30), 1, 1, 1.0])
        gt.append([f, 5, *_box(f, 100, 2, y=150, w=60, h=30), 1, 3, 1.0])
        pred.append([f, 10 if f <= 4 else 11, *_box(f, 10.5, 4), 0.9, 1, -1, -1])  # id switch at frame 5
        if f != 3:  # a miss: gt 2 fragmented
            pred.append([f, 20, *_box(f, 201, -3, y=31), 0.8, 1, -1, -1])
        if f == 6:  # a false positive
            pred.append([f, 99, 400, 300, 20, 40, 0.4, 1, -1, -1])
        if f != 7:
            pred.append([f, 30, *_box(f, 101, 2, y=151, w=60, h=30), 0.7, 3, -1, -1])
    seq_a = (np.array(gt), np.array(pred), 8)
    gt, pred = [], []
    for f in range(1, 6):
        gt.append([f, 1, *_box(f, 50, 5), 1, 1, 0.8])
        gt.append([f, 9, 300, 100, 20, 40, 1, 7, 1.0])  # static person (a distractor)
        pred.append([f, 3, *_box(f, 50, 5), 0.9, -1, -1, -1])
        pred.append([f, 4, 300, 100, 20, 40, 0.6, -1, -1, -1])
    pred.append([2, 8, *_box(2, 150, 5, y=120), 0.5, 3, -1, -1])  # a car false positive
    return {"SEQ-A": seq_a, "SEQ-B": (np.array(gt), np.array(pred), 5)}


def _write_split(root: Path, rows: dict, pred_filter=None, gt_filter=None) -> tuple[Path, Path]:
    """MOT layout: ``root/gt/<SEQ>/{gt/gt.txt, seqinfo.ini}``, ``root/seqmap.txt``, ``root/pred/<SEQ>.txt``."""
    for seq, (gt, pred, length) in rows.items():
        seq_dir = root / "gt" / seq
        (seq_dir / "gt").mkdir(parents=True)
        np.savetxt(
            seq_dir / "gt" / "gt.txt", gt if gt_filter is None else gt_filter(gt), fmt=GT_FMT, delimiter=","
        )
        ini = configparser.ConfigParser()
        ini.optionxform = str
        ini["Sequence"] = {"name": seq, "imDir": "img1", "frameRate": "10", "seqLength": str(length)}
        with open(seq_dir / "seqinfo.ini", "w") as file:
            ini.write(file)
        (root / "pred").mkdir(exist_ok=True)
        out = pred if pred_filter is None else pred_filter(pred)
        np.savetxt(root / "pred" / f"{seq}.txt", out, fmt=PRED_FMT, delimiter=",")
    (root / "seqmap.txt").write_text("name\n" + "".join(f"{seq}\n" for seq in rows))
    return root / "gt", root / "pred"


def _trackeval_directly(root: Path) -> dict:
    """trackeval's own run on ``root`` (as written by ``_write_split``): ``{seq: {metric: res}}``."""
    trackers = root / "trackers" / "direct" / "data"
    trackers.mkdir(parents=True)
    for file in (root / "pred").iterdir():
        (trackers / file.name).write_text(file.read_text())
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
    eval_config["LOG_ON_ERROR"] = None
    dataset_config = trackeval.datasets.MotChallenge2DBox.get_default_dataset_config()
    dataset_config.update(
        GT_FOLDER=str(root / "gt"),
        TRACKERS_FOLDER=str(root / "trackers"),
        OUTPUT_FOLDER=str(root / "out"),
        SEQMAP_FILE=str(root / "seqmap.txt"),
        SKIP_SPLIT_FOL=True,
        PRINT_CONFIG=False,
    )
    with contextlib.redirect_stdout(io.StringIO()):
        dataset = trackeval.datasets.MotChallenge2DBox(dataset_config)
        metrics = [trackeval.metrics.HOTA(), trackeval.metrics.CLEAR(), trackeval.metrics.Identity()]
        results, _ = trackeval.Evaluator(eval_config).evaluate([dataset], metrics)
    res = results["MotChallenge2DBox"]["direct"]
    return {seq: value["pedestrian"] for seq, value in res.items()}


def _expected(res: dict) -> dict[str, float]:
    hota, clear, ident = res["HOTA"], res["CLEAR"], res["Identity"]
    out = {
        k: float(np.mean(hota[k]))
        for k in ("HOTA", "DetA", "AssA", "LocA", "DetRe", "DetPr", "AssRe", "AssPr")
    }
    out.update({k: float(clear[k]) for k in ("MOTA", "MOTP", "MODA", "IDSW", "Frag", "MT", "PT", "ML")})
    out.update(TP=float(clear["CLR_TP"]), FP=float(clear["CLR_FP"]), FN=float(clear["CLR_FN"]))
    out.update({k: float(ident[k]) for k in ("IDF1", "IDP", "IDR")})
    return out


def _assert_close(ours: dict, expected: dict, prefix: str = "") -> None:
    for key, value in expected.items():
        assert ours[prefix + key] == pytest.approx(value, abs=1e-12, rel=0), prefix + key


def _only_class(class_id: int):
    """Hand filter: rows of ``class_id`` (result class -1 counts as 1) relabelled 1; distractor gt rows kept."""

    def gt_filter(gt):
        keep = gt[(gt[:, 7] == class_id) | np.isin(gt[:, 7], (2, 7, 8, 12))].copy()
        keep[keep[:, 7] == class_id, 7] = 1
        return keep

    def pred_filter(pred):
        keep = pred[np.where(pred[:, 7] == -1, 1, pred[:, 7]) == class_id].copy()
        keep[:, 7] = 1
        return keep

    return gt_filter, pred_filter


def test_single_class_equals_trackeval(tmp_path):
    rows = _tiny_rows()
    # pedestrian-only predictions on the original (multi-class) gt: what trackeval itself accepts
    gt_dir, pred_dir = _write_split(tmp_path, rows, pred_filter=_only_class(1)[1])
    ours = evaluate_mot(gt_dir, pred_dir)
    direct = _trackeval_directly(tmp_path)
    _assert_close(ours, _expected(direct["COMBINED_SEQ"]))
    _assert_close(ours, _expected(direct["COMBINED_SEQ"]), "pedestrian/")
    for seq in ("SEQ-A", "SEQ-B"):
        _assert_close(ours, _expected(direct[seq]), f"seq/{seq}/")
    assert ours["IDSW"] == 1 and ours["Frag"] == 1 and ours["FP"] == 1  # the distractor match is removed


def test_per_class_equals_trackeval_on_hand_filtered_files(tmp_path):
    rows = _tiny_rows()
    gt_dir, pred_dir = _write_split(tmp_path / "all", rows)
    ours = evaluate_mot(gt_dir, pred_dir, classes=("pedestrian", "car"))
    per_class = {}
    for name, class_id in (("pedestrian", 1), ("car", 3)):
        gt_filter, pred_filter = _only_class(class_id)
        _write_split(tmp_path / name, rows, pred_filter=pred_filter, gt_filter=gt_filter)
        per_class[name] = _trackeval_directly(tmp_path / name)
        _assert_close(ours, _expected(per_class[name]["COMBINED_SEQ"]), f"{name}/")
    assert ours["car/FN"] == 1 and ours["car/FP"] == 1
    # combined: class-averaged scores, summed counts; det-averaged pools the counts
    for key in ("HOTA", "MOTA", "IDF1", "DetA"):
        assert ours[key] == pytest.approx((ours[f"pedestrian/{key}"] + ours[f"car/{key}"]) / 2, abs=1e-12)
    for key in ("IDSW", "FP", "FN", "TP"):
        assert ours[key] == ours[f"det_av/{key}"] == ours[f"pedestrian/{key}"] + ours[f"car/{key}"]
    tp, fp, fn = ours["TP"], ours["FP"], ours["FN"]
    assert ours["det_av/MOTA"] == pytest.approx((tp - fp - ours["IDSW"]) / (tp + fn), abs=1e-12)
    # the class ids by name (car = 3) are what an explicit class_ids gives
    explicit = evaluate_mot(gt_dir, pred_dir, classes=("pedestrian", "car"), class_ids=(1, 3))
    assert explicit == ours


def test_hand_checkable_cases(tmp_path):
    gt = np.array([[f, i, 10 + 30 * i + f, 20, 20, 40, 1, 1, 1] for f in range(1, 6) for i in (1, 2)], float)
    perfect = np.array([[f, 7 * i, *row[2:6], 1, 1, -1, -1] for row in gt for f, i in [row[:2].astype(int)]])
    _write_split(tmp_path / "perfect", {"S": (gt, perfect, 5)})
    ours = evaluate_mot(
        tmp_path / "perfect" / "gt" / "S", tmp_path / "perfect" / "pred"
    )  # one sequence folder
    assert ours["MOTA"] == ours["IDF1"] == ours["HOTA"] == ours["LocA"] == 1.0
    assert ours["IDSW"] == ours["FP"] == ours["FN"] == 0
    switched = perfect.copy()
    switched[(switched[:, 0] >= 3) & (switched[:, 1] == 7), 1] = 8
    _write_split(tmp_path / "switch", {"S": (gt, switched, 5)})
    ours = evaluate_mot(tmp_path / "switch" / "gt", tmp_path / "switch" / "pred")
    assert ours["IDSW"] == 1 and ours["Frag"] == 0
    assert ours["MOTA"] == pytest.approx(9 / 10)
    assert set(ours) >= {"seq/S/HOTA", "pedestrian/IDF1", "det_av/AssA"}
    assert all(isinstance(v, float) for v in ours.values())


def test_errors_name_the_file(tmp_path):
    rows = _tiny_rows()
    gt_dir, pred_dir = _write_split(tmp_path, rows)
    (pred_dir / "SEQ-B.txt").unlink()
    with pytest.raises(FileNotFoundError, match="SEQ-B"):
        evaluate_mot(gt_dir, pred_dir, classes=("pedestrian", "car"))
    (pred_dir / "SEQ-B.txt").write_text("1,1,10,10,5,5,1,1,-1,-1\n\n2,1,10,x,5,5,1,1,-1,-1\n")
    with pytest.raises(ValueError, match=r"SEQ-B.txt:3: not a numeric"):
        evaluate_mot(gt_dir, pred_dir)
    (pred_dir / "SEQ-B.txt").write_text("9,1,10,10,5,5,1,1,-1,-1\n")
    with pytest.raises(ValueError, match="frame 9 beyond seqLength=5"):
        evaluate_mot(gt_dir, pred_dir)
    with pytest.raises(ValueError, match="metrics"):
        evaluate_mot(gt_dir, pred_dir, metrics=("MOTA",))
    with pytest.raises(ValueError, match="sequences"):
        evaluate_mot(gt_dir, pred_dir, sequences=("SEQ-Z",))


def test_metric_subset_and_reader_defaults(tmp_path):
    rows = _tiny_rows()
    gt_dir, pred_dir = _write_split(tmp_path, rows)
    ours = evaluate_mot(gt_dir, pred_dir, metrics=("Identity",), sequences=("SEQ-A",))
    assert set(ours) == {
        f"{p}{k}" for p in ("", "det_av/", "pedestrian/", "seq/SEQ-A/") for k in ("IDF1", "IDP", "IDR")
    }
    (tmp_path / "short.txt").write_text("1 2 3 4 5 6\n")
    np.testing.assert_array_equal(read_mot_rows(tmp_path / "short.txt", "gt"), [[1, 2, 3, 4, 5, 6, 1, 1, 1]])
    np.testing.assert_array_equal(read_mot_rows(tmp_path / "short.txt", "pred")[0, 6:], [1, -1, -1, -1])
