"""The data preprocessor: the first step of every model, run on the model's device.

The base class is image-only. It turns a collated batch (``{"inputs": list of uint8 (C, H, W) BGR
tensors, "data_samples": list}``) into a normalised float batch: move to the device, BGR -> RGB,
cast to float, ``(x - mean) / std``, pad (bottom and right) to a common size and stack. Doing this
on the device keeps DataLoader workers light and lets images of different sizes travel uncollated
until here.

What a task adds (Mixup/CutMix and soft labels, padding masks or label maps with their image) lives
in the task's own subclass (``ClsDataPreprocessor``, ``DetDataPreprocessor``,
``SegDataPreProcessor``), through two hooks: :meth:`DataPreprocessor.pad_annotations` (per sample,
once the batch size is known) and :meth:`DataPreprocessor.augment_batch` (while training).

``inputs`` may also be a dict (families with several inputs per sample, e.g. images and point
clouds): the entries named in ``image_keys`` are processed as images, every other entry is only
moved to the device (tensors, and lists, tuples and dicts of them).
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ..registry import MODELS

__all__ = ["DataPreprocessor", "move_to_device"]

# Keys the base class took before each task got its own preprocessor, and where they went.
_TASK_KEYS = {
    "num_classes": "type='ClsDataPreprocessor'",
    "batch_augments": "type='ClsDataPreprocessor' (or 'DetDataPreprocessor', 'SegDataPreProcessor')",
    "seg_pad_value": "type='SegDataPreProcessor' (with seg_pad_val)",
}


def move_to_device(value: Any, device: torch.device, non_blocking: bool = False) -> Any:
    """Move a tensor (or anything with ``.to``, e.g. a DataSample) to ``device``; recurse into lists,
    tuples and dicts; return other values unchanged."""
    if isinstance(value, Mapping):
        return {key: move_to_device(item, device, non_blocking) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(move_to_device(item, device, non_blocking) for item in value)
    if hasattr(value, "to"):
        return value.to(device, non_blocking=non_blocking)
    return value


@MODELS.register()
class DataPreprocessor(nn.Module):
    """Normalise, pad and stack a batch of images on the module's device.

    Args:
        mean: per-channel mean in the input's units (0-255 for uint8 images), in the channel order
            after the optional BGR -> RGB swap; None skips normalisation (then ``std`` must be None).
        std: per-channel standard deviation, same units and order as ``mean``.
        bgr_to_rgb: reverse the channel order of 3-channel inputs (images are loaded BGR).
        pad_size_divisor: the padded batch height and width are multiples of this.
        pad_value: value of padded pixels, in normalised units (padding follows normalisation).
        pad_min_size: the smallest padded ``(w, h)`` (also rounded up to ``pad_size_divisor``);
            None pads to the largest image only.
        image_keys: when ``inputs`` is a dict, the entries holding images; the others are moved to
            the device unchanged.
        non_blocking: ``non_blocking`` of the host-to-device copies.
        num_classes: moved to ``ClsDataPreprocessor``; giving it here is an error naming that class.
        batch_augments: moved to the task preprocessors; giving it here is an error.
        seg_pad_value: moved to ``SegDataPreProcessor``; giving it here is an error.

    Call:
        ``preprocessor(data, training=False)`` with ``data = {"inputs": ..., "data_samples": list |
        None}`` returns ``{"inputs": ..., "data_samples": list | None}`` on the module's device
        (``data_samples`` may also be one collated tensor of targets, moved as a whole).
        ``inputs`` is a list of (C, H_i, W_i) images (or (..., C, H_i, W_i), e.g. (T, C, H_i, W_i)
        clips, all with the same leading sizes), or a stacked (N, ..., C, H, W) tensor; it becomes
        a float (N, ..., C, H, W) batch. A dict ``inputs`` comes back as a dict with each image entry
        turned into such a batch. Each sample gets the metainfo ``batch_input_shape`` and
        ``pad_shape``, both (H, W) of the padded batch (of the first image entry of a dict; a dict
        without image entries sets none).
    """

    def __init__(
        self,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        bgr_to_rgb: bool = False,
        pad_size_divisor: int = 1,
        pad_value: float = 0.0,
        pad_min_size: tuple[int, int] | None = None,
        image_keys: Sequence[str] = ("img", "imgs"),
        non_blocking: bool = False,
        *,
        num_classes: int | None = None,
        batch_augments: Sequence[Any] | None = None,
        seg_pad_value: int | None = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        given = {"num_classes": num_classes, "batch_augments": batch_augments, "seg_pad_value": seg_pad_value}
        for key, value in given.items():
            if value is not None:
                raise TypeError(
                    f"{name}: {key}={value!r} is task work the image-only DataPreprocessor no longer does; "
                    f"use the task's preprocessor, {_TASK_KEYS[key]}"
                )
        if (mean is None) != (std is None):
            raise ValueError(f"{name}: give both mean and std, or neither")
        if mean is not None and len(mean) != len(std):
            raise ValueError(f"{name}: mean has {len(mean)} channels but std has {len(std)}")
        if pad_size_divisor < 1:
            raise ValueError(f"{name}: pad_size_divisor must be >= 1, got {pad_size_divisor}")
        if pad_min_size is not None and (len(pad_min_size) != 2 or min(pad_min_size) <= 0):
            raise ValueError(f"{name}: pad_min_size must be a positive (w, h) pair, got {pad_min_size!r}")
        self.normalize = mean is not None
        if self.normalize:
            self.register_buffer(
                "mean", torch.tensor(mean, dtype=torch.float32).view(-1, 1, 1), persistent=False
            )
            self.register_buffer(
                "std", torch.tensor(std, dtype=torch.float32).view(-1, 1, 1), persistent=False
            )
        # an empty buffer follows the module across ``.to(device)`` and tells us where to put data
        self.register_buffer("_device_probe", torch.empty(0), persistent=False)
        self.bgr_to_rgb = bgr_to_rgb
        self.pad_size_divisor = pad_size_divisor
        self.pad_value = pad_value
        self.pad_min_size = None if pad_min_size is None else (int(pad_min_size[0]), int(pad_min_size[1]))
        self.image_keys = tuple(image_keys)
        self.non_blocking = non_blocking
        # set by the config's ``channels_last`` (engine.speed_options): hand over (N, H, W, C) batches
        self.channels_last = False

    @property
    def device(self) -> torch.device:
        return self._device_probe.device

    def forward(self, data: Mapping[str, Any], training: bool = False) -> dict[str, Any]:
        """Preprocess one collated batch (see the class docstring)."""
        if not isinstance(data, Mapping) or "inputs" not in data:
            raise TypeError(
                f"{type(self).__name__} expects a dict with 'inputs' (and 'data_samples'), got {type(data)}"
            )
        inputs, batch_shape = self._preprocess_inputs(data["inputs"])
        data_samples = data.get("data_samples")
        if isinstance(data_samples, torch.Tensor):
            # a collated tensor of targets (e.g. labels stacked by default_collate): one move, no metainfo
            data_samples = self._move(data_samples)
        elif data_samples is not None:
            data_samples = [self._move(sample) for sample in data_samples]
            if batch_shape is not None:
                for sample in data_samples:
                    if hasattr(sample, "set_metainfo"):
                        sample.set_metainfo({"batch_input_shape": batch_shape, "pad_shape": batch_shape})
                    self.pad_annotations(sample, *batch_shape)
        if training:
            inputs, data_samples = self.augment_batch(inputs, data_samples)
        if self.channels_last and isinstance(inputs, torch.Tensor) and inputs.ndim == 4:
            inputs = inputs.contiguous(memory_format=torch.channels_last)
        return {"inputs": inputs, "data_samples": data_samples}

    # ---- hooks of the task preprocessors ---------------------------------------------------------

    def pad_annotations(self, sample: Any, height: int, width: int) -> None:
        """Bring a sample's per-pixel annotations to the padded batch size (H, W); tasks override.

        The base pads nothing; it refuses a ``gt_sem_seg`` label map that its padded image no longer
        matches (SegDataPreProcessor pads those with the image).
        """
        seg = getattr(sample, "gt_sem_seg", None)
        data = getattr(seg, "data", None) if seg is not None else None
        if data is not None and tuple(data.shape[-2:]) != (height, width):
            raise ValueError(
                f"{type(self).__name__} pads images only, but gt_sem_seg of "
                f"{sample.metainfo.get('img_path')!r} is {tuple(data.shape[-2:])} in a batch padded to "
                f"{(height, width)}; use type='SegDataPreProcessor', which pads the map with its image"
            )

    def augment_batch(self, inputs: Any, data_samples: list | None) -> tuple[Any, list | None]:
        """Batch augmentations, run while training only; the base has none (tasks override)."""
        return inputs, data_samples

    # ---- images -----------------------------------------------------------------------------------

    def preprocess_images(self, images: torch.Tensor | Sequence[torch.Tensor]) -> torch.Tensor:
        """Images -> float batch: move, BGR -> RGB, normalise, pad and stack.

        Args:
            images: (C, H_i, W_i) or (..., C, H_i, W_i) tensors with equal leading sizes, or a
                stacked (N, ..., C, H, W) tensor.

        Returns:
            float (N, ..., C, H, W), H and W the padded batch size.
        """
        name = type(self).__name__
        if isinstance(images, torch.Tensor):
            if images.ndim < 4:
                raise ValueError(
                    f"{name}: a stacked batch must be (N, C, H, W) or (N, ..., C, H, W), got {tuple(images.shape)}"
                )
            batch = self._convert(self._move(images))  # one op for the whole batch, no split and restack
            return self._pad(batch, *self._padded_size([batch]))
        if not isinstance(images, (list, tuple)) or not images:
            raise TypeError(f"{name}: 'inputs' must be a non-empty list of (C, H, W) tensors or (N, C, H, W)")
        for index, image in enumerate(images):
            if not isinstance(image, torch.Tensor) or image.ndim < 3:
                shape = tuple(image.shape) if isinstance(image, torch.Tensor) else type(image).__name__
                raise ValueError(
                    f"{name}: input {index} must be a (C, H, W) tensor (or (..., C, H, W)), got {shape}"
                )
        height, width = self._padded_size(images)
        first = images[0]
        if all(image.shape == first.shape and image.device == first.device for image in images):
            # stack before the copy to the device and the cast: one transfer of the uint8 batch
            return self._pad(self._convert(self._move(torch.stack(list(images))), owned=True), height, width)
        converted = [self._convert(self._move(image)) for image in images]
        leading = converted[0].shape[:-2]
        batch = converted[0].new_full((len(converted), *leading, height, width), self.pad_value)
        for index, image in enumerate(converted):
            if image.shape[:-2] != leading:
                raise ValueError(
                    f"{name}: input {index} is {tuple(image.shape)} but input 0 is {tuple(converted[0].shape)}; "
                    "only the last two (H, W) sizes may differ"
                )
            batch[index, ..., : image.shape[-2], : image.shape[-1]] = image
        return batch

    def _preprocess_inputs(self, inputs: Any) -> tuple[Any, tuple[int, int] | None]:
        """Images or a dict of entries -> (processed inputs, padded (H, W) or None)."""
        if not isinstance(inputs, Mapping):
            batch = self.preprocess_images(inputs)
            return batch, tuple(batch.shape[-2:])
        processed, batch_shape = {}, None
        for key, value in inputs.items():
            if key in self.image_keys:
                processed[key] = self.preprocess_images(value)
                if batch_shape is None:
                    batch_shape = tuple(processed[key].shape[-2:])
            else:
                processed[key] = move_to_device(value, self.device, self.non_blocking)
        return processed, batch_shape

    def _move(self, value: Any) -> Any:
        if hasattr(value, "to"):
            return value.to(self.device, non_blocking=self.non_blocking)
        return value

    def _convert(self, image: torch.Tensor, owned: bool = False) -> torch.Tensor:
        """Cast to float, BGR -> RGB and normalise a (..., C, H, W) tensor.

        ``owned``: ``image`` is a copy made here (e.g. by ``torch.stack``), so it may be normalised in
        place. In-place and out-of-place ``(x - mean) / std`` give the same bits; in place saves two
        batch-sized allocations (and their page faults) per call.
        """
        name = type(self).__name__
        channels = image.shape[-3]
        owned = owned or image.dtype != torch.float32  # ``.float()`` copies
        image = image.float()  # before the flip: flipping float tensors is faster than uint8 ones on CPUs
        if self.bgr_to_rgb:
            if channels != 3:
                raise ValueError(f"{name}: bgr_to_rgb=True needs 3-channel images, got {channels} channels")
            image, owned = image.flip(-3), True
        if self.normalize:
            if channels != self.mean.shape[0]:
                raise ValueError(
                    f"{name}: mean/std have {self.mean.shape[0]} channels but an image has {channels}"
                )
            if owned and self.mean.dtype == image.dtype and self.std.dtype == image.dtype:
                image = image.sub_(self.mean).div_(self.std)
            else:
                image = (image - self.mean) / self.std
        return image

    def _padded_size(self, images: Sequence[torch.Tensor]) -> tuple[int, int]:
        """The batch's largest height and width (at least ``pad_min_size``), rounded up to
        ``pad_size_divisor``."""
        divisor = self.pad_size_divisor
        height = math.ceil(max(image.shape[-2] for image in images) / divisor) * divisor
        width = math.ceil(max(image.shape[-1] for image in images) / divisor) * divisor
        if self.pad_min_size is not None:
            width = max(width, math.ceil(self.pad_min_size[0] / divisor) * divisor)
            height = max(height, math.ceil(self.pad_min_size[1] / divisor) * divisor)
        return height, width

    def _pad(self, batch: torch.Tensor, height: int, width: int) -> torch.Tensor:
        """Pad a (..., H, W) tensor at the bottom and right to (height, width) with ``pad_value``."""
        if batch.shape[-2:] == (height, width):
            return batch
        return F.pad(batch, (0, width - batch.shape[-1], 0, height - batch.shape[-2]), value=self.pad_value)
