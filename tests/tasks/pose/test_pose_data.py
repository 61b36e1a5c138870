"""COCO person keypoints: the top-down records, the crop geometry, flips and half-body crops."""

from __future__ import annotations

import json

import numpy as np
import pytest

from visionstack.data.base_dataset import DatasetError
from visionstack.tasks.pose.datasets import CocoKeypointsDataset
from visionstack.tasks.pose.metainfo import COCO_KEYPOINTS
from visionstack.tasks.pose.transforms import (
    GetBBoxCenterScale,
    RandomHalfBody,
    TopdownAffine,
    TopdownRandomFlip,
    fix_aspect_ratio,
    topdown_warp_matrix,
)


def person(ann_id, image_id, box, labelled=17, crowd=0, seed=0):
    rng = np.random.default_rng(seed)
    x, y, w, h = box
    points = np.stack([rng.uniform(x, x + w, 17), rng.uniform(y, y + h, 17), np.full(17, 2.0)], axis=1)
    points[labelled:] = 0
    return {
        "id": ann_id,
        "image_id": image_id,
        "category_id": 1,
        "bbox": list(box),
        "area": w * h * 0.5,
        "iscrowd": crowd,
        "num_keypoints": labelled,
        "keypoints": points.reshape(-1).round(2).tolist(),
    }


def coco_file(tmp_path, annotations, name="person_keypoints.json"):
    content = {
        "images": [
            {"id": 1, "file_name": "a.png", "width": 200, "height": 160},
            {"id": 2, "file_name": "b.png", "width": 200, "height": 160},
        ],
        "annotations": annotations,
        "categories": [
            {
                "id": 1,
                "name": "person",
                "supercategory": "person",
                "keypoints": list(COCO_KEYPOINTS["keypoint_names"]),
            }
        ],
    }
    path = tmp_path / name
    path.write_text(json.dumps(content))
    return path


def test_topdown_records_one_person_each_and_training_drops_crowds_and_unlabelled(tmp_path):
    annotations = [
        person(10, 1, (20, 30, 60, 100)),
        person(11, 1, (100, 20, 50, 120), labelled=0),  # no labelled keypoint
        person(12, 2, (10, 10, 80, 90), crowd=1),
        person(13, 2, (150, 60, 80, 140), seed=1),  # reaches outside the 200x160 image: clipped
    ]
    path = coco_file(tmp_path, annotations)
    train = CocoKeypointsDataset(ann_file=str(path), data_prefix=dict(img="imgs/"))
    assert [train.get_data_info(i)["id"] for i in range(len(train))] == [10, 13]
    first = train.get_data_info(0)
    assert first["img_path"] == "imgs/a.png" and first["ori_shape"] == (160, 200)
    np.testing.assert_allclose(first["bbox"], [[20, 30, 80, 130]])
    assert first["keypoints"].shape == (1, 17, 2) and first["keypoints_visible"].shape == (1, 17)
    assert first["flip_indices"] == COCO_KEYPOINTS["flip_indices"]
    np.testing.assert_allclose(train.get_data_info(1)["bbox"], [[150, 60, 199, 159]])
    test = CocoKeypointsDataset(ann_file=str(path), test_mode=True)
    assert len(test) == 4  # evaluation sees every annotation
    images = CocoKeypointsDataset(ann_file=str(path), data_mode="bottomup")
    assert [images.get_data_info(i)["keypoints"].shape for i in range(2)] == [(1, 17, 2), (1, 17, 2)]


def test_detected_people_replace_the_annotated_boxes_in_test_mode(tmp_path):
    path = coco_file(tmp_path, [person(10, 1, (20, 30, 60, 100))])
    detections = [
        {"image_id": 1, "category_id": 1, "bbox": [18, 28, 64, 104], "score": 0.9},
        {"image_id": 2, "category_id": 1, "bbox": [5, 5, 30, 40], "score": 0.2},
    ]
    (tmp_path / "dets.json").write_text(json.dumps(detections))
    dataset = CocoKeypointsDataset(
        ann_file=str(path), bbox_file=str(tmp_path / "dets.json"), det_bbox_thr=0.3, test_mode=True
    )
    assert len(dataset) == 1
    info = dataset.get_data_info(0)
    np.testing.assert_allclose(info["bbox"], [[18, 28, 82, 132]])
    np.testing.assert_allclose(info["bbox_score"], [0.9])
    with pytest.raises(ValueError, match="bbox_file .* test_mode=True only"):
        CocoKeypointsDataset(ann_file=str(path), bbox_file=str(tmp_path / "dets.json"))


def test_bad_annotations_name_the_file_and_the_annotation(tmp_path):
    broken = person(10, 1, (20, 30, 60, 100))
    broken["keypoints"] = broken["keypoints"][:-3]
    path = coco_file(tmp_path, [broken])
    with pytest.raises(DatasetError, match=r"person_keypoints.json.*annotation 0.*annotation 10.*51 numbers"):
        CocoKeypointsDataset(ann_file=str(path))
    assert len(CocoKeypointsDataset(ann_file=str(path), skip_bad_samples=True)) == 0
    other = coco_file(tmp_path, [], name="other.json")
    content = json.loads(other.read_text())
    content["categories"][0]["keypoints"] = ["a", "b"]
    other.write_text(json.dumps(content))
    with pytest.raises(DatasetError, match="has 2 keypoints, the dataset metainfo 17"):
        CocoKeypointsDataset(ann_file=str(other))


@pytest.mark.parametrize("use_udp", [False, True])
def test_the_crop_maps_keypoints_as_it_maps_pixels_and_inverts_to_the_image(use_udp):
    image = np.zeros((160, 200, 3), np.uint8)
    points = np.array([[[60.0, 50.0], [130.0, 110.0], [90.0, 140.0]]], np.float32)
    yy, xx = np.mgrid[:160, :200]
    for channel, (x, y) in enumerate(points[0]):  # one round blob per channel, centred on its keypoint
        image[..., channel] = (255 * np.exp(-((xx - x) ** 2 + (yy - y) ** 2) / (2 * 6.0**2))).astype(np.uint8)
    results = {"img": image, "bbox": np.array([[40, 30, 150, 150]], np.float32), "keypoints": points}
    results = TopdownAffine((48, 64), use_udp=use_udp).transform(GetBBoxCenterScale(1.25).transform(results))
    crop, moved = results["img"], results["transformed_keypoints"][0]
    assert crop.shape == (64, 48, 3)
    crop_y, crop_x = np.mgrid[:64, :48]
    for channel, (x, y) in enumerate(moved):  # each blob's centroid in the crop is where its keypoint went
        weight = crop[..., channel].astype(np.float64)
        centroid = np.array([(weight * crop_x).sum(), (weight * crop_y).sum()]) / weight.sum()
        np.testing.assert_allclose(centroid, [x, y], atol=0.35)
    # the box widened to the input aspect ratio (3:4), centred on the box
    np.testing.assert_allclose(results["input_center"], [95, 90])
    np.testing.assert_allclose(results["input_scale"], fix_aspect_ratio(np.array([137.5, 150.0]), 0.75))
    size, center, scale = np.array([48.0, 64.0]), results["input_center"], results["input_scale"]
    decoded = moved * size / (size - 1) if use_udp else moved  # a UDP codec decodes to this scale
    np.testing.assert_allclose(decoded / size * scale + center - scale / 2, points[0], atol=1e-3)


def test_rotation_turns_about_the_box_centre():
    matrix = topdown_warp_matrix((50.0, 40.0), (20.0, 20.0), 90.0, (20, 20))
    centre = matrix[:, :2] @ np.array([50.0, 40.0]) + matrix[:, 2]
    np.testing.assert_allclose(centre, [10, 10], atol=1e-5)
    right = matrix[:, :2] @ np.array([60.0, 40.0]) + matrix[:, 2]  # 10 px right of the centre
    np.testing.assert_allclose(np.linalg.norm(right - centre), 10, atol=1e-5)
    assert abs(right[0] - 10) < 1e-4  # a quarter turn: now straight above or below


def test_flip_mirrors_the_crop_and_swaps_left_and_right():
    rng = np.random.default_rng(0)
    crop = rng.integers(0, 255, (64, 48, 3), dtype=np.uint8)
    points = rng.uniform(0, 47, (1, 17, 2)).astype(np.float32)
    visible = (rng.uniform(size=(1, 17)) > 0.3).astype(np.float32)
    results = {
        "img": crop,
        "input_size": (48, 64),
        "transformed_keypoints": points,
        "keypoints_visible": visible,
        "flip_indices": COCO_KEYPOINTS["flip_indices"],
    }
    flipped = TopdownRandomFlip(prob=1.0).transform(dict(results))
    assert flipped["flip"] and np.array_equal(flipped["img"], crop[:, ::-1])
    left_wrist, right_wrist = 9, 10
    np.testing.assert_allclose(
        flipped["transformed_keypoints"][0, right_wrist, 0], 47 - points[0, left_wrist, 0]
    )
    assert flipped["keypoints_visible"][0, right_wrist] == visible[0, left_wrist]
    twice = TopdownRandomFlip(prob=1.0).transform(dict(flipped))
    np.testing.assert_allclose(twice["transformed_keypoints"], points, atol=1e-4)
    assert np.array_equal(twice["img"], crop)
    assert not TopdownRandomFlip(prob=0.0).transform(dict(results))["flip"]


def test_half_body_crops_to_the_chosen_half():
    np.random.seed(0)
    points = np.zeros((1, 17, 2), np.float32)
    points[0, :11] = np.stack([np.linspace(40, 60, 11), np.linspace(10, 50, 11)], axis=1)  # upper body
    points[0, 11:] = np.stack([np.linspace(45, 55, 6), np.linspace(60, 120, 6)], axis=1)  # legs
    results = {
        "keypoints": points,
        "keypoints_visible": np.ones((1, 17), np.float32),
        "bbox_center": np.array([[50.0, 65.0]], np.float32),
        "bbox_scale": np.array([[60.0, 140.0]], np.float32),
        "upper_body_ids": COCO_KEYPOINTS["upper_body_ids"],
    }
    seen = set()
    for _ in range(20):
        out = RandomHalfBody(prob=1.0).transform({key: np.copy(v) for key, v in results.items()})
        center, scale = out["bbox_center"][0], out["bbox_scale"][0]
        upper = center[1] < 50
        half = points[0, :11] if upper else points[0, 11:]
        assert np.all(np.abs(half - center) <= scale / 2 + 1e-4)  # the half fits in the new box
        np.testing.assert_allclose(scale[0] / scale[1], 60 / 140, rtol=1e-5)  # aspect ratio kept
        seen.add(bool(upper))
    assert seen == {True, False}
    few = dict(results, keypoints_visible=np.zeros((1, 17), np.float32))
    np.testing.assert_allclose(RandomHalfBody(prob=1.0).transform(few)["bbox_scale"], results["bbox_scale"])


def test_topdown_affine_refuses_several_boxes():
    results = {
        "img": np.zeros((10, 10, 3), np.uint8),
        "bbox_center": np.zeros((2, 2)),
        "bbox_scale": np.ones((2, 2)),
    }
    with pytest.raises(ValueError, match="has 2 boxes"):
        TopdownAffine((8, 8)).transform(results)
