"""Detection result files: the COCO JSONs CocoMetric writes during test, scored by evaluate_files, give
exactly the in-process numbers (JSON keeps every float64 coordinate and score exactly, and the same
COCOeval code runs on the same lists in the same order, so no tolerance is needed)."""

from __future__ import annotations

import copy
import json

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO

from visionstack.data.datasets.coco import CocoDataset
from visionstack.registry import METRICS, TRANSFORMS, build
from visionstack.structures import InstanceData
from visionstack.tasks.detection.metrics import CocoMetric
from visionstack.tasks.detection.results import evaluate_files, read_coco_results, result_files
from visionstack.tasks.detection.synthetic import write_synthetic_detection

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")

TEST_PIPELINE = [
    dict(type="LoadImage"),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]


@pytest.fixture(scope="module")
def synth(tmp_path_factory) -> tuple[str, list]:
    """The synthetic shapes (6 val images) and their packed samples with predictions: ground truth
    jittered (some labels wrong, some missed) plus false positives, with masks."""
    root = tmp_path_factory.mktemp("det")
    ann_file = write_synthetic_detection(root, num_train=1, num_val=6, image_size=(48, 96), seed=3)["val"][
        "ann_file"
    ]
    dataset = CocoDataset(
        ann_file=ann_file,
        data_prefix=dict(img=str(root / "val")),
        pipeline=[build(t, TRANSFORMS) for t in TEST_PIPELINE],
        test_mode=True,
    )
    coco = COCO(ann_file)
    rng = np.random.default_rng(0)
    samples = []
    for index in range(len(dataset)):
        sample = dataset[index]["data_samples"]
        height, width = sample.ori_shape
        anns = [a for a in coco.loadAnns(coco.getAnnIds(imgIds=sample.img_id)) if rng.random() > 0.15]
        boxes, labels, masks = [], [], []
        for ann in anns:
            x, y, w, h = ann["bbox"]
            boxes.append(np.array([x, y, x + w, y + h]) + rng.normal(0, 1.5, 4))
            labels.append(int(rng.integers(0, 5)) if rng.random() < 0.2 else ann["category_id"] - 1)
            masks.append(np.roll(coco.annToMask(ann).astype(bool), int(rng.integers(-2, 3)), axis=1))
        for _ in range(int(rng.integers(0, 3))):
            x, y = rng.uniform(0, width - 12), rng.uniform(0, height - 12)
            boxes.append(np.array([x, y, x + 10, y + 10]))
            labels.append(int(rng.integers(0, 5)))
            mask = np.zeros((height, width), bool)
            mask[int(y) : int(y) + 10, int(x) : int(x) + 10] = True
            masks.append(mask)
        sample.pred_instances = InstanceData(
            bboxes=torch.tensor(np.array(boxes), dtype=torch.float32).reshape(-1, 4),
            scores=torch.from_numpy(rng.uniform(0.05, 1.0, len(boxes))).float(),
            labels=torch.tensor(labels, dtype=torch.long),
            masks=torch.from_numpy(np.array(masks, dtype=bool).reshape(-1, height, width)),
        )
        samples.append(sample)
    return ann_file, samples, dataset.metainfo


def run_test(metric: CocoMetric, samples: list, meta: dict, batch_size: int = 4) -> dict:
    metric.dataset_meta = meta
    for start in range(0, len(samples), batch_size):
        metric.process(None, samples[start : start + batch_size])
    return metric.evaluate(len(samples))


def test_ann_file_results_score_the_same(synth, tmp_path):
    ann_file, samples, meta = synth
    cfg = dict(
        type="CocoMetric",
        ann_file=ann_file,
        metric=["bbox", "segm", "proposal"],
        classwise=True,
        proposal_nums=(1, 10, 100),
        outfile_prefix=str(tmp_path / "test"),
    )
    in_process = run_test(build(cfg, METRICS), samples, meta)
    assert sorted(p.name for p in tmp_path.iterdir()) == ["test.bbox.json", "test.segm.json"]
    offline = evaluate_files(ann_file, tmp_path / "test", metrics={**cfg, "ann_file": "elsewhere.json"})
    assert offline == in_process
    assert 0.1 < offline["coco/bbox_mAP"] < 0.95 and 0.05 < offline["coco/segm_mAP"] < 0.95
    assert "coco/bbox_AP_circle" in offline and "coco/AR@10" in offline
    assert not (tmp_path / "elsewhere.json").exists()


def test_without_ann_file_the_written_ground_truth_scores_the_same(synth, tmp_path):
    """A metric without ann_file builds the ground truth from the samples; it writes it as PREFIX.gt.json."""
    _, samples, meta = synth
    in_process = run_test(CocoMetric(metric=("bbox", "segm"), outfile_prefix=tmp_path / "run"), samples, meta)
    files = sorted(p.name for p in tmp_path.iterdir())
    assert files == ["run.bbox.json", "run.gt.json", "run.segm.json"]
    pred = [tmp_path / "run.bbox.json", tmp_path / "run.segm.json"]
    assert evaluate_files(tmp_path / "run.gt.json", pred) == in_process


def test_default_metric_follows_the_files_given(synth, tmp_path):
    ann_file, samples, meta = synth
    in_process = run_test(CocoMetric(ann_file=ann_file, outfile_prefix=tmp_path / "r"), samples, meta)
    assert evaluate_files(ann_file, tmp_path / "r.bbox.json") == in_process  # bbox only
    both = evaluate_files(ann_file, tmp_path / "r")  # the prefix finds the segm file too
    assert {k: v for k, v in both.items() if "bbox" in k} == in_process and any("segm" in k for k in both)


def test_class_subset_follows_the_dataset(synth, tmp_path):
    """A dataset restricted to some classes evaluates only them; classes= says so offline."""
    ann_file, samples, meta = synth
    classes = ("star", "circle")
    subset = {
        "classes": classes,
        "cat_ids": tuple(meta["cat_ids"][meta["classes"].index(c)] for c in classes),
    }
    kept = []
    for sample in samples:
        sample = copy.deepcopy(sample)
        pred = sample.pred_instances
        names = [meta["classes"][int(label)] for label in pred.labels]
        keep = torch.tensor([name in classes for name in names], dtype=torch.bool)
        new = pred[keep]
        new.labels = torch.tensor([classes.index(n) for n, k in zip(names, keep) if k], dtype=torch.long)
        sample.pred_instances = new
        kept.append(sample)
    in_process = run_test(CocoMetric(ann_file=ann_file, outfile_prefix=tmp_path / "s"), kept, subset)
    assert evaluate_files(ann_file, tmp_path / "s.bbox.json", classes=classes) == in_process
    with pytest.raises(ValueError, match=r"result \d+: category_id \d+ is not an evaluated category"):
        evaluate_files(ann_file, tmp_path / "s.bbox.json", classes=("star",))


# ---- errors name the file and the record ---------------------------------------------------------------
@pytest.fixture(scope="module")
def bbox_file(synth, tmp_path_factory) -> str:
    ann_file, samples, meta = synth
    prefix = tmp_path_factory.mktemp("written") / "r"
    run_test(CocoMetric(ann_file=ann_file, outfile_prefix=prefix), samples, meta)
    return f"{prefix}.bbox.json"


@pytest.mark.parametrize(
    ("edit", "message"),
    [
        (lambda r: "{oops", "is not valid JSON"),
        (lambda r: {"images": []}, "must be a JSON list"),
        (
            lambda r: r[:2] + [{**r[2], "bbox": [1, 2, 3]}],
            r"result 2: bbox \[1, 2, 3\] is not \[x, y, w, h\]",
        ),
        (
            lambda r: r[:1] + [{k: v for k, v in r[1].items() if k != "score"}],
            r"result 1: missing \['score'\]",
        ),
        (lambda r: r[:3] + [{**r[3], "image_id": 999}], "result 3: image_id 999 is not an image of"),
    ],
)
def test_malformed_results_are_named(synth, bbox_file, tmp_path, edit, message):
    ann_file = synth[0]
    results = json.loads(open(bbox_file).read())
    edited = edit(results)
    path = tmp_path / "bad.bbox.json"
    path.write_text(edited if isinstance(edited, str) else json.dumps(edited))
    with pytest.raises(ValueError, match=message) as error:
        evaluate_files(ann_file, path)
    assert "bad.bbox.json" in str(error.value)


def test_missing_files_and_kinds_are_named(synth, bbox_file, tmp_path):
    ann_file = synth[0]
    with pytest.raises(FileNotFoundError, match="neither a file nor a prefix"):
        evaluate_files(ann_file, tmp_path / "nothing")
    with pytest.raises(FileNotFoundError, match="annotation file not found"):
        evaluate_files(tmp_path / "gt.json", bbox_file)
    with pytest.raises(ValueError, match=r"needs \['segm'\] results"):
        evaluate_files(ann_file, bbox_file, metrics=dict(type="CocoMetric", metric=["bbox", "segm"]))
    with pytest.raises(ValueError, match="two bbox result files"):
        evaluate_files(ann_file, [bbox_file, bbox_file])
    with pytest.raises(ValueError, match="VOCMetric cannot read them"):
        evaluate_files(ann_file, bbox_file, metrics=[dict(type="VOCMetric")])


def test_result_files_and_kinds(bbox_file, tmp_path):
    prefix = bbox_file[: -len(".bbox.json")]
    assert [p.name for p in result_files(prefix)] == ["r.bbox.json", "r.segm.json"]
    assert read_coco_results(f"{prefix}.segm.json")[0] == "segm"
    empty = tmp_path / "e.segm.json"
    empty.write_text("[]")
    assert read_coco_results(empty) == ("segm", [])


def test_evaluate_results_needs_ann_file():
    with pytest.raises(ValueError, match="ann_file"):
        CocoMetric().evaluate_results([])
