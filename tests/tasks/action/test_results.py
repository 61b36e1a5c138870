"""Action result files: what ActionResultWriter writes during test, scored by evaluate_files, gives
exactly AccMetric's in-process numbers (float32 scores survive the JSON round trip bit for bit)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from visionstack.evaluation import Evaluator
from visionstack.registry import METRICS, build
from visionstack.structures import DataSample, LabelData
from visionstack.tasks.action.metrics import AccMetric
from visionstack.tasks.action.records import action_record, timeline_record
from visionstack.tasks.action.results import ActionResultWriter, evaluate_files, read_ground_truth_list

CLASSES = (
    "move_left",
    "move_right",
    "rotate_clockwise",
    "rotate_anticlockwise",
    "grow",
    "shrink",
    "approach",
)
NUM_VIDEOS = 23


@pytest.fixture(scope="module")
def data_root(tmp_path_factory) -> str:
    """The synthetic layout's lists (the videos themselves are not needed to score files)."""
    root = tmp_path_factory.mktemp("synth")
    labels = np.random.default_rng(0).integers(0, len(CLASSES), NUM_VIDEOS)
    labels[:2] = (3, 3)
    (root / "val_list_videos.txt").write_text(
        "".join(f"videos_val/{i:06d}.mp4 {label}\n" for i, label in enumerate(labels))
    )
    (root / "val_list_rawframes.txt").write_text(
        "".join(f"rawframes_val/{i:06d} 32 {label}\n" for i, label in enumerate(labels))
    )
    return str(root)


def predicted_samples(
    data_root: str, folder: str = "videos_val", suffix: str = ".mp4", seed: int = 1
) -> list:
    """Packed samples as the test loop sees them: absolute img_path, gt label, float32 softmax scores."""
    listed = read_ground_truth_list(os.path.join(data_root, "val_list_videos.txt"))
    rng = np.random.default_rng(seed)
    samples = []
    for index, label in enumerate(listed.values()):
        logits = torch.from_numpy(rng.normal(size=len(CLASSES)) * 2 + 2.5 * np.eye(len(CLASSES))[label])
        score = torch.softmax(logits, dim=0).float()
        sample = DataSample(metainfo={"img_path": os.path.join(data_root, folder, f"{index:06d}{suffix}")})
        sample.gt_label = LabelData(label=torch.tensor([label]))
        sample.pred_label = LabelData(label=score.argmax().reshape(1), score=score)
        samples.append(sample)
    return samples


def run_test(samples: list, metric_cfgs: list, batch_size: int = 4) -> dict:
    evaluator = Evaluator([build(cfg, METRICS) for cfg in metric_cfgs])
    evaluator.dataset_meta = {"classes": CLASSES}
    for start in range(0, len(samples), batch_size):
        batch = samples[start : start + batch_size]
        evaluator.process({"inputs": [], "data_samples": batch}, batch)
    return evaluator.evaluate(len(samples))


@pytest.fixture(scope="module")
def written(data_root, tmp_path_factory) -> tuple[list, dict, str]:
    samples = predicted_samples(data_root)
    out_file = str(tmp_path_factory.mktemp("out") / "results.json")
    in_process = run_test(
        samples, [dict(type="AccMetric"), dict(type="ActionResultWriter", out_file=out_file)]
    )
    return samples, in_process, out_file


def test_writer_writes_one_record_per_video_in_order(written):
    samples, in_process, out_file = written
    records = json.loads(open(out_file).read())
    assert list(in_process) == ["acc/top1", "acc/top5", "acc/mean1"]  # the writer adds no key
    assert [r["filename"] for r in records] == [s.img_path for s in samples]
    score = samples[0].pred_label.score.numpy()
    assert records[0] == {
        "filename": samples[0].img_path,
        "pred_label": int(score.argmax()),
        "scores": [float(v) for v in score],
        **action_record(score, CLASSES, 5),
    }
    assert np.array_equal(np.asarray(records[0]["scores"], dtype=np.float32), score)


def test_video_list_scores_equal_acc_metric(written, data_root):
    samples, in_process, out_file = written
    offline = evaluate_files(os.path.join(data_root, "val_list_videos.txt"), out_file, classes=CLASSES)
    assert offline == in_process
    assert 0 < offline["acc/top1"] < offline["acc/top5"] < 1  # not degenerate
    direct = AccMetric()  # compute_metrics on the same data, without the evaluator
    direct.process(None, samples)
    assert offline == {f"acc/{k}": v for k, v in direct.compute_metrics(direct.results).items()}


def test_topk_and_metrics_config(written, data_root):
    _, _, out_file = written
    gt = os.path.join(data_root, "val_list_videos.txt")
    assert list(evaluate_files(gt, out_file, topk=(1, 3))) == ["acc/top1", "acc/top3", "acc/mean1"]
    config = [
        dict(type="AccMetric", metric_list="mean_class_accuracy"),
        dict(type="ActionResultWriter", out_file="x"),
    ]
    assert list(evaluate_files(gt, out_file, metrics=config)) == ["acc/mean1"]
    assert not os.path.exists("x")


def test_rawframe_list_with_relative_and_shuffled_predictions(data_root, tmp_path):
    samples = predicted_samples(data_root, folder="rawframes_val", suffix="")
    in_process = run_test(samples, [dict(type="AccMetric")])
    writer = ActionResultWriter(tmp_path / "raw.json")
    writer.process(None, samples)
    writer.compute_metrics(writer.results)
    records = json.loads((tmp_path / "raw.json").read_text())
    for record in records:  # as if written from another working directory
        record["filename"] = os.path.relpath(record["filename"], os.path.dirname(data_root))
    (tmp_path / "raw.json").write_text(json.dumps(records[::-1]))
    assert (
        evaluate_files(os.path.join(data_root, "val_list_rawframes.txt"), tmp_path / "raw.json") == in_process
    )


def test_basename_fallback_and_other_roots(written, data_root, tmp_path):
    _, in_process, out_file = written
    records = json.loads(open(out_file).read())
    for index, record in enumerate(records):
        name = os.path.basename(record["filename"])
        record["filename"] = name if index % 2 else f"/elsewhere/videos_val/{name}"
    (tmp_path / "moved.json").write_text(json.dumps(records))
    assert (
        evaluate_files(os.path.join(data_root, "val_list_videos.txt"), tmp_path / "moved.json") == in_process
    )


def test_mismatches_name_the_entries(written, data_root, tmp_path):
    _, _, out_file = written
    gt = os.path.join(data_root, "val_list_videos.txt")
    records = json.loads(open(out_file).read())
    (tmp_path / "short.json").write_text(json.dumps(records[2:]))
    with pytest.raises(
        ValueError, match=r"no prediction for 2 video\(s\).*'videos_val/000000\.mp4', 'videos_val/000001"
    ):
        evaluate_files(gt, tmp_path / "short.json")
    (tmp_path / "twice.json").write_text(json.dumps([*records, records[4]]))
    with pytest.raises(
        ValueError, match=r"records 4 and 23 are both predictions for 'videos_val/000004\.mp4'"
    ):
        evaluate_files(gt, tmp_path / "twice.json")
    (tmp_path / "alien.json").write_text(json.dumps([*records, {**records[0], "filename": "other/x.mp4"}]))
    with pytest.raises(ValueError, match=r"record 23: 'other/x\.mp4' is not a video of the ground truth"):
        evaluate_files(gt, tmp_path / "alien.json")
    with pytest.raises(ValueError, match="7 scores per video but 2 classes"):
        evaluate_files(gt, out_file, classes=CLASSES[:2])


def test_bad_files_name_the_line_or_record(data_root, tmp_path):
    bad_list = tmp_path / "bad.txt"
    bad_list.write_text("videos_val/000000.mp4 1\nvideos_val/000001.mp4 one\n")
    with pytest.raises(ValueError, match=r"bad\.txt', line 2: expected `path label`"):
        read_ground_truth_list(bad_list)
    with pytest.raises(FileNotFoundError, match="action ground-truth list not found"):
        read_ground_truth_list(tmp_path / "missing.txt")
    (tmp_path / "bad.json").write_text(json.dumps([{"filename": "a.mp4", "scores": []}]))
    with pytest.raises(ValueError, match=r"record 0: 'a\.mp4' has no non-empty `scores`"):
        evaluate_files(os.path.join(data_root, "val_list_videos.txt"), tmp_path / "bad.json")
    (tmp_path / "ragged.json").write_text(
        json.dumps([{"filename": "a.mp4", "scores": [0.5, 0.5]}, {"filename": "b.mp4", "scores": [1.0]}])
    )
    with pytest.raises(ValueError, match="record 0 has 2 scores but record 1 has 1"):
        evaluate_files(os.path.join(data_root, "val_list_videos.txt"), tmp_path / "ragged.json")


def test_writer_registered_and_needs_scores():
    assert METRICS.get("ActionResultWriter") is ActionResultWriter
    assert METRICS.get("AccMetric") is AccMetric
    sample = DataSample(metainfo={"img_path": "a.mp4"}, pred_label=LabelData(label=torch.tensor([1])))
    with pytest.raises(KeyError, match=r"a\.mp4.*pred_label\.score"):
        ActionResultWriter("x.json").process(None, [sample])
    with pytest.raises(ValueError, match="topk"):
        ActionResultWriter("x.json", topk=0)


def test_action_record_ranks_best_first_lower_label_on_ties():
    scores = np.array([0.1, 0.3, 0.3, 0.2, 0.1], dtype=np.float32)
    record = action_record(scores, CLASSES[:5], topk=3)
    assert record == {
        "topk": [
            {"label": 1, "class": "move_right", "score": float(np.float32(0.3))},
            {"label": 2, "class": "rotate_clockwise", "score": float(np.float32(0.3))},
            {"label": 3, "class": "rotate_anticlockwise", "score": float(np.float32(0.2))},
        ]
    }
    assert [e["class"] for e in action_record(scores, None, topk=9)["topk"]] == ["1", "2", "3", "0", "4"]
    json.dumps(record)  # plain Python types only
    with pytest.raises(ValueError, match="topk must be >= 1"):
        action_record(scores, CLASSES, topk=0)


def test_timeline_record_one_entry_per_window():
    windows = [(0.0, 2.0, [0.7, 0.2, 0.1]), (1.0, 3.0, np.array([0.1, 0.1, 0.8]))]
    records = timeline_record(windows, ("a", "b", "c"), topk=2)
    assert [(r["start"], r["end"]) for r in records] == [(0.0, 2.0), (1.0, 3.0)]
    assert [[e["class"] for e in r["topk"]] for r in records] == [["a", "b"], ["c", "a"]]
    json.dumps(records)
    with pytest.raises(ValueError, match=r"window 0 ends \(1\.0 s\) before it starts \(2\.0 s\)"):
        timeline_record([(2.0, 1.0, [1.0])], None, 1)
    with pytest.raises(ValueError, match="window 0 must be"):
        timeline_record([(0.0, [1.0])], None, 1)
