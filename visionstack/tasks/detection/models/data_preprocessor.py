"""DetDataPreprocessor: the detection flavour of the data preprocessor.

The shared image-only :class:`visionstack.models.DataPreprocessor` (normalise / pad / stack, the
padded size written to every sample as ``batch_input_shape`` and ``pad_shape``) with the detection
defaults (padding to multiples of 32 so every FPN stride divides the batch), optional padding of the
ground-truth masks with their image, and batch augmentations that see ``gt_instances`` (e.g.
multi-scale resizing of the batch).

Besides the batch shape, every sample gets ``image_pad_shape``: its own image's (H, W) rounded up
to ``pad_size_divisor``. That is what MMDetection's DetDataPreprocessor writes as ``pad_shape`` and
what its dense heads derive their valid priors from (:func:`~.dense_inference.valid_prior_flags`:
priors in the padding a smaller image gets from a larger one are neither assigned nor in the
loss). visionstack's ``pad_shape`` stays the batch shape, as the shared DataPreprocessor writes it
for every task (and its callers and tests expect); hence the separate key.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch

from ....models.batch_augments import BatchAugment, run_batch_augments
from ....models.data_preprocessor import DataPreprocessor
from ....registry import MODELS
from ....structures import BitmapMasks, PolygonMasks


@MODELS.register()
class DetDataPreprocessor(DataPreprocessor):
    """Normalise, pad (to multiples of ``pad_size_divisor``) and stack a detection batch.

    Args:
        mean, std: as :class:`~visionstack.models.DataPreprocessor`; its other options
            (``bgr_to_rgb``, ``pad_value``, ``pad_min_size``, ``non_blocking`` ...) pass through by
            keyword.
        pad_size_divisor: batch height and width are multiples of this (32 covers strides 8..32 and
            an FPN with extra levels rounds down harmlessly).
        pad_mask: pad ``gt_instances.masks`` of each sample to the batch size (for mask heads); polygon
            masks are rasterised first.
        mask_pad_value: value of padded mask pixels.
        batch_augments: callables ``(inputs, data_samples) -> (inputs, data_samples)`` applied in
            order while training, after padding; they must keep ``gt_instances`` consistent.

    Call:
        ``preprocessor({"inputs": list of uint8 (3, H_i, W_i), "data_samples": list[DataSample]},
        training)`` -> ``{"inputs": float (N, 3, H, W), "data_samples": ...}``; every sample gets
        ``batch_input_shape`` and ``pad_shape`` = (H, W) of the stacked batch and ``image_pad_shape``
        = (H_i, W_i) of its own image rounded up to ``pad_size_divisor`` (before any batch augment;
        MMDetection's per-image ``pad_shape``, read by the dense heads' valid-prior rule). The
        images are padded at the bottom and right, so box coordinates are unchanged.
    """

    def __init__(
        self,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        *,
        pad_size_divisor: int = 32,
        pad_mask: bool = False,
        mask_pad_value: int = 0,
        batch_augments: Sequence[BatchAugment] | None = None,
        **kwargs: Any,
    ) -> None:
        super().__init__(mean, std, pad_size_divisor=pad_size_divisor, **kwargs)
        self.pad_mask = pad_mask
        self.mask_pad_value = mask_pad_value
        self.batch_augments = list(batch_augments or [])

    def forward(self, data: Mapping[str, Any], training: bool = False) -> dict[str, Any]:
        """The shared preprocessing, then each sample's ``image_pad_shape`` (see the class docstring)."""
        image_shapes = self._image_shapes(data.get("inputs") if isinstance(data, Mapping) else None)
        out = super().forward(data, training)
        samples = out.get("data_samples")
        if image_shapes is None or not isinstance(samples, list) or len(samples) != len(image_shapes):
            return out
        divisor = self.pad_size_divisor
        for sample, (height, width) in zip(samples, image_shapes):
            if hasattr(sample, "set_metainfo"):
                padded = (math.ceil(height / divisor) * divisor, math.ceil(width / divisor) * divisor)
                sample.set_metainfo({"image_pad_shape": padded})
        return out

    @staticmethod
    def _image_shapes(inputs: Any) -> list[tuple[int, int]] | None:
        """(H_i, W_i) of each unpadded input image; None for inputs that are not images."""
        if isinstance(inputs, torch.Tensor) and inputs.ndim >= 4:
            return [tuple(inputs.shape[-2:])] * inputs.shape[0]
        if isinstance(inputs, Sequence) and inputs and all(isinstance(i, torch.Tensor) for i in inputs):
            return [tuple(image.shape[-2:]) for image in inputs]
        return None

    def pad_annotations(self, sample: Any, height: int, width: int) -> None:
        """Pad the sample's ``gt_instances.masks`` (bottom/right) to the batch size when ``pad_mask``;
        polygon masks are rasterised first."""
        if not self.pad_mask:
            return
        instances = sample.get("gt_instances")
        if instances is None or "masks" not in instances:
            return
        masks = instances.masks
        if isinstance(masks, PolygonMasks):
            masks = masks.to_bitmap()
        if not isinstance(masks, BitmapMasks):
            raise TypeError(
                f"DetDataPreprocessor: pad_mask=True needs BitmapMasks or PolygonMasks in gt_instances.masks, "
                f"got {type(masks).__name__}"
            )
        instances.masks = masks.pad((width, height), pad_val=self.mask_pad_value)  # pad takes (w, h)

    def augment_batch(
        self, inputs: torch.Tensor, data_samples: list | None
    ) -> tuple[torch.Tensor, list | None]:
        """The batch augments in order (training only); they must keep ``gt_instances`` consistent."""
        return run_batch_augments(
            self.batch_augments, inputs, data_samples, type(self).__name__, "gt_instances"
        )
