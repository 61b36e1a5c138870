"""Contract test over every transform registered by visionstack.data.

Each one builds from the small config listed here, runs on a random image, and leaves ``img_shape``
equal to the image's (h, w). A transform registered without an entry here fails the test.
"""

from __future__ import annotations

import copy

import numpy as np
import pytest
import torch

import visionstack  # noqa: F401  (registers everything)
from visionstack.registry import TRANSFORMS, build
from visionstack.structures import DataSample

CONFIGS: dict[str, dict] = {
    "LoadImage": dict(),
    "Resize": dict(scale=(20, 14)),
    "ResizeEdge": dict(scale=16),
    "RandomResizedCrop": dict(scale=12),
    "CenterCrop": dict(crop_size=10),
    "RandomFlip": dict(prob=1.0, direction=["horizontal", "vertical"]),
    "ColorJitter": dict(brightness=0.4, contrast=0.4, saturation=0.4, hue=0.1),
    "RandAugment": dict(num_policies=3, magnitude_level=9, magnitude_std=0.5, prob=1.0),
    "PackInputs": dict(),
    "Compose": dict(transforms=[dict(type="RandomFlip", prob=1.0), dict(type="Resize", scale=(9, 9))]),
    "RandomApply": dict(transforms=[dict(type="ColorJitter", brightness=0.5)], prob=1.0),
    "RandomChoice": dict(transforms=[dict(type="CenterCrop", crop_size=8), dict(type="ResizeEdge", scale=8)]),
    # Moved here from the detection task (shared with segmentation); their annotation handling is
    # tested in tests/tasks/detection and tests/data/transforms/test_annotations.py.
    "LoadAnnotations": dict(with_bbox=False, with_label=False, with_seg=False),
    "RandomResize": dict(scale=(20, 14), ratio_range=(0.5, 1.5), keep_ratio=True),
    "RandomCrop": dict(crop_size=(12, 9), cat_max_ratio=0.75),
    "Pad": dict(size_divisor=8),
    "RandomAffine": dict(max_rotate_degree=20.0, max_shear_degree=5.0, border=(2, -3)),
    "PhotoMetricDistortion": dict(),
}


def _our_transforms() -> list[str]:
    return [name for name, cls in TRANSFORMS.items() if cls.__module__.startswith("visionstack.data")]


def test_every_registered_data_transform_has_a_config():
    missing = sorted(set(_our_transforms()) - set(CONFIGS))
    assert not missing, f"add a contract-test config for {missing}"


@pytest.mark.parametrize("name", sorted(CONFIGS))
def test_transform_contract(name, tmp_path, image_writer, random_image):
    transform = build(dict(type=name, **copy.deepcopy(CONFIGS[name])), TRANSFORMS)
    assert callable(transform) and name in repr(transform)
    results = {
        "img_path": image_writer(tmp_path / "img.png", random_image),
        "img": random_image.copy(),
        "img_shape": random_image.shape[:2],
        "ori_shape": random_image.shape[:2],
        "gt_label": 1,
        "sample_idx": 0,
    }
    for seed in range(3):
        np.random.seed(seed)
        out = transform(copy.deepcopy(results))
        if name == "PackInputs":
            assert isinstance(out["inputs"], torch.Tensor) and isinstance(out["data_samples"], DataSample)
            assert tuple(out["inputs"].shape[1:]) == out["data_samples"].img_shape
            continue
        assert isinstance(out, dict)
        img = out["img"]
        assert isinstance(img, np.ndarray) and img.dtype == np.uint8 and img.ndim == 3 and img.shape[2] == 3
        assert tuple(out["img_shape"]) == img.shape[:2]
        assert out["ori_shape"] == random_image.shape[:2]
        assert out["gt_label"] == 1
