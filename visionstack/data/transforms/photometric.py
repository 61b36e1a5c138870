"""Photometric transforms: colour jitter and RandAugment, on uint8 BGR images."""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from ...registry import TRANSFORMS
from . import image_ops
from .base import BaseTransform

__all__ = ["ColorJitter", "RandAugment", "AugmentPolicy", "RANDAUG_OPS", "TIMM_INCREASING_POLICIES"]


def _require_uint8(img: np.ndarray, owner: str) -> None:
    if img.dtype != np.uint8:
        raise TypeError(
            f"{owner} works on uint8 images, got {img.dtype}; put it before any float conversion "
            "(e.g. LoadImage(to_float32=False))"
        )


def _factor_range(value: float | Sequence[float], name: str) -> tuple[float, float] | None:
    """torchvision's convention: v -> [max(0, 1 - v), 1 + v]; a pair is taken as the range."""
    if isinstance(value, (int, float)):
        if value < 0:
            raise ValueError(f"ColorJitter: {name} must be >= 0, got {value}")
        low, high = max(0.0, 1.0 - value), 1.0 + value
    else:
        low, high = (float(v) for v in value)
        if not 0 <= low <= high:
            raise ValueError(f"ColorJitter: {name} range must satisfy 0 <= min <= max, got {tuple(value)}")
    return None if low == high == 1.0 else (low, high)


def _hue_range(value: float | Sequence[float]) -> tuple[float, float] | None:
    if isinstance(value, (int, float)):
        if not 0 <= value <= 0.5:
            raise ValueError(f"ColorJitter: hue must be in [0, 0.5] turns, got {value}")
        low, high = -float(value), float(value)
    else:
        low, high = (float(v) for v in value)
        if not -0.5 <= low <= high <= 0.5:
            raise ValueError(f"ColorJitter: hue range must lie in [-0.5, 0.5], got {tuple(value)}")
    return None if low == high == 0.0 else (low, high)


@TRANSFORMS.register()
class ColorJitter(BaseTransform):
    """Randomly change brightness, contrast, saturation and hue, in a random order (torchvision).

    Each enabled adjustment draws its factor uniformly from its range: brightness multiplies the
    image (blend with black), contrast blends with the mean luma, saturation blends with the per-pixel
    luma, hue rotates the HSV hue by a fraction of a turn. The four are applied in a random
    permutation; factors are drawn (brightness, contrast, saturation, hue) after the permutation.

    Args:
        brightness: v gives factors in [max(0, 1 - v), 1 + v]; or a (min, max) pair. 0 disables.
        contrast: as brightness.
        saturation: as brightness.
        hue: h in [0, 0.5] gives shifts in [-h, h] turns; or a (min, max) pair in [-0.5, 0.5].

    A clip (results with ``imgs``, a list of (H, W, 3) uint8 frames, and no ``img``) is changed with
    one draw of the order and the factors for all its frames.
    """

    def __init__(
        self,
        brightness: float | Sequence[float] = 0.0,
        contrast: float | Sequence[float] = 0.0,
        saturation: float | Sequence[float] = 0.0,
        hue: float | Sequence[float] = 0.0,
    ) -> None:
        self.brightness = brightness
        self.contrast = contrast
        self.saturation = saturation
        self.hue = hue
        self._ranges = (
            _factor_range(brightness, "brightness"),
            _factor_range(contrast, "contrast"),
            _factor_range(saturation, "saturation"),
            _hue_range(hue),
        )

    _ADJUSTMENTS: tuple[Callable[[np.ndarray, float], np.ndarray], ...] = (
        image_ops.adjust_brightness,
        image_ops.adjust_contrast,
        image_ops.adjust_saturation,
        image_ops.adjust_hue,
    )

    def transform(self, results: dict) -> dict:
        # a clip (``imgs``, a list of frames, and no ``img``) gets one draw for all its frames, so
        # the colour does not flicker from frame to frame
        clip = "img" not in results and "imgs" in results
        images = list(results["imgs"]) if clip else [results["img"]]
        for img in images:
            _require_uint8(img, "ColorJitter")
        order = np.random.permutation(4)
        factors = [None if bounds is None else float(np.random.uniform(*bounds)) for bounds in self._ranges]
        adjusted = [self._adjust(img, order, factors) for img in images]
        if clip:
            results["imgs"] = adjusted
        else:
            results["img"] = adjusted[0]
        return results

    def _adjust(self, img: np.ndarray, order: np.ndarray, factors: list[float | None]) -> np.ndarray:
        for index in order:
            if factors[index] is not None:
                img = self._ADJUSTMENTS[index](img, factors[index])
        return img


def _translate(direction: str) -> Callable:
    def apply(img: np.ndarray, magnitude: float, pad_val: int | Sequence[int]) -> np.ndarray:
        length = img.shape[1] if direction == "horizontal" else img.shape[0]
        return image_ops.translate(img, magnitude * length, direction, pad_val, "nearest")

    return apply


@dataclass(frozen=True)
class _Op:
    apply: Callable[[np.ndarray, float, int | Sequence[int]], np.ndarray]
    has_magnitude: bool
    signed: bool  # the magnitude's sign is flipped with probability 0.5


# The RandAugment operations (Cubuk et al. 2020, Sec. 3; magnitudes as in timm / MMPretrain):
# enhancers take factor 1 + magnitude, shear/translate magnitudes are fractions.
RANDAUG_OPS: dict[str, _Op] = {
    "AutoContrast": _Op(lambda img, m, pad: image_ops.auto_contrast(img), False, False),
    "Equalize": _Op(lambda img, m, pad: image_ops.equalize(img), False, False),
    "Invert": _Op(lambda img, m, pad: image_ops.invert(img), False, False),
    "Rotate": _Op(lambda img, m, pad: image_ops.rotate(img, m, pad, "nearest"), True, True),
    "Posterize": _Op(lambda img, m, pad: image_ops.posterize(img, min(8, max(0, math.ceil(m)))), True, False),
    "Solarize": _Op(lambda img, m, pad: image_ops.solarize(img, m), True, False),
    "SolarizeAdd": _Op(lambda img, m, pad: image_ops.solarize_add(img, m), True, False),
    "Color": _Op(lambda img, m, pad: image_ops.adjust_saturation(img, 1.0 + m), True, True),
    "Contrast": _Op(lambda img, m, pad: image_ops.adjust_contrast(img, 1.0 + m), True, True),
    "Brightness": _Op(lambda img, m, pad: image_ops.adjust_brightness(img, 1.0 + m), True, True),
    "Sharpness": _Op(lambda img, m, pad: image_ops.adjust_sharpness(img, 1.0 + m), True, True),
    "ShearX": _Op(lambda img, m, pad: image_ops.shear(img, m, "horizontal", pad, "bicubic"), True, True),
    "ShearY": _Op(lambda img, m, pad: image_ops.shear(img, m, "vertical", pad, "bicubic"), True, True),
    "TranslateX": _Op(_translate("horizontal"), True, True),
    "TranslateY": _Op(_translate("vertical"), True, True),
}


@dataclass(frozen=True)
class AugmentPolicy:
    """One RandAugment operation and the magnitudes that levels 0 .. total_level map onto.

    ``magnitude_range=(a, b)`` maps level ``l`` to ``a + (b - a) * l / total_level`` (so ``(4, 0)``
    makes posterize stronger as the level grows). Operations without a magnitude take None.
    """

    op: str
    magnitude_range: tuple[float, float] | None = None

    def __post_init__(self) -> None:
        if self.op not in RANDAUG_OPS:
            raise ValueError(f"RandAugment: unknown op {self.op!r}; choose from {sorted(RANDAUG_OPS)}")
        needs_range = RANDAUG_OPS[self.op].has_magnitude
        if needs_range and (self.magnitude_range is None or len(self.magnitude_range) != 2):
            raise ValueError(f"RandAugment: op {self.op!r} needs magnitude_range=(low, high)")
        if not needs_range and self.magnitude_range is not None:
            raise ValueError(f"RandAugment: op {self.op!r} takes no magnitude_range")


# timm's `_RAND_INCREASING_TRANSFORMS` (magnitude grows with the level for every op), the default
# of MMPretrain's RandAugment configs.
TIMM_INCREASING_POLICIES: tuple[AugmentPolicy, ...] = (
    AugmentPolicy("AutoContrast"),
    AugmentPolicy("Equalize"),
    AugmentPolicy("Invert"),
    AugmentPolicy("Rotate", (0, 30)),
    AugmentPolicy("Posterize", (4, 0)),
    AugmentPolicy("Solarize", (256, 0)),
    AugmentPolicy("SolarizeAdd", (0, 110)),
    AugmentPolicy("Color", (0, 0.9)),
    AugmentPolicy("Contrast", (0, 0.9)),
    AugmentPolicy("Brightness", (0, 0.9)),
    AugmentPolicy("Sharpness", (0, 0.9)),
    AugmentPolicy("ShearX", (0, 0.3)),
    AugmentPolicy("ShearY", (0, 0.3)),
    AugmentPolicy("TranslateX", (0, 0.45)),
    AugmentPolicy("TranslateY", (0, 0.45)),
)


def _to_policy(spec: AugmentPolicy | Mapping | str, index: int) -> AugmentPolicy:
    if isinstance(spec, AugmentPolicy):
        return spec
    if isinstance(spec, str):
        return AugmentPolicy(spec)
    if isinstance(spec, Mapping):
        unknown = set(spec) - {"op", "magnitude_range"}
        if "op" not in spec or unknown:
            raise ValueError(
                f"RandAugment: policies[{index}] must be dict(op=NAME, magnitude_range=(low, high)), got {dict(spec)}"
            )
        magnitude_range = spec.get("magnitude_range")
        return AugmentPolicy(spec["op"], None if magnitude_range is None else tuple(magnitude_range))
    raise TypeError(
        f"RandAugment: policies[{index}] must be an op name, a dict or an AugmentPolicy, got {spec!r}"
    )


@TRANSFORMS.register()
class RandAugment(BaseTransform):
    """RandAugment (Cubuk et al., 2020): apply ``num_policies`` random ops at one shared magnitude.

    Each call draws ``num_policies`` policies with replacement; each is applied with probability
    ``prob``, at magnitude level ``magnitude_level`` (plus Gaussian noise of std ``magnitude_std``,
    clipped to [0, total_level], or uniform in [0, level] when ``magnitude_std="inf"``) mapped through
    the policy's ``magnitude_range``; signed ops flip the magnitude's sign with probability 0.5.
    This is the MMPretrain / timm variant (``rand-m9-mstd0.5-inc1`` = level 9, std 0.5).

    Args:
        policies: ``"timm_increasing"`` or a sequence of ``dict(op=NAME, magnitude_range=(a, b))``,
            op names or :class:`AugmentPolicy`. Op names: see ``RANDAUG_OPS``.
        num_policies: ops applied per image.
        magnitude_level: the shared level, in [0, total_level].
        magnitude_std: noise on the level (0: none; ``"inf"``: uniform).
        total_level: the level that maps to the end of every magnitude range.
        prob: probability of applying each drawn op.
        pad_val: fill value of rotate/shear/translate (an int, or a BGR triple).
    """

    def __init__(
        self,
        policies: str | Sequence[AugmentPolicy | Mapping | str] = "timm_increasing",
        num_policies: int = 2,
        magnitude_level: float = 9,
        magnitude_std: float | str = 0.0,
        total_level: float = 10,
        prob: float = 0.5,
        pad_val: int | Sequence[int] = 128,
    ) -> None:
        if isinstance(policies, str):
            if policies != "timm_increasing":
                raise ValueError(
                    f"RandAugment: unknown policy set {policies!r}; use 'timm_increasing' or a list"
                )
            policies = TIMM_INCREASING_POLICIES
        if len(policies) == 0 or num_policies <= 0:
            raise ValueError("RandAugment: need at least one policy and num_policies > 0")
        if total_level <= 0 or not 0 <= magnitude_level <= total_level:
            raise ValueError(
                f"RandAugment: need 0 <= magnitude_level ({magnitude_level}) <= total_level ({total_level})"
            )
        if isinstance(magnitude_std, str) and magnitude_std != "inf":
            raise ValueError(f"RandAugment: magnitude_std must be a number or 'inf', got {magnitude_std!r}")
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"RandAugment: prob must be in [0, 1], got {prob}")
        self.policies = tuple(_to_policy(spec, index) for index, spec in enumerate(policies))
        self.num_policies = num_policies
        self.magnitude_level = magnitude_level
        self.magnitude_std = magnitude_std
        self.total_level = total_level
        self.prob = prob
        self.pad_val = pad_val

    def __repr__(self) -> str:
        ops = ", ".join(
            policy.op if policy.magnitude_range is None else f"{policy.op}{tuple(policy.magnitude_range)}"
            for policy in self.policies
        )
        return (
            f"RandAugment(policies=[{ops}], num_policies={self.num_policies}, magnitude_level="
            f"{self.magnitude_level}, magnitude_std={self.magnitude_std!r}, total_level={self.total_level}, "
            f"prob={self.prob}, pad_val={self.pad_val!r})"
        )

    def _magnitude(self, policy: AugmentPolicy) -> float:
        level = float(self.magnitude_level)
        if self.magnitude_std == "inf":
            level = np.random.uniform(0, level)
        elif self.magnitude_std > 0:
            level = float(np.clip(np.random.normal(level, self.magnitude_std), 0, self.total_level))
        low, high = policy.magnitude_range
        return low + (high - low) * level / self.total_level

    def apply_policy(self, img: np.ndarray, policy: AugmentPolicy) -> np.ndarray:
        """Apply one policy (always; the caller decides on ``prob``)."""
        op = RANDAUG_OPS[policy.op]
        magnitude = self._magnitude(policy) if op.has_magnitude else 0.0
        if op.signed and np.random.rand() < 0.5:
            magnitude = -magnitude
        return op.apply(img, magnitude, self.pad_val)

    def transform(self, results: dict) -> dict:
        img = results["img"]
        _require_uint8(img, "RandAugment")
        for index in np.random.choice(len(self.policies), size=self.num_policies):
            if np.random.rand() < self.prob:
                img = self.apply_policy(img, self.policies[index])
        results["img"] = img
        return results
