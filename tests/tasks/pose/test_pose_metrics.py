"""Pose metrics: OKS and OKS-NMS against pycocotools' computeOks and slow loops, CocoKeypointMetric against
COCOeval run by hand on the same results (crowds, people without labelled keypoints, images without
people) and the result-file round trip (PCK / AUC / EPE / NME: test_pose_keypoint_error.py)."""

from __future__ import annotations

import copy
import json
import math

import numpy as np
import pytest
import torch
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from visionstack.registry import METRICS, build
from visionstack.structures import DataSample, InstanceData
from visionstack.tasks.pose.metainfo import COCO_KEYPOINTS
from visionstack.tasks.pose.metrics import (
    CocoKeypointMetric,
    oks_iou,
    oks_nms,
    soft_oks_nms,
)
from visionstack.tasks.pose.results import (
    evaluate_files,
    keypoint_result_file,
    read_keypoint_results,
    write_keypoint_results,
)

pytestmark = pytest.mark.filterwarnings("ignore::DeprecationWarning:pycocotools")

SIGMAS = np.asarray(COCO_KEYPOINTS["sigmas"])
K = 17
KEYS = ["AP", "AP .5", "AP .75", "AP (M)", "AP (L)", "AR", "AR .5", "AR .75", "AR (M)", "AR (L)"]


# ---- a synthetic COCO keypoint set and top-down predictions on it --------------------------------------
def _person(rng, width: int, height: int, labelled: bool) -> tuple[list[float], np.ndarray, np.ndarray]:
    """A box (x, y, w, h) of small to large size, keypoints inside it and their labels (0 when unlabelled)."""
    w, h = rng.uniform(15, 220), rng.uniform(20, 230)
    x, y = rng.uniform(0, width - w), rng.uniform(0, height - h)
    points = np.stack([rng.uniform(x, x + w, K), rng.uniform(y, y + h, K)], axis=1)
    labels = rng.choice([0, 1, 2], K, p=[0.25, 0.15, 0.6]) if labelled else np.zeros(K, dtype=int)
    if labelled and not labels.any():
        labels[0] = 2
    return [x, y, w, h], np.where(labels[:, None] > 0, points, 0.0), labels


def _sample(img_id, ann_id, keypoints, scores, box_xywh, box_score, gt=None, bbox_scale=None) -> DataSample:
    x, y, w, h = box_xywh
    meta = dict(img_id=img_id, id=ann_id, category_id=1, ori_shape=(240, 320), img_path=f"{img_id}.jpg")
    meta.update(bbox=np.array([[x, y, x + w, y + h]]), bbox_score=np.array([box_score]), flip_indices=[])
    if bbox_scale is not None:  # what TopdownAffine packs: the (w, h) it cropped
        meta["input_scale"] = np.array(bbox_scale, dtype=np.float32)
    sample = DataSample(metainfo=meta)
    sample.pred_instances = InstanceData(
        keypoints=torch.tensor(keypoints[None], dtype=torch.float32),
        keypoint_scores=torch.tensor(scores[None], dtype=torch.float32),
    )
    if gt is None:  # a detection on nobody: no ground-truth person
        gt = dict(keypoints=np.zeros((0, K, 2)), keypoints_visible=np.zeros((0, K)), bboxes=np.zeros((0, 4)))
        gt["areas"] = np.zeros(0)
    sample.gt_instances = InstanceData(**{k: torch.as_tensor(v) for k, v in gt.items()})
    return sample


def synthetic_set(seed: int, crowds: bool = True, misses: bool = True) -> tuple[dict, list[DataSample]]:
    """A COCO keypoint dataset dict (9 images, 2 without people; crowds and people without labelled
    keypoints) and top-down samples: noisy poses of most people, near-duplicates that OKS-NMS removes,
    looser duplicates it keeps, and false positives."""
    rng = np.random.default_rng(seed)
    images, anns, samples = [], [], []
    extra_id = 10_000
    for img_id in range(1, 10):
        images.append(dict(id=img_id, width=320, height=240, file_name=f"{img_id}.jpg"))
        count = 0 if img_id in (4, 8) else int(rng.integers(1, 5))
        for _ in range(count):
            kind = rng.choice(["person"] * 6 + ["unlabelled"] + ["crowd"] * int(crowds))
            box, points, labels = _person(rng, 320, 240, kind == "person")
            area = box[2] * box[3] * rng.uniform(0.4, 0.7)
            ann_id = len(anns) + 1
            anns.append(
                dict(
                    id=ann_id, image_id=img_id, category_id=1, bbox=box, area=area, iscrowd=int(kind == "crowd"),
                    num_keypoints=int((labels > 0).sum()),
                    keypoints=np.column_stack([points, labels]).reshape(-1).tolist(),
                )
            )  # fmt: skip
            if kind == "crowd" or (misses and rng.random() < 0.15):
                continue
            x, y, w, h = box
            if kind == "unlabelled":  # anywhere around the box: some keypoints outside its 3x bounds
                pred = np.stack(
                    [rng.uniform(x - 1.5 * w, x + 2.5 * w, K), rng.uniform(y - 1.5 * h, y + 2.5 * h, K)], 1
                )
            else:
                truth = np.where(labels[:, None] > 0, points, rng.uniform([x, y], [x + w, y + h], (K, 2)))
                pred = truth + rng.normal(0, math.sqrt(area) * rng.uniform(0.01, 0.15), (K, 2))
            gt = dict(
                keypoints=points[None], keypoints_visible=(labels > 0)[None].astype(np.float32),
                bboxes=np.array([[x, y, x + w, y + h]]), areas=np.array([area]),
            )  # fmt: skip
            scale = [1.25 * w, 1.25 * h] if rng.random() < 0.5 else None
            samples.append(_sample(img_id, ann_id, pred, rng.random(K), box, rng.uniform(0.5, 1), gt, scale))
            for spread in (0.3, 8.0) if rng.random() < 0.4 else ():  # a near and a loose duplicate
                extra_id += 1
                twin = pred + rng.normal(0, spread, (K, 2))
                samples.append(_sample(img_id, extra_id, twin, rng.random(K), box, rng.uniform(0.5, 1)))
        for _ in range(
            1 if count == 0 else int(rng.integers(0, 2))
        ):  # false positives; always on empty images
            extra_id += 1
            box, _, _ = _person(rng, 320, 240, True)
            pred = rng.uniform(box[:2], np.add(box[:2], box[2:]), (K, 2))
            samples.append(_sample(img_id, extra_id, pred, rng.random(K), box, rng.uniform(0.1, 0.6)))
    category = dict(
        id=1, name="person", supercategory="person", keypoints=list(COCO_KEYPOINTS["keypoint_names"])
    )
    dataset = dict(images=images, annotations=anns, categories=[category])
    return dataset, samples


@pytest.fixture(scope="module")
def coco_set(tmp_path_factory) -> tuple[dict, list[DataSample], str]:
    dataset, samples = synthetic_set(seed=5)
    path = tmp_path_factory.mktemp("pose") / "person_keypoints.json"
    path.write_text(json.dumps(dataset))
    return dataset, samples, str(path)


def _coco(dataset: dict) -> COCO:
    coco = COCO()
    coco.dataset = copy.deepcopy(dataset)
    coco.createIndex()
    return coco


def cocoeval_by_hand(dataset: dict, results: list[dict], sigmas=SIGMAS) -> dict[str, float]:
    """pycocotools' COCOeval(iouType="keypoints") on the results, summarised as it prints them."""
    coco = _coco(dataset)
    coco_eval = COCOeval(coco, coco.loadRes(copy.deepcopy(results)), "keypoints")
    coco_eval.params.kpt_oks_sigmas = np.asarray(sigmas)
    coco_eval.evaluate()
    coco_eval.accumulate()
    coco_eval.summarize()
    return dict(zip(KEYS, coco_eval.stats))


def _run(metric: CocoKeypointMetric, samples: list, meta: dict | None = COCO_KEYPOINTS) -> dict[str, float]:
    metric.dataset_meta = meta
    metric.process({}, samples)
    return {key.split("/", 1)[1]: value for key, value in metric.evaluate(len(samples)).items()}


# ---- slow references -----------------------------------------------------------------------------------
def slow_pair_oks(a: np.ndarray, b: np.ndarray, area_a: float, area_b: float) -> float:
    """MMPose's OKS of OKS-NMS, keypoint by keypoint."""
    total = 0.0
    for k in range(K):
        distance2 = (a[k, 0] - b[k, 0]) ** 2 + (a[k, 1] - b[k, 1]) ** 2
        total += math.exp(-distance2 / (2 * SIGMAS[k]) ** 2 / ((area_a + area_b) / 2 + np.spacing(1)) / 2)
    return total / K


def slow_nms(keypoints, scores, areas, thr) -> list[int]:
    order = sorted(range(len(scores)), key=lambda i: -scores[i])
    keep = []
    while order:
        best = order.pop(0)
        keep.append(best)
        order = [
            i for i in order if slow_pair_oks(keypoints[best], keypoints[i], areas[best], areas[i]) <= thr
        ]
    return keep


def slow_soft_nms(keypoints, scores, areas, thr, max_dets) -> list[int]:
    live = {i: float(s) for i, s in enumerate(scores)}
    keep = []
    while live and len(keep) < max_dets:
        best = max(live, key=lambda i: live[i])
        del live[best]
        keep.append(best)
        for i in live:
            live[i] *= math.exp(
                -(slow_pair_oks(keypoints[best], keypoints[i], areas[best], areas[i]) ** 2) / thr
            )
    return keep


def reference_results(samples: list[DataSample], thr: float = 0.2, nms_thr: float = 0.9) -> list[dict]:
    """MMPose's CocoMetric pipeline with loops: group by image, sort by id, rescore, OKS-NMS, COCO results."""
    by_image: dict[int, list[DataSample]] = {}
    for sample in samples:
        by_image.setdefault(sample.img_id, []).append(sample)
    results = []
    for img_id, group in by_image.items():
        group = sorted(group, key=lambda s: s.id)
        points, scores, areas, rows = [], [], [], []
        for sample in group:
            keypoints = sample.pred_instances.keypoints[0].double().numpy()
            kpt_scores = sample.pred_instances.keypoint_scores[0].double().numpy()
            confident = [s for s in kpt_scores if s > thr]
            scores.append(
                float(sample.bbox_score[0]) * (sum(confident) / len(confident) if confident else 0.0)
            )
            if "input_scale" in sample:
                areas.append(float(np.prod(sample.input_scale)))
            else:
                span = keypoints.max(0) - keypoints.min(0)
                areas.append(float(span[0] * span[1]))
            x1, y1, x2, y2 = sample.bbox[0].tolist()
            points.append(keypoints)
            rows.append(
                (np.column_stack([keypoints, kpt_scores]).reshape(-1).tolist(), [x1, y1, x2 - x1, y2 - y1])
            )
        for i in slow_nms(points, scores, areas, nms_thr):
            row = dict(image_id=img_id, category_id=1, keypoints=rows[i][0], score=scores[i], bbox=rows[i][1])
            results.append(row)
    return results


# ---- OKS -------------------------------------------------------------------------------------------------
def test_oks_iou_of_one_keypoint_by_hand():
    # d = 2 px, sigma 0.1, area 100: e = 4 / (2 * 0.1)^2 / 100 / 2 = 0.5
    oks = oks_iou(np.array([[[2.0, 0.0]]]), np.zeros((1, 1, 2)), [100.0], [0.1])
    assert oks.shape == (1, 1)
    assert oks[0, 0] == pytest.approx(math.exp(-0.5), abs=1e-12)
    # an unlabelled keypoint does not count; one without any labelled keypoint needs a box
    two = oks_iou(np.array([[[2.0, 0.0], [50.0, 0.0]]]), np.zeros((1, 2, 2)), [100.0], [0.1, 0.1], [[1, 0]])
    assert two[0, 0] == pytest.approx(math.exp(-0.5), abs=1e-12)
    with pytest.raises(ValueError, match="ground truth 0 has no labelled keypoint; pass gt_bboxes"):
        oks_iou(np.zeros((1, 1, 2)), np.zeros((1, 1, 2)), [100.0], [0.1], [[0]])
    # no labelled keypoint: the distance outside the box enlarged to 3x (here x in [-10, 20]) counts
    boxed = oks_iou(
        np.array([[[25.0, 5.0], [5.0, 5.0]]]),
        np.zeros((1, 2, 2)),
        [100.0],
        [0.1, 0.1],
        [[0, 0]],
        [[0, 0, 10, 10]],
    )
    assert boxed[0, 0] == pytest.approx((math.exp(-25 / 0.04 / 100 / 2) + 1.0) / 2, abs=1e-12)


def test_oks_iou_equals_pycocotools_compute_oks(coco_set):
    dataset, samples, _ = coco_set
    results = reference_results(samples, nms_thr=2.0)  # nothing suppressed: every prediction is compared
    coco = _coco(dataset)
    coco_eval = COCOeval(coco, coco.loadRes(copy.deepcopy(results)), "keypoints")
    coco_eval.params.kpt_oks_sigmas = SIGMAS
    coco_eval._prepare()
    compared_unlabelled = compared_pairs = 0
    for img_id in coco.getImgIds():
        expected = coco_eval.computeOks(img_id, 1)
        gts, dts = coco_eval._gts[img_id, 1], coco_eval._dts[img_id, 1]
        if not len(expected):
            continue
        dts = [dts[i] for i in np.argsort([-d["score"] for d in dts], kind="mergesort")]
        gt_rows = np.array([g["keypoints"] for g in gts]).reshape(len(gts), K, 3)
        got = oks_iou(
            np.array([d["keypoints"] for d in dts]).reshape(len(dts), K, 3)[..., :2],
            gt_rows[..., :2],
            [g["area"] for g in gts],
            SIGMAS,
            gt_visible=gt_rows[..., 2],
            gt_bboxes=[g["bbox"] for g in gts],
        )
        np.testing.assert_allclose(got, expected, rtol=0, atol=1e-6)
        compared_pairs += got.size
        compared_unlabelled += int((gt_rows[..., 2] == 0).all(axis=1).sum())
    assert compared_pairs > 50 and compared_unlabelled >= 2  # the no-labelled-keypoint rule was exercised


def test_oks_iou_nms_form_equals_compute_oks_with_equal_areas():
    """MMPose's NMS OKS (every keypoint, mean area) is computeOks when both areas are the ground truth's."""
    rng = np.random.default_rng(1)
    gt_points = rng.uniform(0, 100, (3, K, 2))
    areas = rng.uniform(500, 5000, 3)
    dataset = dict(
        images=[dict(id=1)],
        categories=[dict(id=1, name="person")],
        annotations=[
            dict(id=i + 1, image_id=1, category_id=1, area=float(areas[i]), bbox=[0, 0, 100, 100], iscrowd=0,
                 num_keypoints=K, keypoints=np.column_stack([gt_points[i], np.full(K, 2)]).reshape(-1).tolist())
            for i in range(3)
        ],
    )  # fmt: skip
    coco = _coco(dataset)
    preds = gt_points[[0, 1, 2, 0]] + rng.normal(0, 6, (4, K, 2))
    results = [
        dict(image_id=1, category_id=1, score=1.0 - 0.1 * i, keypoints=np.column_stack([p, np.ones(K)]).reshape(-1).tolist())
        for i, p in enumerate(preds)
    ]  # fmt: skip
    coco_eval = COCOeval(coco, coco.loadRes(results), "keypoints")
    coco_eval.params.kpt_oks_sigmas = SIGMAS
    coco_eval._prepare()
    expected = coco_eval.computeOks(1, 1)
    for g in range(3):
        got = oks_iou(preds, gt_points[g][None], areas[g][None], SIGMAS, areas=np.full(4, areas[g]))
        np.testing.assert_allclose(got[:, 0], expected[:, g], rtol=0, atol=1e-6)


def _clusters(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """People in a few tight and loose clusters, as duplicate top-down detections give."""
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, 200, (4, K, 2))
    keypoints = np.concatenate(
        [centres[i % 4] + rng.normal(0, [0.5, 3, 10][i % 3], (K, 2))[None] for i in range(14)]
    )
    return keypoints, rng.random(14), rng.uniform(800, 3000, 14)


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_oks_nms_matches_a_slow_greedy_loop(seed):
    keypoints, scores, areas = _clusters(seed)
    keep = oks_nms(keypoints, scores, areas, SIGMAS, thr=0.9)
    assert keep.tolist() == slow_nms(keypoints, scores, areas, 0.9)
    assert 4 <= len(keep) < 14


@pytest.mark.parametrize("seed", [0, 1])
def test_soft_oks_nms_matches_a_slow_loop(seed):
    keypoints, scores, areas = _clusters(seed)
    for max_dets in (5, 20):
        keep = soft_oks_nms(keypoints, scores, areas, SIGMAS, thr=0.9, max_dets=max_dets)
        assert keep.tolist() == slow_soft_nms(keypoints, scores, areas, 0.9, max_dets)
    assert len(soft_oks_nms(keypoints, scores, areas, SIGMAS, max_dets=5)) == 5


def test_oks_nms_by_hand():
    base = np.random.default_rng(0).uniform(0, 100, (K, 2))
    keypoints = np.stack([base, base + 0.1, base + 500])
    scores, areas = np.array([0.9, 0.8, 0.7]), np.full(3, 2000.0)
    assert oks_nms(keypoints, scores, areas, SIGMAS).tolist() == [0, 2]
    assert oks_nms(keypoints, scores, areas, SIGMAS, thr=1.0).tolist() == [0, 1, 2]
    # soft: the twin decays to 0.8 * exp(-1 / 0.9) ~ 0.26, below the far person's 0.7
    assert soft_oks_nms(keypoints, scores, areas, SIGMAS, max_dets=2).tolist() == [0, 2]
    assert soft_oks_nms(keypoints, scores, areas, SIGMAS).tolist() == [0, 2, 1]
    assert oks_nms(np.zeros((0, K, 2)), [], [], SIGMAS).tolist() == []


# ---- CocoKeypointMetric ------------------------------------------------------------------------------------
def test_rescoring_by_hand(tmp_path):
    scores = np.array([0.1, 0.5, 0.9] + [0.0] * (K - 3))
    sample = _sample(1, 1, np.zeros((K, 2)), scores, [0, 0, 10, 10], 0.8)
    for mode, expected in (
        ("bbox_keypoint", 0.8 * 0.7),  # the mean of the scores above 0.2: (0.5 + 0.9) / 2
        ("bbox", 0.8),
        ("keypoint", 1.5 / K),
        ("bbox_rle", 0.8 + 1.5 / K + 0.9),
    ):
        prefix = tmp_path / mode
        metric = CocoKeypointMetric(
            score_mode=mode, sigmas=SIGMAS, format_only=True, outfile_prefix=str(prefix)
        )
        metric.process({}, [sample])
        assert metric.evaluate(1) == {}
        (result,) = read_keypoint_results(f"{prefix}.keypoints.json")
        assert result["score"] == pytest.approx(expected, abs=1e-6), mode


def test_metric_equals_cocoeval_by_hand_without_rescoring(coco_set):
    """score_mode='bbox', no NMS: the results are the samples' boxes' scores, as given."""
    dataset, samples, ann_file = coco_set
    values = _run(CocoKeypointMetric(ann_file=ann_file, score_mode="bbox", nms_mode="none"), samples)
    results = []
    for img_id in dict.fromkeys(s.img_id for s in samples):
        for sample in sorted((s for s in samples if s.img_id == img_id), key=lambda s: s.id):
            points = sample.pred_instances.keypoints[0].double().numpy()
            kpt_scores = sample.pred_instances.keypoint_scores[0].double().numpy()
            x1, y1, x2, y2 = sample.bbox[0].tolist()
            results.append(
                dict(image_id=img_id, category_id=1, score=float(sample.bbox_score[0]), bbox=[x1, y1, x2 - x1, y2 - y1],
                     keypoints=np.column_stack([points, kpt_scores]).reshape(-1).tolist())
            )  # fmt: skip
    expected = cocoeval_by_hand(dataset, results)
    assert values == pytest.approx(expected, abs=1e-6)
    assert 0 < values["AP"] < 1 and values["AP (M)"] > 0 and values["AP (L)"] > 0


def test_metric_equals_mmpose_pipeline_then_cocoeval(coco_set):
    """Default: bbox_keypoint rescoring and OKS-NMS (slow reference), then COCOeval by hand."""
    dataset, samples, ann_file = coco_set
    values = _run(CocoKeypointMetric(ann_file=ann_file), samples)
    reference = reference_results(samples)
    assert len(reference) < len(samples)  # NMS removed the near-duplicates
    assert values == pytest.approx(cocoeval_by_hand(dataset, reference), abs=1e-6)
    # crowds, people without labelled keypoints and images without people are all in the set
    anns = dataset["annotations"]
    assert any(a["iscrowd"] for a in anns) and any(a["num_keypoints"] == 0 and not a["iscrowd"] for a in anns)
    assert {4, 8} <= {s.img_id for s in samples} and not any(a["image_id"] in (4, 8) for a in anns)


def test_nms_area_from_bbox_scale_else_keypoint_extent(tmp_path):
    """Two poses 3 px apart: by their 10 x 10 px keypoint extent (area 100) the OKS is low and both stay;
    by a 200 x 200 crop scale (MMPose's bbox_scales) it is ~0.99 and the weaker one goes."""
    points = np.random.default_rng(0).uniform(0, 10, (K, 2))
    points[:2] = [[0, 0], [10, 10]]
    kept = []
    for scale in (None, [200.0, 200.0]):
        twins = [
            _sample(
                1, i + 1, points + 3.0 * i, np.full(K, 0.9 - 0.1 * i), [0, 0, 10, 10], 1.0, bbox_scale=scale
            )
            for i in range(2)
        ]
        metric = CocoKeypointMetric(
            sigmas=SIGMAS, format_only=True, outfile_prefix=str(tmp_path / str(scale))
        )
        metric.process({}, twins)
        metric.evaluate(2)
        kept.append(len(read_keypoint_results(tmp_path / f"{scale}.keypoints.json")))
    assert kept == [2, 1]


def test_repeated_samples_are_counted_once(coco_set):
    _, samples, ann_file = coco_set
    once = _run(CocoKeypointMetric(ann_file=ann_file, nms_mode="none"), samples)  # NMS would hide repeats
    assert _run(CocoKeypointMetric(ann_file=ann_file, nms_mode="none"), samples[::-1] + samples[:7]) == once


def test_ground_truth_built_from_samples_equals_the_annotation_file(tmp_path):
    dataset, samples = synthetic_set(seed=11, crowds=False, misses=False)
    path = tmp_path / "gt.json"
    path.write_text(json.dumps(dataset))
    from_file = _run(CocoKeypointMetric(ann_file=str(path)), samples)
    built = _run(CocoKeypointMetric(outfile_prefix=str(tmp_path / "run")), samples)
    assert built == pytest.approx(from_file, abs=1e-12)
    assert built == pytest.approx(cocoeval_by_hand(dataset, reference_results(samples)), abs=1e-6)
    written = json.loads((tmp_path / "run.gt.json").read_text())
    assert len(written["images"]) == 9 and len(written["annotations"]) == len(dataset["annotations"])


def test_faster_coco_eval_backend_gives_the_same_numbers(coco_set):
    pytest.importorskip("faster_coco_eval")
    _, samples, ann_file = coco_set
    slow = _run(CocoKeypointMetric(ann_file=ann_file), samples)
    fast = _run(CocoKeypointMetric(ann_file=ann_file, backend="faster_coco_eval"), samples)
    assert fast == pytest.approx(slow, abs=1e-9)


def test_use_area_false_scales_by_053_box_area(coco_set, tmp_path):
    """xtcocotools' rule: OKS scale and area ranges from 0.53 x the box area."""
    dataset, samples, ann_file = coco_set
    rescaled = copy.deepcopy(dataset)
    for ann in rescaled["annotations"]:
        ann["area"] = ann["bbox"][2] * ann["bbox"][3] * 0.53
    path = tmp_path / "rescaled.json"
    path.write_text(json.dumps(rescaled))
    without_area = _run(CocoKeypointMetric(ann_file=ann_file, use_area=False), samples)
    assert without_area == pytest.approx(_run(CocoKeypointMetric(ann_file=str(path)), samples), abs=1e-12)
    assert without_area != _run(CocoKeypointMetric(ann_file=ann_file), samples)


def test_soft_nms_and_no_nms_modes(coco_set):
    dataset, samples, ann_file = coco_set
    none = _run(CocoKeypointMetric(ann_file=ann_file, nms_mode="none"), samples)
    soft = _run(CocoKeypointMetric(ann_file=ann_file, nms_mode="soft_oks_nms"), samples)
    no_nms_reference = reference_results(samples, nms_thr=2.0)
    assert none == pytest.approx(cocoeval_by_hand(dataset, no_nms_reference), abs=1e-6)
    # soft-NMS only ranks and caps at 20 per image, keeping the original scores (MMPose): with fewer
    # than 20 people per image it keeps every instance, so the numbers are those without NMS
    assert soft == pytest.approx(none, abs=1e-12)


def test_no_predictions_score_zero(coco_set):
    _, _, ann_file = coco_set
    metric = CocoKeypointMetric(ann_file=ann_file, sigmas=SIGMAS)
    values = metric.evaluate_results([])
    assert all(values[key] == 0 for key in KEYS)


def test_registered_and_built_from_config(coco_set):
    _, samples, ann_file = coco_set
    metric = build(dict(type="CocoKeypointMetric", ann_file=ann_file, nms_thr=0.8), METRICS)
    assert isinstance(metric, CocoKeypointMetric) and metric.nms_thr == 0.8
    for name in ("PCKAccuracy", "AUC", "EPE", "NME"):
        assert name in METRICS


def test_format_only_writes_results_and_returns_nothing(coco_set, tmp_path):
    _, samples, _ = coco_set
    metric = CocoKeypointMetric(format_only=True, outfile_prefix=str(tmp_path / "dev"))
    assert _run(metric, samples) == {}
    results, reference = read_keypoint_results(tmp_path / "dev.keypoints.json"), reference_results(samples)
    assert [(r["image_id"], r["bbox"]) for r in results] == [(r["image_id"], r["bbox"]) for r in reference]
    np.testing.assert_allclose([r["score"] for r in results], [r["score"] for r in reference], atol=1e-12)
    np.testing.assert_allclose(
        [r["keypoints"] for r in results], [r["keypoints"] for r in reference], atol=1e-12
    )
    assert not (tmp_path / "dev.gt.json").exists()


# ---- result files ------------------------------------------------------------------------------------------
def test_round_trip_metric_file_evaluate_files(coco_set, tmp_path):
    dataset, samples, ann_file = coco_set
    in_process = _run(CocoKeypointMetric(ann_file=ann_file, outfile_prefix=str(tmp_path / "val")), samples)
    offline = evaluate_files(ann_file, tmp_path / "val", sigmas=SIGMAS)
    assert offline == {f"coco/{key}": value for key, value in in_process.items()}
    # the built ground truth and a config with use_area=False and another prefix
    built = _run(CocoKeypointMetric(use_area=False, outfile_prefix=str(tmp_path / "b"), prefix="kp"), samples)
    config = [
        dict(type="CocoKeypointMetric", use_area=False, prefix="kp", outfile_prefix="ignored"),
        dict(type="EPE"),
    ]
    offline = evaluate_files(tmp_path / "b.gt.json", tmp_path / "b.keypoints.json", metrics=config)
    assert offline == {f"kp/{key}": value for key, value in built.items()}  # 17 keypoints: COCO's sigmas


def test_evaluate_files_errors_name_the_file_and_record(coco_set, tmp_path):
    _, _, ann_file = coco_set
    good = dict(image_id=1, category_id=1, keypoints=[1.0, 2.0, 0.5] * K, score=0.9)
    write_keypoint_results([good, {**good, "image_id": 999}], tmp_path / "bad")
    with pytest.raises(ValueError, match=r"bad.keypoints.json.*result 1: image_id 999 is not an image"):
        evaluate_files(ann_file, tmp_path / "bad")
    write_keypoint_results([good, {**good, "category_id": 5}], tmp_path / "cat")
    with pytest.raises(ValueError, match="result 1: category_id 5 is not an evaluated category"):
        evaluate_files(ann_file, tmp_path / "cat")
    (tmp_path / "short.keypoints.json").write_text(json.dumps([good, {**good, "keypoints": [1, 2, 3]}]))
    with pytest.raises(ValueError, match="result 1: 1 keypoints, but result 0 has 17"):
        read_keypoint_results(tmp_path / "short.keypoints.json")
    (tmp_path / "noscore.json").write_text(json.dumps([{k: v for k, v in good.items() if k != "score"}]))
    with pytest.raises(ValueError, match=r"result 0: missing \['score'\]"):
        read_keypoint_results(tmp_path / "noscore.json")
    with pytest.raises(FileNotFoundError, match="neither a file nor a prefix"):
        keypoint_result_file(tmp_path / "absent")
    write_keypoint_results([{**good, "keypoints": [1.0, 2.0, 0.5] * 5}], tmp_path / "five")
    with pytest.raises(ValueError, match="17 sigmas for 5 keypoints"):
        evaluate_files(ann_file, tmp_path / "five", sigmas=SIGMAS)
    with pytest.raises(ValueError, match="needs the per-keypoint OKS sigmas"):
        evaluate_files(ann_file, tmp_path / "five")


def test_metric_errors_name_the_missing_field(coco_set, tmp_path):
    _, samples, ann_file = coco_set
    sample = samples[0].clone()
    del sample.pred_instances.keypoint_scores
    with pytest.raises(KeyError, match=r"data_samples\[0\].pred_instances has no keypoint_scores"):
        CocoKeypointMetric(ann_file=ann_file).process({}, [sample])
    no_id = DataSample(metainfo=dict(id=1))
    with pytest.raises(KeyError, match=r"data_samples\[0\] has no img_id"):
        CocoKeypointMetric(ann_file=ann_file).process({}, [no_id])
    no_area = samples[0].clone()
    del no_area.gt_instances.areas
    with pytest.raises(KeyError, match="gt_instances has no areas; use_area=True"):
        CocoKeypointMetric().process({}, [no_area])
    with pytest.raises(ValueError, match="needs the per-keypoint OKS sigmas"):
        _run(CocoKeypointMetric(ann_file=ann_file), samples[:3], meta={})
    with pytest.raises(ValueError, match="5 sigmas for 17 keypoints"):
        _run(CocoKeypointMetric(ann_file=ann_file, sigmas=[0.1] * 5), samples[:3])
    with pytest.raises(ValueError, match="score_mode must be one of"):
        CocoKeypointMetric(score_mode="oks")
    dataset = json.loads(open(ann_file).read())
    del dataset["annotations"][0]["area"]
    (tmp_path / "noarea.json").write_text(json.dumps(dataset))
    with pytest.raises(KeyError, match="annotation 1 of .*noarea.json' has no area; set use_area=False"):
        CocoKeypointMetric(ann_file=str(tmp_path / "noarea.json"))
