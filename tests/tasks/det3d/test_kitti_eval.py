"""KITTI AP: hand-computed cases, the ignore rules, DontCare, AP11 vs AP40, LiDAR-only mode."""

from __future__ import annotations

import numpy as np
import pytest

from visionstack.tasks.det3d import kitti_eval as ke
from visionstack.tasks.det3d.kitti_eval import (
    ap_from_precision,
    camera_boxes_as_lidar,
    image_box_overlap,
    kitti_eval,
    score_thresholds,
)


def make_anno(objects, scores=None):
    """objects: list of (name, x, z, bbox_height_px, occluded, truncated); cars 4 x 1.5 x 1.6 m, ry 0."""
    n = len(objects)
    anno = {
        "name": np.array([o[0] for o in objects], dtype=object),
        "truncated": np.array([o[5] for o in objects], dtype=np.float64),
        "occluded": np.array([o[4] for o in objects], dtype=np.int64),
        "alpha": np.zeros(n),
        # 2D boxes laid out along the image from the x position (disjoint for x 10 m apart).
        "bbox": np.array(
            [[o[1] * 10 + 300, 100, o[1] * 10 + 340, 100 + o[3]] for o in objects], dtype=np.float64
        ).reshape(-1, 4),
        "dimensions": np.tile([4.0, 1.5, 1.6], (n, 1)).reshape(-1, 3),
        "location": np.array([[o[1], 1.7, o[2]] for o in objects], dtype=np.float64).reshape(-1, 3),
        "rotation_y": np.zeros(n),
        "num_points_in_gt": np.full(n, 100),
    }
    if scores is not None:
        anno["score"] = np.asarray(scores, dtype=np.float64)
    return anno


EASY = 50  # px, > 40


def test_image_box_overlap_criteria():
    a = np.array([[0, 0, 10, 10]])
    b = np.array([[5, 0, 15, 10], [20, 20, 30, 30]])
    np.testing.assert_allclose(image_box_overlap(a, b), [[50 / 150, 0]])
    np.testing.assert_allclose(image_box_overlap(a, b, 0), [[0.5, 0]])
    wide = np.array([[0, 0, 20, 10]])  # contains b[0]: over b's area 1, over its own 0.5
    np.testing.assert_allclose(image_box_overlap(wide, b, 1), [[1.0, 0]])
    np.testing.assert_allclose(image_box_overlap(wide, b, 0), [[0.5, 0]])


def test_camera_boxes_as_lidar_hand_case():
    anno = {
        "location": np.array([[1.0, 1.7, 20.0]]),
        "dimensions": np.array([[4.0, 1.5, 1.6]]),
        "rotation_y": np.array([0.5]),
    }
    box = camera_boxes_as_lidar(anno)[0]
    np.testing.assert_allclose(box, [1.0, 20.0, -1.7, 4.0, 1.6, 1.5, -0.5])
    # The camera heading (cos ry, 0, -sin ry) becomes (cos(-ry), sin(-ry), 0) at (x, z, -y).


def test_camera_bev_and_3d_iou_equal_shapely_on_camera_corners():
    from shapely.geometry import MultiPoint

    from visionstack.tasks.det3d.boxes import camera_box_corners

    rng = np.random.default_rng(1)
    n = 6
    anno = {
        "name": np.array(["Car"] * n),
        "location": np.stack([rng.uniform(-2, 2, n), rng.uniform(1.4, 2.0, n), rng.uniform(19, 23, n)], 1),
        "dimensions": np.stack([rng.uniform(3, 5, n), rng.uniform(1.3, 1.8, n), rng.uniform(1.4, 2, n)], 1),
        "rotation_y": rng.uniform(-np.pi, np.pi, n),
    }
    corners = camera_box_corners(
        np.concatenate([anno["location"], anno["dimensions"], anno["rotation_y"][:, None]], 1)
    )
    footprints = [MultiPoint([(c[0], c[2]) for c in box]).convex_hull for box in corners]
    bev = ke._overlaps(anno, anno, "bev", False)
    iou3d = ke._overlaps(anno, anno, "3d", False)
    for i in range(n):
        for j in range(n):
            inter = footprints[i].intersection(footprints[j]).area
            union = footprints[i].area + footprints[j].area - inter
            assert bev[i, j] == pytest.approx(inter / union, abs=1e-6)
            (yi, hi), (yj, hj) = (
                (anno["location"][i, 1], anno["dimensions"][i, 1]),
                (anno["location"][j, 1], anno["dimensions"][j, 1]),
            )
            dy = max(0.0, min(yi, yj) - max(yi - hi, yj - hj))  # camera y points down: boxes span [y - h, y]
            vol = lambda k: np.prod(anno["dimensions"][k])  # noqa: E731
            inter3d = inter * dy
            assert iou3d[i, j] == pytest.approx(inter3d / (vol(i) + vol(j) - inter3d), abs=1e-6)


def test_score_thresholds_devkit_rule():
    # Few GT: every TP score is a threshold; many GT: at most 41 thresholds.
    np.testing.assert_allclose(score_thresholds([0.7, 0.9], 3), [0.9, 0.7])
    assert len(score_thresholds(np.linspace(1, 0.01, 100), 100)) == 41


def test_ap11_and_ap40_from_precision():
    precision = np.zeros(41)
    precision[:2] = [1.0, 2 / 3]
    assert ap_from_precision(precision, 11) == pytest.approx(1 / 11)
    assert ap_from_precision(precision, 40) == pytest.approx((2 / 3) / 40)
    assert ap_from_precision(np.ones(41), 11) == pytest.approx(1.0)
    assert ap_from_precision(np.ones(41), 40) == pytest.approx(1.0)


def hand_case():
    gt = [
        make_anno([("Car", 0, 20, EASY, 0, 0), ("Car", 10, 20, EASY, 0, 0)]),
        make_anno([("Car", 0, 30, EASY, 0, 0)]),
    ]
    dt = [
        make_anno([("Car", 0, 20, EASY, 0, 0), ("Car", -10, 25, EASY, 0, 0)], scores=[0.9, 0.8]),
        make_anno([("Car", 0, 30, EASY, 0, 0)], scores=[0.7]),
    ]
    return gt, dt


def test_hand_computed_case_2d():
    # 3 GT cars; TPs at scores 0.9 and 0.7, a FP at 0.8, one car missed. Thresholds [0.9, 0.7]:
    # precision 1 at 0.9 and 2/3 at 0.7, the other 39 points 0. AP11 = 1/11 (point 0 only),
    # AP40 = (2/3) / 40 (point 1 only): the devkit's recall sampling assumes >= 40 GT.
    gt, dt = hand_case()
    _, results = kitti_eval(gt, dt, ["Car"], eval_types=("bbox",))
    for level in ("easy", "moderate", "hard"):
        assert results[f"Car/2D_AP11_{level}"] == pytest.approx(1 / 11)
        assert results[f"Car/2D_AP40_{level}"] == pytest.approx((2 / 3) / 40)
    # alpha 0 everywhere: AOS equals AP.
    assert results["Car/AOS_AP11_easy"] == pytest.approx(1 / 11)


def many_cars(n_frames=10, per_frame=5):
    gts, dts = [], []
    rng = np.random.default_rng(0)
    for _ in range(n_frames):
        objects = [("Car", 10.0 * k - 20, 20 + 3 * k, EASY, 0, 0) for k in range(per_frame)]
        gts.append(make_anno(objects))
        dts.append(make_anno(objects, scores=rng.uniform(0.1, 1.0, per_frame)))
    return gts, dts


def test_perfect_detections_give_one():
    gts, dts = many_cars()  # 50 GT >= 40: all 41 recall points reached
    table, results = kitti_eval(gts, dts, ["Car"])
    for key in ("2D", "BEV", "3D"):
        for points in (11, 40):
            for level in ("easy", "moderate", "hard"):
                assert results[f"Car/{key}_AP{points}_{level}"] == pytest.approx(1.0)
    assert "Car (strict IoU)" in table and "100.0000" in table


def test_van_is_ignored_not_missed_and_not_false_positive():
    gt = [make_anno([("Car", 0, 20, EASY, 0, 0), ("Van", 10, 20, EASY, 0, 0)])]
    dt_on_van = [make_anno([("Car", 0, 20, EASY, 0, 0), ("Car", 10, 20, EASY, 0, 0)], scores=[0.5, 0.9])]
    gt_truck = [make_anno([("Car", 0, 20, EASY, 0, 0), ("Truck", 10, 20, EASY, 0, 0)])]
    ok = ke.class_precision(
        gt, dt_on_van, "Car", 0, "bbox", 0.7, [ke._overlaps(dt_on_van[0], gt[0], "bbox", False)]
    )[0]
    bad = ke.class_precision(
        gt_truck, dt_on_van, "Car", 0, "bbox", 0.7, [ke._overlaps(dt_on_van[0], gt_truck[0], "bbox", False)]
    )[0]
    assert ok[0] == 1.0  # one GT, one TP, the Van detection neither TP nor FP
    assert bad[0] == 0.5  # on a Truck the same detection is a false positive


def test_hard_only_object_is_ignored_at_easy():
    # A car 30 px high (moderate, not easy): at easy a detection on it is neither TP nor FP.
    gt = [make_anno([("Car", 0, 20, EASY, 0, 0), ("Car", 10, 20, 30, 0, 0)])]
    dt = [make_anno([("Car", 0, 20, EASY, 0, 0), ("Car", 10, 20, 30, 0, 0)], scores=[0.5, 0.9])]
    overlaps = [ke._overlaps(dt[0], gt[0], "bbox", False)]
    easy = ke.class_precision(gt, dt, "Car", 0, "bbox", 0.7, overlaps)[0]
    moderate = ke.class_precision(gt, dt, "Car", 1, "bbox", 0.7, overlaps)[0]
    np.testing.assert_allclose(easy[:2], [1.0, 0.0])  # 1 GT
    np.testing.assert_allclose(moderate[:3], [1.0, 1.0, 0.0])  # 2 GT


def test_dontcare_suppresses_false_positives_in_2d_only_by_default(monkeypatch):
    gt = [make_anno([("Car", 0, 20, EASY, 0, 0), ("DontCare", 10, 20, EASY, -1, -1)])]
    dt = [make_anno([("Car", 0, 20, EASY, 0, 0), ("Car", 10, 20, EASY, 0, 0)], scores=[0.5, 0.9])]
    overlaps_2d = [ke._overlaps(dt[0], gt[0], "bbox", False)]
    assert ke.class_precision(gt, dt, "Car", 0, "bbox", 0.7, overlaps_2d)[0][0] == 1.0
    bev_overlaps = [np.array([[1.0, 0.0], [0.0, 0.0]])]  # the Car matched, the other detection on nothing
    assert ke.class_precision(gt, dt, "Car", 0, "bev", 0.7, bev_overlaps)[0][0] == 0.5
    devkit = ke.class_precision(gt, dt, "Car", 0, "bev", 0.7, bev_overlaps, dontcare_all_metrics=True)
    assert devkit[0][0] == 1.0


def test_small_detection_is_ignored():
    # A 20 px detection (< 25) with no GT is not a false positive at any difficulty.
    gt = [make_anno([("Car", 0, 20, EASY, 0, 0)])]
    dt = [make_anno([("Car", 0, 20, EASY, 0, 0), ("Car", 10, 20, 20, 0, 0)], scores=[0.5, 0.9])]
    overlaps = [ke._overlaps(dt[0], gt[0], "bbox", False)]
    assert ke.class_precision(gt, dt, "Car", 2, "bbox", 0.7, overlaps)[0][0] == 1.0


def test_lidar_mode_difficulty_by_distance_and_points():
    lidar = lambda boxes: np.array(boxes, dtype=np.float64).reshape(-1, 7)  # noqa: E731
    gt = {
        "name": np.array(["Car", "Car", "Car"]),
        "lidar_boxes": lidar(
            [[10, 0, -1.7, 4, 1.6, 1.5, 0], [30, 0, -1.7, 4, 1.6, 1.5, 0], [60, 5, -1.7, 4, 1.6, 1.5, 0]]
        ),
        "num_points_in_gt": np.array([100, 100, 8]),
    }
    dt = {"name": gt["name"], "lidar_boxes": gt["lidar_boxes"], "score": np.array([0.9, 0.8, 0.7])}
    _, results = kitti_eval([gt], [dt], ["Car"], difficulty_mode="lidar")
    assert not any(key.startswith("Car/2D") for key in results)
    # easy: 1 GT (the others ignored, their detections beyond 20 m ignored): one threshold, AP11 = 1/11.
    assert results["Car/BEV_AP11_easy"] == pytest.approx(1 / 11)
    assert results["Car/3D_AP40_moderate"] == pytest.approx(1 / 40)  # 2 GT: points 0 and 1
    assert results["Car/3D_AP40_hard"] == pytest.approx(2 / 40)  # 3 GT


def test_errors_name_the_problem():
    gt, dt = hand_case()
    with pytest.raises(ValueError, match="2 GT frames but 1"):
        kitti_eval(gt, dt[:1], ["Car"])
    with pytest.raises(ValueError, match="difficulty_mode"):
        kitti_eval(gt, dt, ["Car"], difficulty_mode="nuscenes")


def test_custom_class_uses_the_small_class_thresholds():
    gt, dt = hand_case()
    for anno in gt + dt:
        anno["name"] = np.array(["Truck"] * len(anno["name"]))
    _, results = kitti_eval(gt, dt, ["Truck"], eval_types=("bbox",))
    assert results["Truck/2D_AP11_easy"] == pytest.approx(1 / 11)


def test_aos_hand_case():
    # As the hand case, the 0.9 detection's alpha off by pi/2: similarity (1 + cos)/2 = 0.5.
    # t = 0.9: 0.5 / 1; t = 0.7: (0.5 + 1) / 3 = 0.5 -> AOS AP11 = 0.5 / 11, AP40 = 0.5 / 40.
    gt, dt = hand_case()
    dt[0]["alpha"] = np.array([np.pi / 2, 0.0])
    _, results = kitti_eval(gt, dt, ["Car"], eval_types=("bbox",))
    assert results["Car/AOS_AP11_easy"] == pytest.approx(0.5 / 11)
    assert results["Car/AOS_AP40_easy"] == pytest.approx(0.5 / 40)


def loop_reference(gt_annos, dt_annos, class_name, difficulty, min_overlap):
    """The devkit's eval loop written plainly (one threshold, one frame, one GT at a time), 2D boxes."""
    min_height, max_occ, max_trunc = (
        ke.MIN_HEIGHT[difficulty],
        ke.MAX_OCCLUSION[difficulty],
        ke.MAX_TRUNCATION[difficulty],
    )
    frames, tp_scores, n_gt = [], [], 0
    for gt, dt in zip(gt_annos, dt_annos):
        ign_gt, dc = [], []
        for i, name in enumerate(gt["name"]):
            h = gt["bbox"][i][3] - gt["bbox"][i][1]
            hard = gt["occluded"][i] > max_occ or gt["truncated"][i] > max_trunc or h <= min_height
            if name == class_name and not hard:
                ign_gt.append(0)
                n_gt += 1
            elif (name == "Van" and class_name == "Car") or (name == class_name and hard):
                ign_gt.append(1)
            else:
                ign_gt.append(-1)
            if name == "DontCare":
                dc.append(gt["bbox"][i])
        ign_dt = []
        for j, name in enumerate(dt["name"]):
            h = dt["bbox"][j][3] - dt["bbox"][j][1]
            ign_dt.append(1 if h < min_height else (0 if name == class_name else -1))
        ov = image_box_overlap(dt["bbox"], gt["bbox"])
        frames.append((gt, dt, ign_gt, ign_dt, dc, ov))
        taken = [False] * len(ign_dt)
        for i in range(len(ign_gt)):
            if ign_gt[i] == -1:
                continue
            best, best_score = -1, -np.inf
            for j in range(len(ign_dt)):
                if (
                    ign_dt[j] != -1
                    and not taken[j]
                    and ov[j, i] > min_overlap
                    and dt["score"][j] > best_score
                ):
                    best, best_score = j, dt["score"][j]
            if best >= 0:
                taken[best] = True
                if ign_gt[i] == 0 and ign_dt[best] == 0:
                    tp_scores.append(best_score)
    precision = np.zeros(41)
    if n_gt == 0:
        return precision
    thresholds = score_thresholds(tp_scores, n_gt)
    for t_index, t in enumerate(thresholds):
        tp = fp = 0
        for _gt, dt, ign_gt, ign_dt, dc, ov in frames:
            taken = [False] * len(ign_dt)
            for i in range(len(ign_gt)):
                if ign_gt[i] == -1:
                    continue
                best, best_ov, weak = -1, 0.0, False
                for j in range(len(ign_dt)):
                    if ign_dt[j] == -1 or taken[j] or dt["score"][j] < t or not ov[j, i] > min_overlap:
                        continue
                    if ign_dt[j] == 0 and (ov[j, i] > best_ov or weak):
                        best, best_ov, weak = j, ov[j, i], False
                    elif ign_dt[j] == 1 and best == -1:
                        best, weak = j, True
                if best >= 0:
                    taken[best] = True
                    if ign_gt[i] == 0 and ign_dt[best] == 0:
                        tp += 1
            for j in range(len(ign_dt)):
                if ign_dt[j] == 0 and not taken[j] and dt["score"][j] >= t:
                    in_dc = any(
                        image_box_overlap(dt["bbox"][j : j + 1], np.array([d]), 0)[0, 0] > min_overlap
                        for d in dc
                    )
                    fp += 0 if in_dc else 1
        precision[t_index] = tp / (tp + fp)
    return np.maximum.accumulate(precision[::-1])[::-1]


@pytest.mark.parametrize("seed", range(4))
def test_2d_precision_equals_the_loop_reference(seed):
    rng = np.random.default_rng(seed)
    names = ["Car", "Car", "Car", "Van", "Pedestrian", "DontCare"]
    gts, dts = [], []
    for _ in range(6):
        gt_objects = [(str(rng.choice(names)), 0, 0, 0, 0, 0) for _ in range(rng.integers(0, 7))]
        n_gt = len(gt_objects)
        gt = make_anno(gt_objects)
        corner = rng.uniform(0, 300, (n_gt, 2))
        size = rng.uniform([20, 15], [80, 70], (n_gt, 2))
        gt["bbox"] = np.concatenate([corner, corner + size], 1).reshape(-1, 4)
        gt["occluded"] = rng.integers(0, 3, n_gt)
        gt["truncated"] = rng.choice([0.0, 0.2, 0.4], n_gt)
        # detections: jittered copies of some GT, plus random ones
        copies = gt["bbox"][rng.random(n_gt) < 0.7]
        copies = copies + rng.normal(0, 4, copies.shape)
        extra_corner = rng.uniform(0, 300, (rng.integers(0, 4), 2))
        extra = np.concatenate([extra_corner, extra_corner + rng.uniform(15, 60, (len(extra_corner), 2))], 1)
        boxes = np.concatenate([copies, extra]).reshape(-1, 4)
        dt = make_anno(
            [(str(rng.choice(["Car", "Car", "Pedestrian"])), 0, 0, 0, 0, 0) for _ in boxes],
            scores=np.round(rng.random(len(boxes)), 2),
        )
        dt["bbox"] = boxes
        gts.append(gt)
        dts.append(dt)
    overlaps = [ke._overlaps(dt, gt, "bbox", False) for gt, dt in zip(gts, dts)]
    for class_name, min_overlap in (("Car", 0.7), ("Car", 0.5), ("Pedestrian", 0.5)):
        for difficulty in range(3):
            ours = ke.class_precision(gts, dts, class_name, difficulty, "bbox", min_overlap, overlaps)[0]
            np.testing.assert_allclose(
                ours,
                loop_reference(gts, dts, class_name, difficulty, min_overlap),
                err_msg=f"{class_name} {difficulty}",
            )
