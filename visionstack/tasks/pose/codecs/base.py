"""The keypoint-codec registry, :func:`build_codec`, and the input checks every codec shares.

A keypoint codec turns instance keypoints (input-image pixels) into training targets (``encode``)
and network outputs back into keypoints (``decode``), MMPose-style. Codecs are plain NumPy objects,
so the deploy runtime can decode without PyTorch; their ``decode_torch`` methods import PyTorch only
when called.

``KEYPOINT_CODECS`` (:mod:`visionstack.registry`) is a registry of its own (codecs are not models), searched
when a head's ``decoder`` or ``GenerateTarget``'s ``encoder`` is built; a lookup sees the codecs of this package,
which register on import, without importing the rest of visionstack (and PyTorch) first.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ....registry import KEYPOINT_CODECS, build

__all__ = ["KEYPOINT_CODECS", "build_codec", "check_keypoints", "check_size", "visible_weights"]


def build_codec(cfg_or_instance: Mapping[str, Any] | Any) -> Any:
    """A codec from a config dict (``dict(type="MSRAHeatmap", input_size=..., ...)``), or the codec itself.

    Raises:
        TypeError: ``cfg_or_instance`` is neither a dict with ``type`` nor an object with
            ``encode`` and ``decode`` methods.
        visionstack.registry.ConfigError: an unknown ``type`` or argument (with close matches).
    """
    if isinstance(cfg_or_instance, Mapping):
        if "type" not in cfg_or_instance:
            raise TypeError(
                f"build_codec: a codec config needs a `type` key, got keys {sorted(cfg_or_instance)}"
            )
        return build(cfg_or_instance, KEYPOINT_CODECS)
    if callable(getattr(cfg_or_instance, "encode", None)) and callable(
        getattr(cfg_or_instance, "decode", None)
    ):
        return cfg_or_instance
    raise TypeError(
        "build_codec: expected a codec config dict (with `type`) or a codec (with encode/decode), "
        f"got {type(cfg_or_instance).__name__}"
    )


def check_size(owner: str, name: str, size: Any) -> tuple[int, int]:
    """``size`` as a ``(width, height)`` pair of positive ints, else a ValueError naming ``owner.name``."""
    try:
        width, height = (int(value) for value in size)
        valid = width > 0 and height > 0 and tuple(size) == (width, height)
    except (TypeError, ValueError):
        valid = False
    if not valid:
        raise ValueError(f"{owner}: {name} must be (width, height), two positive ints, got {size!r}")
    return width, height


def check_keypoints(
    owner: str, keypoints: Any, keypoints_visible: Any | None
) -> tuple[np.ndarray, np.ndarray]:
    """Validate an ``encode`` call's inputs.

    Args:
        owner: the codec's name for error messages (``"MSRAHeatmap.encode"``).
        keypoints: (N, K, 2) x, y in input-image pixels.
        keypoints_visible: (N, K) visibility (1 labelled, 0 not) or None for all visible.

    Returns:
        ``(keypoints, visible)``: float64 (N, K, 2) and float32 (N, K).
    """
    keypoints = np.asarray(keypoints, dtype=np.float64)
    if keypoints.ndim != 3 or keypoints.shape[-1] != 2:
        raise ValueError(f"{owner}: keypoints must be (N, K, 2) x, y pixels, got shape {keypoints.shape}")
    if keypoints_visible is None:
        return keypoints, np.ones(keypoints.shape[:2], dtype=np.float32)
    visible = np.asarray(keypoints_visible, dtype=np.float32)
    if visible.shape != keypoints.shape[:2]:
        raise ValueError(
            f"{owner}: keypoints_visible must be (N, K) = {keypoints.shape[:2]} like keypoints, got {visible.shape}"
        )
    return keypoints, visible


def visible_weights(keypoints: np.ndarray, visible: np.ndarray) -> np.ndarray:
    """MMPose's starting target weights: the visibility where it is >= 0.5 and the keypoint is finite, else 0.

    Args:
        keypoints: (..., 2) coordinates.
        visible: (...) visibilities.

    Returns:
        float32 weights of the shape of ``visible``; a codec then zeroes the out-of-range keypoints.
    """
    labelled = (visible >= 0.5) & np.isfinite(keypoints).all(axis=-1)
    return np.where(labelled, visible, 0.0).astype(np.float32)
