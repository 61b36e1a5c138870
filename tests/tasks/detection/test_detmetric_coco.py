"""CocoMetric against pycocotools' COCOeval run directly on the same ground truth and predictions."""

from __future__ import annotations

import json
import logging

import numpy as np
import pytest
import torch
from pycocotools import mask as mask_utils
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from visionstack.registry import METRICS, build
from visionstack.structures import DataSample, InstanceData
from visionstack.tasks.detection.metrics.coco_format import dump_coco_results, encode_mask_rle, xyxy_to_xywh
from visionstack.tasks.detection.metrics.coco_metric import CocoMetric
from visionstack.utils import dist

# pycocotools 2.0 decodes with np.array(copy=False) semantics that numpy 2 warns about.
pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")

CAT_IDS = [3, 7, 12]  # non-contiguous, as COCO's own ids
CLASSES = ("cat", "traffic light", "zebra")
DETECTION_KEYS = ["mAP", "mAP_50", "mAP_75", "mAP_s", "mAP_m", "mAP_l"] + [
    "AR@1", "AR@10", "AR@100", "AR_s@100", "AR_m@100", "AR_l@100"
]  # fmt: skip


# ---- a synthetic COCO set ------------------------------------------------------------------------------
def _random_box(rng: np.random.Generator, height: int, width: int) -> list[float]:
    """An integer-cornered xyxy box of 4..min(h, w) - 1 pixels a side, inside the image."""
    w = int(rng.integers(4, width - 1))
    h = int(rng.integers(4, height - 1))
    x, y = int(rng.integers(0, width - w)), int(rng.integers(0, height - h))
    return [float(x), float(y), float(x + w), float(y + h)]


def _polygon_in(rng: np.random.Generator, box: list[float]) -> list[list[float]]:
    """A jittered ellipse polygon (12 points) inside ``box``."""
    x1, y1, x2, y2 = box
    angles = np.sort(rng.uniform(0, 2 * np.pi, 12))
    radius = rng.uniform(0.6, 1.0, 12)
    xs = (x1 + x2) / 2 + radius * np.cos(angles) * (x2 - x1) / 2
    ys = (y1 + y2) / 2 + radius * np.sin(angles) * (y2 - y1) / 2
    return [np.stack([xs, ys], axis=1).reshape(-1).round(2).tolist()]


def _blob_mask(rng: np.random.Generator, box: list[float], height: int, width: int) -> np.ndarray:
    """A random blob (thresholded noise) inside ``box``, never empty."""
    x1, y1, x2, y2 = (int(v) for v in box)
    mask = np.zeros((height, width), dtype=bool)
    mask[y1:y2, x1:x2] = rng.random((y2 - y1, x2 - x1)) < 0.7
    mask[(y1 + y2) // 2, (x1 + x2) // 2] = True
    return mask


def _segmentation(rng, kind: str, box: list[float], height: int, width: int):
    if kind == "polygon":
        return _polygon_in(rng, box)
    mask = _blob_mask(rng, box, height, width)
    if kind == "uncompressed":  # how COCO stores crowd regions: column-major run lengths, zeros first
        flat = mask.reshape(-1, order="F").astype(np.int8)
        boundaries = np.flatnonzero(np.diff(flat)) + 1
        runs = np.diff(np.concatenate([[0], boundaries, [flat.size]])).tolist()
        return {"size": [height, width], "counts": ([0] if flat[0] else []) + runs}
    rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
    return {"size": rle["size"], "counts": rle["counts"].decode("ascii")}


def make_coco_dataset(seed: int = 0, num_images: int = 20) -> dict:
    """Images 20..200 px; image 0 has no annotations; polygons, RLEs and crowd regions."""
    rng = np.random.default_rng(seed)
    images, annotations = [], []
    for image_index in range(num_images):
        img_id = 100 + 3 * image_index  # ids that are not 0..N-1
        height, width = (int(v) for v in rng.integers(20, 200, 2))
        images.append({"id": img_id, "height": height, "width": width, "file_name": f"{img_id}.jpg"})
        for _ in range(0 if image_index == 0 else int(rng.integers(1, 7))):
            crowd = int(rng.random() < 0.12)
            box = _random_box(rng, height, width)
            kind = "uncompressed" if crowd else str(rng.choice(["polygon", "rle"]))
            annotations.append({
                "id": len(annotations) + 1, "image_id": img_id, "category_id": int(rng.choice(CAT_IDS)),
                "bbox": [box[0], box[1], box[2] - box[0], box[3] - box[1]], "iscrowd": crowd,
                "segmentation": _segmentation(rng, kind, box, height, width),
            })  # fmt: skip
    dataset = {"images": images, "annotations": annotations,
               "categories": [{"id": i, "name": n} for i, n in zip(CAT_IDS, CLASSES)]}  # fmt: skip
    coco = _index(dataset)
    for ann in annotations:  # COCO's convention: area = the segmentation's pixel count
        ann["area"] = float(mask_utils.area(coco.annToRLE(ann)))
    return dataset


def _index(dataset: dict) -> COCO:
    coco = COCO()
    coco.dataset = json.loads(json.dumps(dataset))
    coco.createIndex()
    return coco


def make_samples(dataset: dict, seed: int = 1, with_masks: bool = True) -> list[DataSample]:
    """Predictions (perturbed ground truth + false positives) and gt_instances per image."""
    rng = np.random.default_rng(seed)
    coco = _index(dataset)
    samples = []
    for image in dataset["images"]:
        height, width = image["height"], image["width"]
        anns = coco.loadAnns(coco.getAnnIds(imgIds=image["id"]))
        boxes, scores, labels, masks = [], [], [], []
        for ann in anns:
            if ann["iscrowd"] or rng.random() < 0.2:
                continue
            x, y, w, h = ann["bbox"]
            jitter = rng.normal(0, 0.08, 4) * [w, h, w, h]
            boxes.append([x + jitter[0], y + jitter[1], x + w + jitter[2], y + h + jitter[3]])
            wrong = rng.random() < 0.15
            labels.append(int(rng.integers(0, 3)) if wrong else CAT_IDS.index(ann["category_id"]))
            scores.append(float(rng.uniform(0.3, 1.0)))
            masks.append(
                np.roll(coco.annToMask(ann).astype(bool), tuple(rng.integers(-2, 3, 2)), axis=(0, 1))
            )
        for _ in range(int(rng.integers(0, 4))):
            box = _random_box(rng, height, width)
            boxes.append(box)
            labels.append(int(rng.integers(0, 3)))
            scores.append(float(rng.uniform(0.0, 0.7)))
            masks.append(_blob_mask(rng, box, height, width))
        pred = InstanceData(
            bboxes=torch.tensor(boxes, dtype=torch.float64).reshape(-1, 4),
            scores=torch.tensor(scores, dtype=torch.float64),
            labels=torch.tensor(labels, dtype=torch.long),
        )
        if with_masks:
            pred.masks = torch.from_numpy(np.stack(masks) if masks else np.zeros((0, height, width), bool))
        sample = DataSample(metainfo={"img_id": image["id"], "ori_shape": (height, width)})
        sample.pred_instances = pred
        sample.gt_instances = _gt_instances([a for a in anns if not a["iscrowd"]], coco, height, width)
        sample.ignored_instances = _gt_instances([a for a in anns if a["iscrowd"]], coco, height, width)
        samples.append(sample)
    return samples


def _gt_instances(anns: list[dict], coco: COCO, height: int, width: int) -> InstanceData:
    boxes = [[x, y, x + w, y + h] for x, y, w, h in (a["bbox"] for a in anns)]
    masks = [coco.annToMask(a).astype(bool) for a in anns]
    return InstanceData(
        bboxes=torch.tensor(boxes, dtype=torch.float64).reshape(-1, 4),
        labels=torch.tensor([CAT_IDS.index(a["category_id"]) for a in anns], dtype=torch.long),
        masks=torch.from_numpy(np.stack(masks) if masks else np.zeros((0, height, width), bool)),
    )


def reference_results(samples: list[DataSample], iou_type: str) -> list[dict]:
    """The samples' predictions in COCO result format, written independently of the metric."""
    results = []
    for sample in samples:
        pred = sample.pred_instances
        for i in range(len(pred)):
            x1, y1, x2, y2 = pred.bboxes[i].tolist()
            result = {"image_id": sample.img_id, "category_id": CAT_IDS[int(pred.labels[i])],
                      "score": float(pred.scores[i])}  # fmt: skip
            if iou_type == "segm":
                rle = mask_utils.encode(np.asfortranarray(pred.masks[i].numpy().astype(np.uint8)))
                result["segmentation"] = {"size": rle["size"], "counts": rle["counts"].decode()}
            else:
                result["bbox"] = [x1, y1, x2 - x1, y2 - y1]
            results.append(result)
    return results


def reference_stats(dataset: dict, results: list[dict], iou_type: str, **params) -> COCOeval:
    gt = _index(dataset)
    coco_eval = COCOeval(gt, gt.loadRes(json.loads(json.dumps(results))), iou_type)
    for name, value in params.items():
        setattr(coco_eval.params, name, value)
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return coco_eval


@pytest.fixture(scope="module")
def coco_set(tmp_path_factory) -> tuple[dict, str, list[DataSample]]:
    dataset = make_coco_dataset()
    path = tmp_path_factory.mktemp("coco") / "instances.json"
    path.write_text(json.dumps(dataset))
    return dataset, str(path), make_samples(dataset)


@pytest.fixture(scope="module")
def reference(coco_set) -> dict[str, np.ndarray]:
    dataset, _, samples = coco_set
    return {t: reference_stats(dataset, reference_results(samples, t), t).stats for t in ("bbox", "segm")}


def run_metric(metric: CocoMetric, samples: list[DataSample], batch_size: int = 3) -> dict[str, float]:
    for start in range(0, len(samples), batch_size):
        metric.process(None, samples[start : start + batch_size])
    return metric.evaluate(len(samples))


def expected_keys(stats: np.ndarray, iou_type: str) -> dict[str, float]:
    return {f"coco/{iou_type}_{name}": float(value) for name, value in zip(DETECTION_KEYS, stats)}


# ---- equivalence with COCOeval --------------------------------------------------------------------------
def test_the_synthetic_set_covers_the_hard_cases(coco_set):
    dataset, _, samples = coco_set
    anns = dataset["annotations"]
    assert {a["image_id"] for a in anns} != {i["id"] for i in dataset["images"]}  # an image without anns
    assert any(a["iscrowd"] for a in anns) and any(isinstance(a["segmentation"], list) for a in anns)
    assert any(isinstance(a["segmentation"], dict) and not a["iscrowd"] for a in anns)
    assert sum(len(s.pred_instances) for s in samples) > 60


@pytest.mark.parametrize("backend", ["pycocotools", "faster_coco_eval"])
def test_ann_file_path_equals_cocoeval(coco_set, reference, backend):
    if backend == "faster_coco_eval":
        pytest.importorskip("faster_coco_eval")
    dataset, path, samples = coco_set
    metric = CocoMetric(ann_file=path, metric=("bbox", "segm"), backend=backend)
    values = run_metric(metric, samples)
    expected = {**expected_keys(reference["bbox"], "bbox"), **expected_keys(reference["segm"], "segm")}
    assert values.keys() == expected.keys()
    for key, value in expected.items():
        assert values[key] == pytest.approx(value, abs=1e-6), key
    assert 0.2 < values["coco/bbox_mAP"] < 0.9 and 0.05 < values["coco/segm_mAP"] < 0.9  # not degenerate


def test_ground_truth_from_samples_equals_ann_file(coco_set, reference):
    _, _, samples = coco_set
    metric = CocoMetric(metric=["bbox", "segm"])
    metric.dataset_meta = {"classes": CLASSES, "cat_ids": CAT_IDS}
    values = run_metric(metric, samples)
    expected = {**expected_keys(reference["bbox"], "bbox"), **expected_keys(reference["segm"], "segm")}
    assert values == pytest.approx(expected, abs=1e-6)


def test_ground_truth_from_samples_without_meta_uses_label_plus_one(coco_set, reference):
    """Without cat_ids the category of label k is k + 1; the numbers do not depend on the ids."""
    _, _, samples = coco_set
    values = run_metric(CocoMetric(metric="bbox"), samples)
    assert values == pytest.approx(expected_keys(reference["bbox"], "bbox"), abs=1e-6)


def test_two_simulated_ranks_equal_one_process(coco_set, reference, monkeypatch):
    _, path, samples = coco_set
    world_size = 2
    padded = samples + samples[: (-len(samples)) % world_size]
    ranks = [CocoMetric(ann_file=path, metric=("bbox", "segm")) for _ in range(world_size)]
    for rank, metric in enumerate(ranks):
        for sample in padded[rank::world_size]:
            metric.process(None, [sample])
    others = [list(metric.results) for metric in ranks[1:]]
    monkeypatch.setattr(dist, "all_gather_object", lambda obj: [obj] + others)
    values = ranks[0].evaluate(len(samples))
    expected = {**expected_keys(reference["bbox"], "bbox"), **expected_keys(reference["segm"], "segm")}
    assert values == pytest.approx(expected, abs=1e-6)


def test_proposal_recall_equals_class_agnostic_cocoeval(coco_set):
    dataset, path, samples = coco_set
    stats = reference_stats(
        dataset, reference_results(samples, "bbox"), "bbox", useCats=0, maxDets=[1, 2, 5]
    ).stats
    values = run_metric(CocoMetric(ann_file=path, metric="proposal", proposal_nums=(1, 2, 5)), samples)
    names = ["AR@1", "AR@2", "AR@5", "AR_s@5", "AR_m@5", "AR_l@5"]
    assert values == pytest.approx({f"coco/{n}": float(v) for n, v in zip(names, stats[6:])}, abs=1e-6)


def test_custom_iou_thresholds_drop_missing_keys(coco_set, reference):
    _, path, samples = coco_set
    values = run_metric(CocoMetric(ann_file=path, iou_thrs=[0.5]), samples)
    assert "coco/bbox_mAP_75" not in values
    assert values["coco/bbox_mAP"] == pytest.approx(values["coco/bbox_mAP_50"])
    assert values["coco/bbox_mAP_50"] == pytest.approx(reference["bbox"][1], abs=1e-6)


def test_classwise_keys_and_table(coco_set, caplog):
    dataset, path, samples = coco_set
    with caplog.at_level(logging.INFO, logger="visionstack"):
        values = run_metric(CocoMetric(ann_file=path, classwise=True), samples)
    coco_eval = reference_stats(dataset, reference_results(samples, "bbox"), "bbox")
    precision = coco_eval.eval["precision"]  # (T, R, K, A, M)
    for k, name in enumerate(CLASSES):
        per_class = precision[:, :, k, 0, -1]
        key = f"coco/bbox_AP_{name.replace(' ', '_')}"
        assert values[key] == pytest.approx(per_class[per_class > -1].mean(), abs=1e-6)
    per_class_mean = np.mean([values[f"coco/bbox_AP_{n.replace(' ', '_')}"] for n in CLASSES])
    assert per_class_mean == pytest.approx(values["coco/bbox_mAP"], abs=1e-6)  # every class has gt
    assert "traffic light" in caplog.text and "AP_50" in caplog.text


# ---- result files ---------------------------------------------------------------------------------------
def test_dump_coco_results_loads_with_loadres(coco_set, tmp_path):
    dataset, _, samples = coco_set
    paths = dump_coco_results(samples, tmp_path / "out" / "preds.json", cat_ids=CAT_IDS)
    assert paths == {
        "bbox": tmp_path / "out" / "preds.bbox.json",
        "segm": tmp_path / "out" / "preds.segm.json",
    }
    gt = _index(dataset)
    for iou_type, path in paths.items():
        loaded = gt.loadRes(str(path))
        assert len(loaded.getAnnIds()) == sum(len(s.pred_instances) for s in samples)
        expected = reference_results(samples, iou_type)
        written = json.loads(path.read_text())
        assert [r["category_id"] for r in written] == [r["category_id"] for r in expected]
        field = "segmentation" if iou_type == "segm" else "bbox"
        if iou_type == "bbox":
            np.testing.assert_allclose([r[field] for r in written], [r[field] for r in expected], atol=1e-9)
        else:
            assert [r[field] for r in written] == [r[field] for r in expected]


def test_format_only_writes_files_and_returns_nothing(coco_set, tmp_path):
    _, path, samples = coco_set
    prefix = tmp_path / "results"
    metric = CocoMetric(ann_file=path, metric=("bbox", "segm"), format_only=True, outfile_prefix=str(prefix))
    assert run_metric(metric, samples) == {}
    assert (tmp_path / "results.bbox.json").is_file() and (tmp_path / "results.segm.json").is_file()


def test_masks_are_encoded_as_fortran_rle_with_str_counts():
    masks = torch.zeros(2, 5, 7, dtype=torch.bool)
    masks[0, 1:3, 2:6] = True
    rles = encode_mask_rle(masks)
    assert all(isinstance(r["counts"], str) for r in rles)
    decoded = mask_utils.decode([{"size": r["size"], "counts": r["counts"].encode()} for r in rles])
    np.testing.assert_array_equal(decoded.transpose(2, 0, 1), masks.numpy())
    np.testing.assert_array_equal(xyxy_to_xywh(np.array([[1.0, 2.0, 4.0, 8.0]])), [[1.0, 2.0, 3.0, 6.0]])


# ---- edges and errors -----------------------------------------------------------------------------------
def test_built_from_registry_and_empty_predictions_give_zeros(coco_set):
    _, path, samples = coco_set
    metric = build({"type": "CocoMetric", "ann_file": path}, METRICS)
    empty = []
    for sample in samples:
        sample = sample.clone()
        sample.pred_instances = sample.pred_instances[
            torch.zeros(len(sample.pred_instances), dtype=torch.bool)
        ]
        empty.append(sample)
    with pytest.warns(UserWarning, match="no bbox predictions"):
        values = run_metric(metric, empty)
    assert values["coco/bbox_mAP"] == 0.0 and len(values) == 12


def test_errors_name_the_problem(coco_set, tmp_path):
    _, path, samples = coco_set
    with pytest.raises(FileNotFoundError, match="ann_file"):
        CocoMetric(ann_file=tmp_path / "missing.json")
    with pytest.raises(ValueError, match="metric must be"):
        CocoMetric(metric="keypoints")
    with pytest.raises(ValueError, match="outfile_prefix"):
        CocoMetric(format_only=True)
    metric = CocoMetric(ann_file=path, metric="segm")
    no_masks = make_samples(make_coco_dataset(num_images=2), with_masks=False)
    metric.process(None, no_masks)
    with pytest.raises(KeyError, match="needs pred_instances.masks"):
        metric.compute_metrics(metric.results)
    bare = DataSample(metainfo={"ori_shape": (10, 10)})
    with pytest.raises(KeyError, match="pred_instances"):
        CocoMetric().process(None, [bare])


def test_segm_from_samples_needs_ground_truth_masks(coco_set):
    _, _, samples = coco_set
    stripped = []
    for sample in samples[:3]:
        sample = sample.clone()
        sample.gt_instances = InstanceData(
            bboxes=sample.gt_instances.bboxes, labels=sample.gt_instances.labels
        )
        stripped.append(sample)
    metric = CocoMetric(metric="segm")
    metric.process(None, stripped)
    with pytest.raises(KeyError, match="needs gt_instances.masks"):
        metric.compute_metrics(metric.results)


def test_missing_img_id_becomes_the_dataset_index_without_ann_file(coco_set, reference):
    _, _, samples = coco_set
    anonymous = []
    for sample in samples:
        bare = DataSample(metainfo={"ori_shape": sample.ori_shape})
        for name in ("pred_instances", "gt_instances", "ignored_instances"):
            setattr(bare, name, getattr(sample, name))
        anonymous.append(bare)
    values = run_metric(CocoMetric(metric="bbox"), anonymous)
    assert values == pytest.approx(expected_keys(reference["bbox"], "bbox"), abs=1e-6)
    with pytest.raises(KeyError, match="img_id"):
        CocoMetric(ann_file=coco_set[1]).process(None, anonymous[:1])


def test_format_only_needs_no_ground_truth(coco_set, tmp_path):
    """A test-dev submission: predictions only, category ids from dataset_meta."""
    _, _, samples = coco_set
    predictions_only = []
    for sample in samples:
        bare = DataSample(metainfo={"img_id": sample.img_id, "ori_shape": sample.ori_shape})
        bare.pred_instances = sample.pred_instances
        predictions_only.append(bare)
    metric = CocoMetric(metric="bbox", format_only=True, outfile_prefix=tmp_path / "dev")
    metric.dataset_meta = {"classes": CLASSES, "cat_ids": CAT_IDS}
    assert run_metric(metric, predictions_only) == {}
    written = json.loads((tmp_path / "dev.bbox.json").read_text())
    assert [r["category_id"] for r in written] == [
        r["category_id"] for r in reference_results(samples, "bbox")
    ]
