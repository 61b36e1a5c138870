"""Test-time settings of a segmentor (MMSegmentation's ``test_cfg`` plus optional test-time augmentation).

Sizes are ``(w, h)``, as everywhere in visionstack (MMSegmentation writes ``crop_size`` and
``stride`` as ``(h, w)``).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

__all__ = ["SegTTAConfig", "SegTestConfig"]


def _pair(value: Any, key: str, owner: str) -> tuple[int, int]:
    if isinstance(value, int):
        value = (value, value)
    if not isinstance(value, Sequence) or len(value) != 2 or any(int(v) < 1 for v in value):
        raise ValueError(f"{owner}: test_cfg.{key} must be a positive (w, h) pair, got {value!r}")
    return int(value[0]), int(value[1])


@dataclass(frozen=True)
class SegTTAConfig:
    """Test-time augmentation: every scale, each also flipped horizontally when ``flip``.

    Attributes:
        scales: factors applied to the network input's height and width.
        flip: add a horizontally flipped copy of every scale.
    """

    scales: tuple[float, ...] = (1.0,)
    flip: bool = False

    @property
    def num_views(self) -> int:
        return len(self.scales) * (2 if self.flip else 1)


@dataclass(frozen=True)
class SegTestConfig:
    """How a segmentor turns a batch into logits at test time.

    Attributes:
        mode: ``"whole"`` (one pass over the padded batch) or ``"slide"`` (overlapping windows).
        crop_size: ``(w, h)`` window of slide inference.
        stride: ``(w, h)`` step between windows; at most ``crop_size`` so that windows cover the image.
        tta: optional test-time augmentation (see :class:`SegTTAConfig`).
    """

    mode: str = "whole"
    crop_size: tuple[int, int] | None = None
    stride: tuple[int, int] | None = None
    tta: SegTTAConfig | None = field(default=None)

    @classmethod
    def from_value(cls, value: SegTestConfig | Mapping[str, Any] | None, owner: str) -> SegTestConfig:
        """Accept a config, None (whole inference) or a dict such as ``dict(mode="slide",
        crop_size=(512, 512), stride=(341, 341), tta=dict(scales=(0.75, 1.0), flip=True))``."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(f"{owner}: test_cfg must be a dict or SegTestConfig, got {type(value).__name__}")
        unknown = sorted(set(value) - {"mode", "crop_size", "stride", "tta"})
        if unknown:
            raise ValueError(
                f"{owner}: unknown test_cfg keys {unknown}; known keys: crop_size, mode, stride, tta"
            )
        mode = value.get("mode", "whole")
        if mode not in ("whole", "slide"):
            raise ValueError(f"{owner}: test_cfg.mode must be 'whole' or 'slide', got {mode!r}")
        crop_size = stride = None
        if mode == "slide":
            if value.get("crop_size") is None or value.get("stride") is None:
                raise ValueError(f"{owner}: test_cfg mode='slide' needs crop_size=(w, h) and stride=(w, h)")
            crop_size = _pair(value["crop_size"], "crop_size", owner)
            stride = _pair(value["stride"], "stride", owner)
            if stride[0] > crop_size[0] or stride[1] > crop_size[1]:
                raise ValueError(
                    f"{owner}: test_cfg.stride {stride} exceeds crop_size {crop_size}; windows would leave gaps"
                )
        return cls(mode=mode, crop_size=crop_size, stride=stride, tta=cls._tta(value.get("tta"), owner))

    @staticmethod
    def _tta(value: Any, owner: str) -> SegTTAConfig | None:
        if value is None or isinstance(value, SegTTAConfig):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(
                f"{owner}: test_cfg.tta must be a dict(scales=..., flip=...), got {type(value).__name__}"
            )
        unknown = sorted(set(value) - {"scales", "flip"})
        if unknown:
            raise ValueError(f"{owner}: unknown test_cfg.tta keys {unknown}; known keys: flip, scales")
        scales = tuple(float(s) for s in value.get("scales", (1.0,)))
        if not scales or any(s <= 0 for s in scales):
            raise ValueError(f"{owner}: test_cfg.tta.scales must be positive factors, got {scales!r}")
        return SegTTAConfig(scales=scales, flip=bool(value.get("flip", False)))
