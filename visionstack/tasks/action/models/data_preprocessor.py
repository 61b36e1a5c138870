"""ActionDataPreprocessor: stack packed clips into a float batch (MMAction2's ``ActionDataPreprocessor``)."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ....models.data_preprocessor import DataPreprocessor
from ....registry import MODELS

FORMATS = ("NCHW", "NCTHW", None)


@MODELS.register()
class ActionDataPreprocessor(DataPreprocessor):
    """Stack, cast, BGR -> RGB and normalise clips on the model's device.

    Args:
        mean, std: per-channel statistics in 0-255 units, RGB order after ``bgr_to_rgb``; None
            leaves the values.
        bgr_to_rgb: reverse the channel axis (the decoders give BGR frames).
        format_shape: the layout of each packed input: ``"NCHW"`` (2D models: (views * frames, C,
            H, W)), ``"NCTHW"`` (3D models: (views, C, T, H, W)) or None (skeletons: (views, M, T,
            V, C) keypoints, only cast to float and stacked).
        **kwargs: other :class:`~visionstack.models.DataPreprocessor` options (``non_blocking``...).

    Call:
        ``{"inputs": list of B packed tensors (uint8 frames or float keypoints), "data_samples"}``
        -> ``{"inputs": float (B, *packed shape), "data_samples"}``; the channel axis is axis 2 of
        the batch for both image formats.
    """

    def __init__(
        self,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        bgr_to_rgb: bool = False,
        format_shape: str | None = "NCHW",
        **kwargs: Any,
    ) -> None:
        if format_shape not in FORMATS:
            raise ValueError(
                f"ActionDataPreprocessor: format_shape must be one of {FORMATS}, got {format_shape!r}"
            )
        if format_shape is None and (mean is not None or bgr_to_rgb):
            raise ValueError(
                "ActionDataPreprocessor: format_shape=None (skeletons) takes no mean/std or bgr_to_rgb"
            )
        super().__init__(mean, std, bgr_to_rgb=bgr_to_rgb, **kwargs)
        self.format_shape = format_shape

    def _preprocess_inputs(self, inputs: Any) -> tuple[Any, tuple[int, int] | None]:
        if self.format_shape is not None:
            return super()._preprocess_inputs(inputs)
        if isinstance(inputs, (list, tuple)):
            if not inputs:
                raise ValueError("ActionDataPreprocessor: 'inputs' is an empty list")
            shapes = {tuple(item.shape) for item in inputs}
            if len(shapes) > 1:
                raise ValueError(f"ActionDataPreprocessor: keypoint inputs differ in shape: {sorted(shapes)}")
            inputs = torch.stack([torch.as_tensor(item) for item in inputs])
        return self._move(inputs).float(), None

    def _convert(self, image: torch.Tensor, owned: bool = False) -> torch.Tensor:
        if self.format_shape != "NCTHW":
            return super()._convert(image, owned)
        # (..., C, T, H, W): put C where the base class expects it, (..., T, C, H, W), and back
        if image.ndim < 4:
            raise ValueError(
                f"ActionDataPreprocessor: NCTHW inputs need (..., C, T, H, W), got {tuple(image.shape)}"
            )
        return super()._convert(image.transpose(-4, -3), owned).transpose(-4, -3).contiguous()
