"""The annotation-kernel registry: a kind registered in a test is moved by every geometric transform."""

from __future__ import annotations

import copy

import numpy as np
import pytest

from visionstack.data.transforms import (
    AnnotationKernel,
    CenterCrop,
    ImageKernel,
    Pad,
    RandomAffine,
    RandomCrop,
    RandomFlip,
    RandomResize,
    RandomResizedCrop,
    Resize,
    ResizeEdge,
    SequenceKernel,
    annotation_kernels,
    keep_instances,
    register_annotation_kernel,
    unregister_annotation_kernel,
)
from visionstack.structures import BitmapMasks


class PointsKernel(AnnotationKernel):
    """(M, 2) float64 points, written here from the convention alone; records the operations it saw."""

    per_instance = True
    pad_val_key = "points"

    def __init__(self) -> None:
        self.calls: list[str] = []

    def flip(self, value, op, results):
        self.calls.append("flip")
        points = np.array(value, dtype=np.float64)
        width, height = op.size
        if op.direction in ("horizontal", "diagonal"):
            points[:, 0] = width - points[:, 0]
        if op.direction in ("vertical", "diagonal"):
            points[:, 1] = height - points[:, 1]
        return points

    def resize(self, value, op, results):
        self.calls.append("resize")
        return np.asarray(value) * np.asarray(op.scale)

    def crop(self, value, op, results):
        self.calls.append("crop")
        return np.asarray(value) - np.asarray(op.window[:2])

    def pad(self, value, op, results):
        self.calls.append("pad")
        self.last_pad_val = op.pad_val.get("points")
        return np.asarray(value) + np.asarray(op.offset)

    def warp(self, value, op, results):
        self.calls.append("warp")
        homogeneous = np.c_[np.asarray(value), np.ones(len(value))] @ op.matrix.T
        return homogeneous[:, :2] / homogeneous[:, 2:]


@pytest.fixture
def points_kernel():
    kernel = register_annotation_kernel("gt_points", PointsKernel())
    yield kernel
    unregister_annotation_kernel("gt_points")


def marked_sample(height: int = 36, width: int = 48) -> dict:
    """An image black but for 5x5 white blocks, and ``gt_points`` at the centres of their middle pixels."""
    img = np.zeros((height, width, 3), np.uint8)
    centres = [(9, 7), (30, 20), (40, 28)]  # (col, row)
    for col, row in centres:
        img[row - 2 : row + 3, col - 2 : col + 3] = 255
    points = np.array([[col + 0.5, row + 0.5] for col, row in centres])
    return {"img": img, "img_shape": (height, width), "gt_points": points}


TRANSFORMS = {
    "Resize": lambda: Resize(scale=(70, 30), interpolation="nearest"),
    "ResizeEdge": lambda: ResizeEdge(scale=50, interpolation="nearest"),
    "RandomResizedCrop": lambda: RandomResizedCrop(
        scale=(40, 40), crop_ratio_range=(0.5, 1), interpolation="nearest"
    ),
    "CenterCrop": lambda: CenterCrop(crop_size=(60, 30), auto_pad=True),
    "RandomFlip": lambda: RandomFlip(prob=1.0, direction=["horizontal", "vertical", "diagonal"]),
    "RandomResize": lambda: RandomResize(scale=(48, 36), ratio_range=(0.7, 1.4), interpolation="nearest"),
    "RandomCrop": lambda: RandomCrop(crop_size=(30, 25), allow_negative_crop=True),
    "Pad": lambda: Pad(size_divisor=32, pad_val=dict(points=-1)),
    "RandomAffine": lambda: RandomAffine(
        max_rotate_degree=40, scaling_ratio_range=(0.8, 1.2), max_shear_degree=5, interpolation="nearest"
    ),
}


@pytest.mark.parametrize("name", sorted(TRANSFORMS))
def test_a_registered_kind_is_moved_by_every_geometric_transform(name, points_kernel):
    transform = TRANSFORMS[name]()
    for seed in range(5):
        np.random.seed(seed)
        points_kernel.calls.clear()
        out = transform(marked_sample())
        assert points_kernel.calls, f"{name} did not call the kernel"
        height, width = out["img"].shape[:2]
        assert tuple(out["img_shape"]) == (height, width)
        for x, y in out["gt_points"]:
            if 0 <= x < width and 0 <= y < height:  # a point still in the image lies on its white block
                assert out["img"][int(y), int(x), 0] == 255, (name, seed, x, y)
    if name == "Pad":
        assert points_kernel.last_pad_val == -1


def test_keep_instances_selects_registered_per_instance_kinds(points_kernel):
    results = marked_sample()
    results["gt_bboxes"] = np.float32([[0, 0, 1, 1], [1, 1, 2, 2], [2, 2, 3, 3]])
    results["gt_keypoints"] = np.zeros((3, 2, 2), np.float32)
    results["gt_keypoints_visible"] = np.float32([[1, 0], [0, 1], [1, 1]])
    results["gt_polygons"] = [np.zeros((3, 2)), np.ones((4, 2)), np.full((5, 2), 2.0)]
    keep_instances(results, np.array([True, False, True]))
    assert len(results["gt_bboxes"]) == len(results["gt_points"]) == len(results["gt_keypoints"]) == 2
    np.testing.assert_array_equal(results["gt_keypoints_visible"], [[1, 0], [1, 1]])
    assert [len(p) for p in results["gt_polygons"]] == [3, 5]


def test_a_clip_of_frames_moves_like_one_image():
    # the action task registers this kernel when it is imported; put its kernel back afterwards
    previous = annotation_kernels().get("imgs")
    register_annotation_kernel("imgs", SequenceKernel(ImageKernel()), force=True)
    try:
        frames = [np.random.default_rng(i).integers(0, 256, (30, 40, 3), dtype=np.uint8) for i in range(3)]
        for name in sorted(TRANSFORMS):
            if name == "Pad":
                continue  # its pad_val names the test kernel's key
            np.random.seed(3)
            single = TRANSFORMS[name]()({"img": frames[1].copy(), "img_shape": (30, 40)})
            np.random.seed(3)
            clip = TRANSFORMS[name]()({"imgs": [f.copy() for f in frames], "img_shape": (30, 40)})
            np.testing.assert_array_equal(clip["imgs"][1], single["img"], err_msg=name)
            assert tuple(clip["img_shape"]) == single["img"].shape[:2]
    finally:
        unregister_annotation_kernel("imgs")
        if previous is not None:
            register_annotation_kernel("imgs", previous)


def test_registry_errors():
    assert {"img", "gt_bboxes", "gt_masks", "gt_seg_map", "gt_keypoints", "gt_polygons"} <= set(
        annotation_kernels()
    )
    with pytest.raises(KeyError, match="already has the kernel"):
        register_annotation_kernel("gt_bboxes", PointsKernel())
    with pytest.raises(TypeError, match="AnnotationKernel"):
        register_annotation_kernel("gt_things", object())
    with pytest.raises(KeyError, match="has no kernel"):
        unregister_annotation_kernel("gt_things")
    with pytest.raises(ValueError, match="unknown pad_val key"):
        Pad(size_divisor=8, pad_val=dict(points=0))  # no kernel reads `points` outside the fixture
    with pytest.raises(TypeError, match="abstract"):
        type("Partial", (AnnotationKernel,), {"flip": lambda self, value, op, results: value})()


def base_sample() -> dict:
    return {"img": np.zeros((20, 30, 3), np.uint8), "img_shape": (20, 30)}


@pytest.mark.parametrize(
    ("key", "value", "error", "message"),
    [
        ("gt_bboxes", np.zeros((2, 5), np.float32), ValueError, r"gt_bboxes: expected \(N, 4\)"),
        ("gt_keypoints", np.zeros((2, 3)), ValueError, r"gt_keypoints: expected \(N, K, 2\)"),
        ("gt_polygons", [np.zeros(6)], ValueError, r"gt_polygons: polygon 0 has shape \(6,\)"),
        ("gt_polygons", 3, TypeError, "gt_polygons: expected a list"),
        ("gt_masks", np.zeros((1, 20, 30), np.uint8), TypeError, "gt_masks: expected BitmapMasks"),
        ("gt_seg_map", [[0, 1]], TypeError, "gt_seg_map: expected an"),
    ],
)
def test_malformed_annotations_name_their_key(key, value, error, message):
    for transform in (Resize(scale=(15, 10)), RandomFlip(prob=1.0, direction="diagonal"), Pad(size=(32, 32))):
        results = base_sample()
        results[key] = copy.deepcopy(value)
        if key == "gt_bboxes" and isinstance(transform, Pad):
            continue  # a pad at the bottom and right leaves boxes untouched
        with pytest.raises(error, match=message):
            transform(results)


def test_malformed_keypoint_companions_name_their_key():
    results = base_sample()
    results.update(gt_keypoints=np.zeros((2, 3, 2)), gt_keypoints_visible=np.ones((2, 4)))
    with pytest.raises(ValueError, match=r"gt_keypoints_visible has shape \(2, 4\)"):
        RandomCrop(crop_size=(10, 10))(results)
    results = base_sample()
    results["gt_keypoints"] = np.zeros((2, 3, 2))
    with pytest.raises(KeyError, match="gt_keypoints.*flip_indices"):
        RandomFlip(prob=1.0)(results)
    results["flip_indices"] = [0, 0, 1]
    with pytest.raises(ValueError, match="gt_keypoints: flip_indices .* not a permutation"):
        RandomFlip(prob=1.0)(results)


@pytest.mark.parametrize("name", sorted(set(TRANSFORMS) - {"Pad"}) + ["PadToDivisor"])
def test_every_geometric_transform_moves_masks_with_the_image(name):
    """No transform leaves masks behind (detection once needed its own ``*_det_results`` helpers)."""
    mask = np.zeros((1, 20, 30), np.uint8)
    mask[0, 2:6, 3:9] = 1
    results = base_sample()
    results.update(gt_bboxes=np.float32([[3, 2, 9, 6]]), gt_masks=BitmapMasks(mask, 20, 30))
    transform = Pad(size_divisor=32) if name == "PadToDivisor" else TRANSFORMS[name]()
    np.random.seed(0)
    out = transform(results)
    assert (out["gt_masks"].height, out["gt_masks"].width) == out["img"].shape[:2]
    assert len(out["gt_masks"]) == len(out["gt_bboxes"])
