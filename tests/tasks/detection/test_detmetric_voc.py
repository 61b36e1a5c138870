"""VOCMetric: hand-computed cases, a slow loop reference, difficult boxes, coordinates, ranks."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.registry import METRICS, build
from visionstack.structures import DataSample, InstanceData
from visionstack.tasks.detection.metrics.voc_metric import (
    VOCMetric,
    average_precision,
    match_detections,
    voc_average_precisions,
    voc_box_iou,
)
from visionstack.utils import dist


def sample(gt_boxes, gt_labels, det_boxes, det_scores, det_labels, difficult_boxes=(), difficult_labels=()):
    data = DataSample(metainfo={"img_id": 0, "ori_shape": (100, 100)})
    data.gt_instances = InstanceData(
        bboxes=torch.tensor(gt_boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(gt_labels, dtype=torch.long),
    )
    data.ignored_instances = InstanceData(
        bboxes=torch.tensor(difficult_boxes, dtype=torch.float32).reshape(-1, 4),
        labels=torch.tensor(difficult_labels, dtype=torch.long),
    )
    data.pred_instances = InstanceData(
        bboxes=torch.tensor(det_boxes, dtype=torch.float32).reshape(-1, 4),
        scores=torch.tensor(det_scores, dtype=torch.float32),
        labels=torch.tensor(det_labels, dtype=torch.long),
    )
    return data


# One class, 3 gts, 4 detections ranked TP, FP (nothing there), TP, FP (duplicate of the first):
# recall 1/3, 1/3, 2/3, 2/3; precision 1, 1/2, 2/3, 1/2.
GTS = [[0, 0, 9, 9], [20, 20, 29, 29], [40, 40, 49, 49]]
DETS = [[0, 0, 9, 9], [70, 70, 79, 79], [20, 20, 29, 29], [1, 1, 9, 9]]
SCORES = [0.9, 0.8, 0.7, 0.6]
AREA_AP = 1 / 3 * 1 + 1 / 3 * 2 / 3  # envelope 1 on [0, 1/3], 2/3 on [1/3, 2/3], nothing beyond
ELEVEN_POINT_AP = (4 * 1 + 3 * 2 / 3) / 11  # r = 0..0.3 -> 1; r = 0.4..0.6 -> 2/3; r >= 0.7 -> 0


def evaluate(metric: VOCMetric, samples: list[DataSample]) -> dict[str, float]:
    metric.process(None, samples)
    return metric.evaluate(len(samples))


@pytest.mark.parametrize(("eval_mode", "expected"), [("area", AREA_AP), ("11points", ELEVEN_POINT_AP)])
def test_hand_computed_precision_recall_points(eval_mode, expected):
    values = evaluate(VOCMetric(eval_mode=eval_mode), [sample(GTS, [0, 0, 0], DETS, SCORES, [0] * 4)])
    assert values == pytest.approx({"pascal_voc/AP50": expected, "pascal_voc/mAP": expected}, abs=1e-12)


def test_tp_fp_flags_and_average_precision_functions():
    tp, fp = match_detections(np.array(DETS), np.array(SCORES), np.array(GTS), np.zeros(3, bool))
    np.testing.assert_array_equal(tp, [1, 0, 1, 0])
    np.testing.assert_array_equal(fp, [0, 1, 0, 1])
    recalls, precisions = np.array([1, 1, 2, 2]) / 3, np.array([1, 1 / 2, 2 / 3, 1 / 2])
    assert average_precision(recalls, precisions, "area") == pytest.approx(AREA_AP, abs=1e-12)
    assert average_precision(recalls, precisions, "11points") == pytest.approx(ELEVEN_POINT_AP, abs=1e-12)
    # A recall of exactly 0.3 reaches the 0.3 point (np.arange's 0.30000000000000004 would miss it).
    assert average_precision(np.array([0.3]), np.array([1.0]), "11points") == pytest.approx(4 / 11)
    with pytest.raises(ValueError, match="mode must be"):
        average_precision(recalls, precisions, "101points")


def test_difficult_boxes_are_neither_true_nor_false_positives():
    difficult = [[60, 0, 69, 9]]
    # A confident detection of the difficult box and a duplicate on it change nothing ...
    dets = DETS + [[60, 0, 69, 9], [61, 0, 69, 9]]
    plain = sample(GTS, [0, 0, 0], dets, SCORES + [0.95, 0.85], [0] * 6, difficult, [0])
    values = evaluate(VOCMetric(), [plain])
    assert values["pascal_voc/AP50"] == pytest.approx(AREA_AP, abs=1e-12)
    # ... and a detection whose best overlap is the difficult box is ignored even if it also
    # overlaps a normal box a little (the devkit looks at the best-overlapping box only).
    tp, fp = match_detections(
        np.array([[55.0, 0, 69, 9]]),
        np.array([1.0]),
        np.array([[50.0, 0, 59, 9], [60.0, 0, 69, 9]]),
        np.array([False, True]),
    )
    assert tp.tolist() == [0] and fp.tolist() == [0]
    # ignore_flags inside gt_instances mean the same as ignored_instances
    flagged = sample(GTS + difficult, [0, 0, 0, 0], dets, SCORES + [0.95, 0.85], [0] * 6)
    flagged.gt_instances.ignore_flags = torch.tensor([False, False, False, True])
    assert evaluate(VOCMetric(), [flagged]) == pytest.approx(values)


def test_legacy_coordinates_add_one_pixel():
    # det 10x10 px and gt 10x5 px as inclusive pixel boxes: IoU 50/100 = 0.5 (a match);
    # as continuous boxes 9x9 and 9x4: IoU 36/81 < 0.5 (a miss).
    det, gt = np.array([[0.0, 0, 9, 9]]), np.array([[0.0, 0, 9, 4]])
    assert voc_box_iou(det, gt, 1.0)[0, 0] == pytest.approx(0.5)
    assert voc_box_iou(det, gt, 0.0)[0, 0] == pytest.approx(36 / 81)
    case = [sample(gt, [0], det, [1.0], [0])]
    assert evaluate(VOCMetric(), case)["pascal_voc/mAP"] == pytest.approx(1.0)
    assert evaluate(VOCMetric(use_legacy_coordinate=False), case)["pascal_voc/mAP"] == 0.0


# ---- a slow reference on random data ----------------------------------------------------------------
def reference_map(records, num_classes, iou_thr, mode, area_range=None, extra=1.0):
    """Straight loops: rank all detections of a class, match each to its best-overlapping box."""
    aps = []
    for label in range(num_classes):
        dets, gts, num_positive = [], {}, 0
        for image, record in enumerate(records):
            for box, score, det_label in zip(
                record["pred_bboxes"], record["pred_scores"], record["pred_labels"]
            ):
                if det_label == label:
                    dets.append((score, image, box))
            boxes = []
            for box, gt_label, ignored in zip(record["gt_bboxes"], record["gt_labels"], record["gt_ignored"]):
                if gt_label != label:
                    continue
                area = (box[2] - box[0] + extra) * (box[3] - box[1] + extra)
                ignored = ignored or (area_range is not None and not area_range[0] <= area < area_range[1])
                boxes.append([box, ignored, False])
                num_positive += not ignored
            gts[image] = boxes
        dets.sort(key=lambda d: -d[0])  # sorted() is stable: ties keep dataset order
        flags = []
        for _, image, box in dets:
            best, best_iou = None, -1.0
            for candidate in gts[image]:
                iou = slow_iou(box, candidate[0], extra)
                if iou > best_iou:
                    best, best_iou = candidate, iou
            area = (box[2] - box[0] + extra) * (box[3] - box[1] + extra)
            in_range = area_range is None or area_range[0] <= area < area_range[1]
            if best is not None and best_iou >= iou_thr:
                if best[1]:
                    continue
                flags.append("fp" if best[2] else "tp")
                best[2] = True
            elif in_range:
                flags.append("fp")
        if num_positive == 0:
            continue
        precisions = [flags[: k + 1].count("tp") / (k + 1) for k in range(len(flags))]
        recalls = [flags[: k + 1].count("tp") / num_positive for k in range(len(flags))]
        if mode == "area":  # each TP adds 1/npos of recall at the best precision from there on
            ap = sum(max(precisions[k:]) / num_positive for k in range(len(flags)) if flags[k] == "tp")
        else:
            ap = (
                sum(
                    max([p for p, r in zip(precisions, recalls) if r >= t / 10 - 1e-12], default=0.0)
                    for t in range(11)
                )
                / 11
            )
        aps.append(ap)
    return float(np.mean(aps)) if aps else 0.0


def slow_iou(a, b, extra):
    width = max(min(a[2], b[2]) - max(a[0], b[0]) + extra, 0.0)
    height = max(min(a[3], b[3]) - max(a[1], b[1]) + extra, 0.0)
    inter = width * height
    area_a = (a[2] - a[0] + extra) * (a[3] - a[1] + extra)
    area_b = (b[2] - b[0] + extra) * (b[3] - b[1] + extra)
    return inter / (area_a + area_b - inter)


def random_samples(seed: int, num_images: int = 15, num_classes: int = 3) -> list[DataSample]:
    rng = np.random.default_rng(seed)
    samples = []
    for _ in range(num_images):
        corners = rng.integers(0, 80, (int(rng.integers(0, 6)), 2))
        sizes = rng.integers(3, 40, corners.shape)
        gt = np.concatenate([corners, corners + sizes], axis=1).astype(float)
        gt_labels = rng.integers(0, num_classes, len(gt))
        difficult = rng.random(len(gt)) < 0.2
        jitter = rng.normal(0, 2.5, gt.shape)
        keep = rng.random(len(gt)) < 0.8
        fp_corners = rng.integers(0, 80, (int(rng.integers(0, 4)), 2))
        fp = np.concatenate([fp_corners, fp_corners + rng.integers(3, 40, fp_corners.shape)], axis=1)
        dets = np.concatenate([(gt + jitter)[keep], fp, (gt + jitter[::-1])[keep][:1]])  # + a duplicate
        labels = np.concatenate([gt_labels[keep], rng.integers(0, num_classes, len(fp)), gt_labels[keep][:1]])
        scores = np.round(rng.random(len(dets)), 2)  # rounded: ties happen
        samples.append(sample(gt[~difficult], gt_labels[~difficult], dets, scores, labels,
                              gt[difficult], gt_labels[difficult]))  # fmt: skip
    return samples


@pytest.mark.parametrize("seed", [0, 1, 2])
@pytest.mark.parametrize("eval_mode", ["area", "11points"])
@pytest.mark.parametrize("iou_thr", [0.5, 0.7])
def test_matches_slow_reference(seed, eval_mode, iou_thr):
    samples = random_samples(seed)
    metric = VOCMetric(iou_thrs=iou_thr, eval_mode=eval_mode)
    metric.process(None, samples)
    records = list(metric.results)
    reference = reference_map(records, 3, iou_thr, eval_mode)
    values = metric.evaluate(len(samples))
    assert values[f"pascal_voc/AP{round(iou_thr * 100)}"] == pytest.approx(reference, abs=1e-12)
    assert 0.1 < reference < 1.0


@pytest.mark.parametrize("use_legacy_coordinate", [True, False])
def test_scale_ranges_match_slow_reference(use_legacy_coordinate):
    samples = random_samples(5, num_images=25)
    ranges = [(0, 16), (16, 32), (32, 1e5)]
    metric = VOCMetric(scale_ranges=ranges, iou_thrs=[0.5, 0.75], use_legacy_coordinate=use_legacy_coordinate)
    metric.process(None, samples)
    records = list(metric.results)
    values = metric.evaluate(len(samples))
    extra = 1.0 if use_legacy_coordinate else 0.0
    for low, high in ranges:
        suffix = f"_{low:g}-{high:g}"
        aps = [reference_map(records, 3, thr, "area", (low**2, high**2), extra) for thr in (0.5, 0.75)]
        assert values[f"pascal_voc/AP50{suffix}"] == pytest.approx(aps[0], abs=1e-12)
        assert values[f"pascal_voc/AP75{suffix}"] == pytest.approx(aps[1], abs=1e-12)
        assert values[f"pascal_voc/mAP{suffix}"] == pytest.approx(np.mean(aps), abs=1e-12)
    assert len(values) == 9


def test_classes_without_ground_truth_are_left_out_of_the_mean():
    only_class_0 = sample(GTS, [0, 0, 0], DETS + [[5, 5, 30, 30]], SCORES + [0.99], [0] * 4 + [2])
    metric = VOCMetric()
    metric.dataset_meta = {"classes": ("a", "b", "c")}
    per_class = voc_average_precisions([_record(only_class_0)], 3)
    assert [c["num_gts"] for c in per_class] == [3, 0, 0] and per_class[2]["num_dets"] == 1
    assert evaluate(metric, [only_class_0])["pascal_voc/mAP"] == pytest.approx(AREA_AP)


def _record(data_sample):
    metric = VOCMetric()
    metric.process(None, [data_sample])
    return metric.results[0]


def test_two_simulated_ranks_equal_one_process(monkeypatch):
    samples = random_samples(3, num_images=11)
    single = evaluate(VOCMetric(iou_thrs=[0.5, 0.6]), samples)
    padded = samples + samples[:1]
    ranks = [VOCMetric(iou_thrs=[0.5, 0.6]) for _ in range(2)]
    for rank, metric in enumerate(ranks):
        metric.process(None, padded[rank::2])
    monkeypatch.setattr(dist, "all_gather_object", lambda obj: [obj, list(ranks[1].results)])
    assert ranks[0].evaluate(len(samples)) == pytest.approx(single, abs=1e-12)
    assert single["pascal_voc/mAP"] == pytest.approx(
        (single["pascal_voc/AP50"] + single["pascal_voc/AP60"]) / 2
    )


def test_registry_build_and_errors():
    assert isinstance(build({"type": "VOCMetric", "eval_mode": "11points"}, METRICS), VOCMetric)
    with pytest.raises(ValueError, match="eval_mode"):
        VOCMetric(eval_mode="101points")
    with pytest.raises(ValueError, match="iou_thrs"):
        VOCMetric(iou_thrs=[0.0])
    bare = DataSample(metainfo={"img_id": 1})
    bare.pred_instances = InstanceData(bboxes=torch.zeros(0, 4), scores=torch.zeros(0), labels=torch.zeros(0))
    with pytest.raises(KeyError, match="gt_instances"):
        VOCMetric().process(None, [bare])
