"""The data preprocessor: the first step of every model, run on the model's device.

It turns a collated batch (``{"inputs": list of uint8 (C, H, W) BGR tensors, "data_samples": list}``)
into a normalised float batch: move to the device, cast to float, BGR -> RGB, ``(x - mean) / std``,
pad to a common size and stack, and, while training, apply batch augmentations (Mixup, CutMix).
Doing this on the device keeps DataLoader workers light and lets images of different sizes travel
uncollated until here.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import MODELS
from ..structures import LabelData

BatchAugment = Callable[[torch.Tensor, list], tuple[torch.Tensor, list]]


@MODELS.register()
class DataPreprocessor(nn.Module):
    """Normalise, pad and stack a batch of images; apply batch augmentations while training.

    Args:
        mean: per-channel mean in the input's units (0-255 for uint8 images), in the channel order
            after the optional BGR -> RGB swap; None skips normalisation (then ``std`` must be None).
        std: per-channel standard deviation, same units and order as ``mean``.
        bgr_to_rgb: reverse the channel order of 3-channel inputs (images are loaded BGR).
        pad_size_divisor: the padded batch height and width are multiples of this.
        pad_value: value of padded pixels, in normalised units (padding follows normalisation).
        seg_pad_value: value given to the padded pixels of each sample's ``gt_sem_seg`` map, which is
            padded (bottom and right) to the batch size together with its image (255 = ignore).
        num_classes: when given and batch augmentations run, samples without ``gt_label.score`` get
            a one-hot (multi-hot) score of this length before mixing.
        batch_augments: callables ``(inputs, data_samples) -> (inputs, data_samples)`` applied in
            order, only when ``training=True``.
        non_blocking: ``non_blocking`` of the host-to-device copies.

    Call:
        ``preprocessor(data, training=False)`` with ``data = {"inputs": list of (C, H_i, W_i) or
        (N, C, H, W), "data_samples": list | None}`` returns ``{"inputs": float (N, C, H, W),
        "data_samples": list | None}`` on the module's device. Each sample gets the metainfo
        ``batch_input_shape`` and ``pad_shape`` (both (H, W) of the stacked batch).
    """

    def __init__(
        self,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        bgr_to_rgb: bool = False,
        pad_size_divisor: int = 1,
        pad_value: float = 0.0,
        seg_pad_value: int = 255,
        num_classes: int | None = None,
        batch_augments: Sequence[BatchAugment] | None = None,
        non_blocking: bool = False,
    ) -> None:
        super().__init__()
        if (mean is None) != (std is None):
            raise ValueError("DataPreprocessor: give both mean and std, or neither")
        if mean is not None and len(mean) != len(std):
            raise ValueError(f"DataPreprocessor: mean has {len(mean)} channels but std has {len(std)}")
        if pad_size_divisor < 1:
            raise ValueError(f"DataPreprocessor: pad_size_divisor must be >= 1, got {pad_size_divisor}")
        self.normalize = mean is not None
        if self.normalize:
            self.register_buffer("mean", torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), persistent=False)
            self.register_buffer("std", torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), persistent=False)
        # an empty buffer follows the module across ``.to(device)`` and tells us where to put data
        self.register_buffer("_device_probe", torch.empty(0), persistent=False)
        self.bgr_to_rgb = bgr_to_rgb
        self.pad_size_divisor = pad_size_divisor
        self.pad_value = pad_value
        self.seg_pad_value = seg_pad_value
        self.num_classes = num_classes
        self.batch_augments = list(batch_augments or [])
        self.non_blocking = non_blocking

    @property
    def device(self) -> torch.device:
        return self._device_probe.device

    def forward(self, data: dict[str, Any], training: bool = False) -> dict[str, Any]:
        """Preprocess one collated batch (see the class docstring)."""
        if not isinstance(data, dict) or "inputs" not in data:
            raise TypeError(f"DataPreprocessor expects a dict with 'inputs' (and 'data_samples'), got {type(data)}")
        images = self._to_float_list(data["inputs"])
        height, width = self._padded_size(images)
        if all(image.shape == images[0].shape for image in images):  # one batched op
            batch = self._pad(self._convert(torch.stack(images)), height, width)
        else:
            batch = torch.stack([self._pad(self._convert(image), height, width) for image in images])
        data_samples = data.get("data_samples")
        if data_samples is not None:
            data_samples = [self._move(sample) for sample in data_samples]
            shape = tuple(batch.shape[-2:])
            for sample in data_samples:
                if hasattr(sample, "set_metainfo"):
                    sample.set_metainfo({"batch_input_shape": shape, "pad_shape": shape})
                self._pad_seg_map(sample, *shape)
        if training and self.batch_augments:
            batch, data_samples = self._augment(batch, data_samples)
        return {"inputs": batch, "data_samples": data_samples}

    def _move(self, value: Any) -> Any:
        if hasattr(value, "to"):
            return value.to(self.device, non_blocking=self.non_blocking)
        return value

    def _to_float_list(self, inputs: Any) -> list[torch.Tensor]:
        if isinstance(inputs, torch.Tensor):
            if inputs.ndim != 4:
                raise ValueError(f"DataPreprocessor: a stacked batch must be (N, C, H, W), got {tuple(inputs.shape)}")
            inputs = list(self._move(inputs).float())  # one copy for the whole batch
        if not isinstance(inputs, (list, tuple)) or not inputs:
            raise TypeError("DataPreprocessor: 'inputs' must be a non-empty list of (C, H, W) tensors or (N, C, H, W)")
        images = []
        for index, image in enumerate(inputs):
            if not isinstance(image, torch.Tensor) or image.ndim != 3:
                shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
                raise ValueError(f"DataPreprocessor: input {index} must be a (C, H, W) tensor, got {shape}")
            images.append(self._move(image).float())
        return images

    def _convert(self, image: torch.Tensor) -> torch.Tensor:
        """BGR -> RGB and normalisation of a float (C, H, W) image or (N, C, H, W) batch."""
        channels = image.shape[-3]
        if self.bgr_to_rgb:
            if channels != 3:
                raise ValueError(f"DataPreprocessor: bgr_to_rgb=True needs 3-channel images, got {channels} channels")
            image = image.flip(-3)
        if self.normalize:
            if channels != self.mean.shape[0]:
                raise ValueError(
                    f"DataPreprocessor: mean/std have {self.mean.shape[0]} channels but an image has {channels}"
                )
            image = (image - self.mean) / self.std
        return image

    def _padded_size(self, images: list[torch.Tensor]) -> tuple[int, int]:
        """The batch maximum height and width, rounded up to ``pad_size_divisor``."""
        divisor = self.pad_size_divisor
        height = math.ceil(max(image.shape[-2] for image in images) / divisor) * divisor
        width = math.ceil(max(image.shape[-1] for image in images) / divisor) * divisor
        return height, width

    def _pad(self, image: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Pad a (..., H, W) image at the bottom and right to (height, width) with ``pad_value``."""
        if image.shape[-2:] == (height, width):
            return image
        return F.pad(image, (0, width - image.shape[-1], 0, height - image.shape[-2]), value=self.pad_value)

    def _pad_seg_map(self, sample: Any, height: int, width: int) -> None:
        """Pad ``sample.gt_sem_seg.data`` to (height, width) with ``seg_pad_value``, like its image."""
        seg = getattr(sample, "gt_sem_seg", None)
        data = getattr(seg, "data", None) if seg is not None else None
        if data is None or tuple(data.shape[-2:]) == (height, width):
            return
        if data.shape[-2] > height or data.shape[-1] > width:
            raise ValueError(
                f"DataPreprocessor: gt_sem_seg of {sample.metainfo.get('img_path')!r} is {tuple(data.shape[-2:])}, "
                f"larger than the batch {(height, width)}; the map and its image must have the same size"
            )
        pad = (0, width - data.shape[-1], 0, height - data.shape[-2])
        seg.data = F.pad(data, pad, value=self.seg_pad_value)

    def _augment(self, batch: torch.Tensor, data_samples: list | None) -> tuple[torch.Tensor, list]:
        if data_samples is None:
            raise ValueError("DataPreprocessor: batch augmentations need data_samples with gt_label")
        if self.num_classes is not None:
            for sample in data_samples:
                if "score" not in sample.gt_label:
                    sample.gt_label.score = LabelData.label_to_onehot(sample.gt_label.label, self.num_classes)
        for augment in self.batch_augments:
            batch, data_samples = augment(batch, data_samples)
        return batch, data_samples
