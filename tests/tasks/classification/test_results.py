"""Classification result files: what ClsResultWriter writes during test, scored by evaluate_files, gives
exactly the in-process metrics (the JSON holds each float32 score as an exact float64, so the scores
rebuilt from it are bit-identical and no tolerance is needed)."""

from __future__ import annotations

import json
import os

import numpy as np
import pytest
import torch

from visionstack.evaluation import Evaluator
from visionstack.registry import METRICS, TRANSFORMS, build
from visionstack.structures import LabelData
from visionstack.tasks.classification.datasets import ImageFolder
from visionstack.tasks.classification.records import classification_record
from visionstack.tasks.classification.results import ClsResultWriter, evaluate_files

CLASSES = ("ant", "bee", "cat", "dog", "eel", "fox", "gnu")
METRIC_CFGS = [
    dict(type="Accuracy", topk=(1, 3, 5), thrs=(None, 0.2)),
    dict(type="SingleLabelMetric", items=("precision", "recall", "f1-score", "support")),
    dict(type="ConfusionMatrix"),
]


@pytest.fixture(scope="module")
def image_folder(tmp_path_factory) -> str:
    """``root/<class>/<k>.png``: 7 classes, 3-5 tiny images each (nested one level for one class)."""
    import cv2

    root = tmp_path_factory.mktemp("cls") / "val"
    rng = np.random.default_rng(0)
    for label, name in enumerate(CLASSES):
        folder = root / name / ("nested" if name == "eel" else "")
        folder.mkdir(parents=True, exist_ok=True)
        for k in range(3 + label % 3):
            cv2.imwrite(str(folder / f"{k}.png"), rng.integers(0, 256, (8, 8, 3), dtype=np.uint8))
    return str(root)


def predicted_samples(root: str, seed: int = 1) -> list:
    """The dataset's packed samples with random softmax predictions (float32, as a head gives them)."""
    dataset = ImageFolder(
        data_root=root,
        pipeline=[build(dict(type=t), TRANSFORMS) for t in ("LoadImage", "PackInputs")],
        test_mode=True,
    )
    rng = np.random.default_rng(seed)
    samples = []
    for index in range(len(dataset)):
        sample = dataset[index]["data_samples"]
        scores = torch.softmax(torch.from_numpy(rng.normal(size=len(CLASSES)) * 2), dim=0).float()
        sample.pred_label = LabelData(label=scores.argmax().reshape(1), score=scores)
        samples.append(sample)
    return samples


def run_test(samples: list, metric_cfgs: list, batch_size: int = 4) -> dict:
    """What the test loop does: dataset_meta, process batch by batch, evaluate."""
    evaluator = Evaluator([build(cfg, METRICS) for cfg in metric_cfgs])
    evaluator.dataset_meta = {"classes": CLASSES}
    for start in range(0, len(samples), batch_size):
        batch = samples[start : start + batch_size]
        evaluator.process({"inputs": [], "data_samples": batch}, batch)
    return evaluator.evaluate(len(samples))


def assert_same(offline: dict, in_process: dict) -> None:
    assert offline.keys() == in_process.keys()
    for key, value in in_process.items():
        if isinstance(value, torch.Tensor):
            assert torch.equal(offline[key], value), key
        else:
            assert offline[key] == value, key


@pytest.fixture(scope="module")
def written(image_folder, tmp_path_factory) -> tuple[list, dict, str]:
    samples = predicted_samples(image_folder)
    out_file = str(tmp_path_factory.mktemp("out") / "results.cls.json")
    in_process = run_test(samples, [*METRIC_CFGS, dict(type="ClsResultWriter", out_file=out_file, topk=5)])
    return samples, in_process, out_file


def test_writer_writes_infer_records_and_no_metric(written, image_folder):
    samples, in_process, out_file = written
    records = json.loads(open(out_file).read())
    assert not any(key.startswith("cls_results") for key in in_process)
    assert [r["img_path"] for r in records] == [s.img_path for s in samples]
    expected = classification_record(samples[0].pred_label.score.numpy(), CLASSES, 5)
    assert records[0] == {"img_path": samples[0].img_path, **expected}
    assert len(records[0]["topk"]) == 5 and records[0]["topk"][0]["class"] in CLASSES


def test_image_folder_scores_equal_the_in_process_metrics(written, image_folder):
    _, in_process, out_file = written
    writer = dict(type="ClsResultWriter", out_file="ignored.json")
    offline = evaluate_files(image_folder, out_file, metrics=[*METRIC_CFGS, writer])
    assert_same(offline, in_process)
    assert 0 < offline["accuracy/top1_no-thr"] < offline["accuracy/top5_no-thr"] < 100  # not degenerate
    assert not os.path.exists("ignored.json")


def test_image_list_and_relative_prediction_paths(written, image_folder, tmp_path):
    """An image list with paths relative to the data root; predictions with relative paths too."""
    samples, in_process, out_file = written
    lines = [f"{os.path.relpath(s.img_path, image_folder)} {int(s.gt_label.label)}" for s in samples]
    list_file = tmp_path / "val.txt"
    list_file.write_text("# path label\n" + "\n".join(lines) + "\n")
    records = json.loads(open(out_file).read())
    for record in records:  # as if inferred from another working directory
        record["img_path"] = os.path.join("val", os.path.relpath(record["img_path"], image_folder))
    pred = tmp_path / "predictions.json"
    pred.write_text(json.dumps(records[::-1]))  # order does not matter
    offline = evaluate_files(list_file, pred, metrics=METRIC_CFGS, classes=CLASSES)
    assert_same(offline, in_process)


def test_default_metric_is_top1_top5_accuracy(written, image_folder):
    _, in_process, out_file = written
    offline = evaluate_files(image_folder, out_file)
    assert offline == {
        "accuracy/top1": in_process["accuracy/top1_no-thr"],
        "accuracy/top5": in_process["accuracy/top5_no-thr"],
    }


def test_writer_registered_and_needs_scores():
    assert METRICS.get("ClsResultWriter") is ClsResultWriter
    writer = ClsResultWriter("x.json")
    from visionstack.structures import DataSample

    sample = DataSample(metainfo={"img_path": "a.png"}, pred_label=LabelData(label=torch.tensor([1])))
    with pytest.raises(KeyError, match=r"a\.png.*pred_label\.score"):
        writer.process(None, [sample])
    with pytest.raises(ValueError, match="topk"):
        ClsResultWriter("x.json", topk=0)


# ---- errors name the file and the record ---------------------------------------------------------------
def _rewrite(out_file: str, tmp_path, edit) -> str:
    records = json.loads(open(out_file).read())
    edited = edit(records)
    path = tmp_path / "edited.json"
    path.write_text(edited if isinstance(edited, str) else json.dumps(edited))
    return str(path)


def test_missing_image_is_named(written, image_folder, tmp_path):
    _, _, out_file = written
    records = json.loads(open(out_file).read())
    dropped = os.path.relpath(records[2]["img_path"], image_folder)
    pred = _rewrite(out_file, tmp_path, lambda r: r[:2] + r[3:])
    with pytest.raises(ValueError, match=rf"no prediction for 1 image\(s\).*{dropped}"):
        evaluate_files(image_folder, pred)


def test_prediction_of_unknown_image_is_named(written, image_folder, tmp_path):
    _, _, out_file = written
    pred = _rewrite(out_file, tmp_path, lambda r: r + [{**r[0], "img_path": "elsewhere/zebra/1.png"}])
    with pytest.raises(
        ValueError, match=r"record \d+: 'elsewhere/zebra/1\.png' is not an image of the ground truth"
    ):
        evaluate_files(image_folder, pred)


def test_two_predictions_of_one_image(written, image_folder, tmp_path):
    _, _, out_file = written
    pred = _rewrite(out_file, tmp_path, lambda r: r + [r[1]])
    with pytest.raises(ValueError, match="records 1 and .* are both predictions for 'ant/1.png'"):
        evaluate_files(image_folder, pred)


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: "[{not json", "is not valid JSON"),
        (lambda r: {"a": 1}, "must be a JSON list"),
        (lambda r: r[:3] + [{"topk": []}], r"record 3: no `img_path`"),
        (lambda r: r[:1] + [{**r[1], "topk": [{"label": "x", "score": 1}]}], r"record 1: .*needs `label`"),
    ],
)
def test_malformed_file_is_named(written, image_folder, tmp_path, edit, message):
    _, _, out_file = written
    pred = _rewrite(out_file, tmp_path, edit)
    with pytest.raises(ValueError, match=message) as error:
        evaluate_files(image_folder, pred)
    assert "edited.json" in str(error.value)


def test_too_few_ranked_classes_for_topk(written, image_folder, tmp_path):
    samples, _, _ = written
    out_file = tmp_path / "top2.json"
    run_test(samples, [dict(type="ClsResultWriter", out_file=str(out_file), topk=2)])
    with pytest.raises(ValueError, match="ranks 2 classes per image, too few for Accuracy top5"):
        evaluate_files(image_folder, out_file, metrics=dict(type="Accuracy", topk=(1, 5)))
    assert evaluate_files(image_folder, out_file, metrics=dict(type="Accuracy", topk=(1, 2)))


def test_class_order_mismatch_is_named(written, image_folder):
    _, _, out_file = written
    with pytest.raises(
        ValueError, match="in the predictions but .* in the ground truth; the class orders differ"
    ):
        evaluate_files(image_folder, out_file, classes=CLASSES[::-1])


def test_bad_image_list_line_is_named(written, tmp_path):
    _, _, out_file = written
    list_file = tmp_path / "bad.txt"
    list_file.write_text("ant/0.png 0\nant/1.png zero\n")
    with pytest.raises(ValueError, match=r"bad\.txt', line 2: the label 'zero' is not an integer"):
        evaluate_files(list_file, out_file)
