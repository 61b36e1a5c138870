"""SSD's photometric distortion (Liu et al. 2016, Sec. 3; MMDetection's ``PhotoMetricDistortion``)."""

from __future__ import annotations

import cv2
import numpy as np

from ...registry import TRANSFORMS
from .base import BaseTransform

__all__ = ["PhotoMetricDistortion"]


@TRANSFORMS.register()
class PhotoMetricDistortion(BaseTransform):
    """Random brightness, contrast, saturation, hue and channel swap, each applied with probability 1/2.

    The sequence (in float32, on 0..255 BGR values, as MMDetection): add a brightness delta in
    ``[-brightness_delta, brightness_delta]``; multiply by a contrast factor, either now or at the end
    (a coin decides); convert to HSV (OpenCV float: H in [0, 360), S in [0, 1]); multiply S by a
    saturation factor (clipped to [0, 1] when the factor exceeds 1); add a hue shift in degrees
    (wrapped into [0, 360)); convert back to BGR; the late contrast; permute the channels.
    Unlike MMDetection, the result is rounded and clipped back to uint8, since images stay uint8
    until the data preprocessor here.

    Draw order (``np.random``): mode, the five coins (brightness, contrast, saturation, hue, swap),
    then the five values (delta, contrast, saturation, hue, permutation), all drawn every call.

    Args:
        brightness_delta: the largest brightness change, in grey levels.
        contrast_range: the contrast factor's range.
        saturation_range: the saturation factor's range.
        hue_delta: the largest hue shift, in degrees.
        swap_channels: permute the channels (MMDetection's recipe). MMSegmentation's distortion has no
            channel swap: segmentation configs pass False, so colour stays a cue (the coin and the
            permutation are still drawn, so the other draws do not depend on this setting).
    """

    def __init__(
        self,
        brightness_delta: int = 32,
        contrast_range: tuple[float, float] = (0.5, 1.5),
        saturation_range: tuple[float, float] = (0.5, 1.5),
        hue_delta: int = 18,
        swap_channels: bool = True,
    ) -> None:
        for name, (low, high) in (("contrast_range", contrast_range), ("saturation_range", saturation_range)):
            if not 0 <= low <= high:
                raise ValueError(
                    f"PhotoMetricDistortion: {name} must satisfy 0 <= min <= max, got {(low, high)}"
                )
        if brightness_delta < 0 or not 0 <= hue_delta <= 180:
            raise ValueError(
                f"PhotoMetricDistortion: need brightness_delta >= 0 and 0 <= hue_delta <= 180, "
                f"got {brightness_delta}, {hue_delta}"
            )
        self.brightness_delta = brightness_delta
        self.contrast_range = tuple(contrast_range)
        self.saturation_range = tuple(saturation_range)
        self.hue_delta = hue_delta
        self.swap_channels = swap_channels

    def draw(self) -> dict:
        """The random choices of one call (see the class docstring for the order)."""
        mode = int(np.random.randint(2))
        coins = [bool(np.random.randint(2)) for _ in range(5)]
        return {
            "contrast_first": mode == 1,
            "brightness": coins[0],
            "contrast": coins[1],
            "saturation": coins[2],
            "hue": coins[3],
            "swap": coins[4] and self.swap_channels,
            "delta": float(np.random.uniform(-self.brightness_delta, self.brightness_delta)),
            "alpha": float(np.random.uniform(*self.contrast_range)),
            "saturation_factor": float(np.random.uniform(*self.saturation_range)),
            "hue_shift": float(np.random.uniform(-self.hue_delta, self.hue_delta)),
            "permutation": np.random.permutation(3),
        }

    def distort(self, img: np.ndarray, choice: dict) -> np.ndarray:
        """Apply the drawn ``choice`` to an (H, W, 3) BGR image; returns float32."""
        img = img.astype(np.float32)
        if choice["brightness"]:
            img += choice["delta"]
        if choice["contrast_first"] and choice["contrast"]:
            img *= choice["alpha"]
        hsv = cv2.cvtColor(img, cv2.COLOR_BGR2HSV)
        if choice["saturation"]:
            hsv[..., 1] *= choice["saturation_factor"]
            if choice["saturation_factor"] > 1:
                hsv[..., 1] = hsv[..., 1].clip(0, 1)
        if choice["hue"]:
            hue = hsv[..., 0] + choice["hue_shift"]
            hsv[..., 0] = np.where(hue >= 360, hue - 360, np.where(hue < 0, hue + 360, hue))
        img = cv2.cvtColor(hsv, cv2.COLOR_HSV2BGR)
        if not choice["contrast_first"] and choice["contrast"]:
            img *= choice["alpha"]
        if choice["swap"]:
            img = img[..., choice["permutation"]]
        return img

    def transform(self, results: dict) -> dict:
        img = results["img"]
        if img.ndim != 3 or img.shape[2] != 3:
            raise ValueError(f"PhotoMetricDistortion needs an (H, W, 3) BGR image, got shape {img.shape}")
        distorted = self.distort(img, self.draw())
        results["img"] = np.ascontiguousarray(np.clip(np.rint(distorted), 0, 255).astype(np.uint8))
        return results
