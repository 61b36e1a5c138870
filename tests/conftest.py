"""Shared fixtures of the data tests: images written with OpenCV into temporary folders."""

from __future__ import annotations

import os
import random

import cv2
import numpy as np
import pytest


def write_image(path: str | os.PathLike, img: np.ndarray) -> str:
    """Write ``img`` with OpenCV (creating folders) and return the path as a str."""
    path = os.fspath(path)
    os.makedirs(os.path.dirname(path), exist_ok=True)
    assert cv2.imwrite(path, img), path
    return path


@pytest.fixture
def image_writer():
    """The ``write_image(path, img) -> str`` helper."""
    return write_image


@pytest.fixture
def random_image() -> np.ndarray:
    """A (24, 32, 3) uint8 BGR image of uniform noise."""
    return np.random.default_rng(7).integers(0, 256, size=(24, 32, 3), dtype=np.uint8)


@pytest.fixture
def results(random_image: np.ndarray) -> dict:
    """A results dict as LoadImage leaves it."""
    return {
        "img": random_image,
        "img_path": "noise.png",
        "img_shape": random_image.shape[:2],
        "ori_shape": random_image.shape[:2],
        "gt_label": 3,
        "sample_idx": 0,
    }


@pytest.fixture
def seeded() -> None:
    """Seed the global generators that the transforms draw from."""
    random.seed(0)
    np.random.seed(0)


@pytest.fixture(autouse=True, scope="session")
def _private_model_cache(tmp_path_factory):
    """What the package caches (the KID digits classifier) goes to a temporary folder, never the user's home."""
    previous = os.environ.get("VISIONSTACK_CACHE")
    os.environ["VISIONSTACK_CACHE"] = str(tmp_path_factory.mktemp("visionstack_cache"))
    yield
    if previous is None:
        os.environ.pop("VISIONSTACK_CACHE", None)
    else:
        os.environ["VISIONSTACK_CACHE"] = previous
