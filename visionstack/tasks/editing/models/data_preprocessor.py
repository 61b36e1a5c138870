"""The data preprocessor of the editing models: normalise inputs and ground truths the same way, and back.

Inputs go through :class:`~visionstack.models.data_preprocessor.DataPreprocessor` (BGR -> RGB,
``(x - mean) / std``, stack). Float inputs (a noisy image in 0..255 units, neither clipped nor
rounded) are normalised as they are: no clipping. The ground truths are normalised by
:meth:`EditDataPreprocessor.normalize_gt` with the same constants (what the losses compare the
output with), and an output goes back to an 8-bit BGR image with :meth:`EditDataPreprocessor.to_image`:
``x * std + mean``, RGB -> BGR, ``torch.round`` (half to even, as ``np.round`` in the deploy
runtime), clamp to 0..255.

Usual constants: super-resolution and denoising ``mean=(0, 0, 0), std=(255, 255, 255)`` (the net
sees [0, 1]); inpainting and GANs ``mean=(127.5, ...), std=(127.5, ...)`` ([-1, 1]); grayscale
images take one value each and ``bgr_to_rgb=False``.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import torch

from ....models.data_preprocessor import DataPreprocessor
from ....registry import MODELS

__all__ = ["EditDataPreprocessor"]


@MODELS.register()
class EditDataPreprocessor(DataPreprocessor):
    """Normalise images (and ground truths) for the editing models; turn outputs back into images.

    Args:
        mean: per-channel mean in 0..255 units, RGB order (after the swap).
        std: per-channel std in 0..255 units.
        bgr_to_rgb: reverse the channel order of 3-channel images (loaded BGR).
        pad_size_divisor, pad_value: as :class:`DataPreprocessor` (1 and 0: no padding for
            equal-sized batches; the nets pad to their own divisor themselves).
        **kwargs: other :class:`DataPreprocessor` arguments.
    """

    def __init__(
        self,
        mean: Sequence[float] | None = (0.0, 0.0, 0.0),
        std: Sequence[float] | None = (255.0, 255.0, 255.0),
        bgr_to_rgb: bool = True,
        pad_size_divisor: int = 1,
        pad_value: float = 0.0,
        **kwargs: Any,
    ) -> None:
        super().__init__(
            mean=mean,
            std=std,
            bgr_to_rgb=bgr_to_rgb,
            pad_size_divisor=pad_size_divisor,
            pad_value=pad_value,
            **kwargs,
        )

    def normalize_gt(self, gt: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        """Ground-truth images -> the normalised float batch the outputs are compared with.

        Args:
            gt: uint8 or float (N, C, H, W) BGR images in 0..255 units (or a list of equal-sized
                (C, H, W) ones).

        Returns:
            float32 (N, C, H, W), RGB when ``bgr_to_rgb``, on this module's device.
        """
        if not isinstance(gt, torch.Tensor):
            shapes = {tuple(image.shape) for image in gt}
            if len(shapes) != 1:
                raise ValueError(
                    f"{type(self).__name__}.normalize_gt: ground truths of one batch must share a size, got {sorted(shapes)}"
                )
            gt = torch.stack(list(gt))
        if gt.ndim != 4:
            raise ValueError(
                f"{type(self).__name__}.normalize_gt: expected (N, C, H, W), got {tuple(gt.shape)}"
            )
        return self._convert(self._move(gt))

    def stack_gt(self, data_samples: Sequence[Any], field: str = "gt_img") -> torch.Tensor:
        """The samples' ``field.data`` images (uint8 (C, H, W) BGR), stacked and normalised.

        A sample without the field is an error naming its image.
        """
        images = []
        for sample in data_samples:
            pixel_data = getattr(sample, field, None)
            if pixel_data is None or getattr(pixel_data, "data", None) is None:
                raise ValueError(
                    f"{type(self).__name__}: sample {sample.metainfo.get('img_path', '?')!r} has no {field}; "
                    "the training pipeline must load or copy a ground truth ('gt') and pack it"
                )
            images.append(pixel_data.data)
        return self.normalize_gt(images)

    def to_image(self, output: torch.Tensor) -> torch.Tensor:
        """Normalised float (N, C, H, W) outputs -> uint8 (N, C, H, W) BGR images.

        ``x * std + mean``, RGB -> BGR when ``bgr_to_rgb``, round half to even, clamp to 0..255.
        """
        if output.ndim != 4:
            raise ValueError(
                f"{type(self).__name__}.to_image: expected (N, C, H, W), got {tuple(output.shape)}"
            )
        image = output.detach().float()
        if self.normalize:
            image = image * self.std.to(image.device) + self.mean.to(image.device)
        if self.bgr_to_rgb:
            if image.shape[1] != 3:
                raise ValueError(
                    f"{type(self).__name__}: bgr_to_rgb=True needs 3 channels, got {image.shape[1]}"
                )
            image = image.flip(1)
        return torch.round(image).clamp_(0, 255).to(torch.uint8)
