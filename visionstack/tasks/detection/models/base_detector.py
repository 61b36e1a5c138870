"""What the detector frames share: their parts, the detection data preprocessor, samples for a bare
batch, and the checks of an export forward's inputs."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ....models.base_model import BaseModel
from ....structures import DataSample, InstanceData
from .data_preprocessor import DetDataPreprocessor

__all__ = ["BaseDetector"]


class BaseDetector(BaseModel):
    """Base of :class:`SingleStageDetector` and :class:`TwoStageDetector`: ``backbone``, optional
    ``neck`` and the frame's heads, a :class:`DetDataPreprocessor` by default.

    Args:
        data_preprocessor: a built preprocessor; a plain dict (no ``type``) is taken as
            :class:`DetDataPreprocessor` keyword arguments; None gives ``DetDataPreprocessor()``.
        backbone: module mapping (N, 3, H, W) images to a tuple of feature maps.
        neck: optional module mapping that tuple to another tuple (e.g. FPN).
        heads: the frame's heads by attribute name, registered in this order after the neck.

    Raises:
        TypeError: when the backbone or a head is not a built ``nn.Module``.
    """

    def __init__(
        self,
        data_preprocessor: nn.Module | Mapping[str, Any] | None,
        backbone: nn.Module,
        neck: nn.Module | None,
        **heads: nn.Module,
    ) -> None:
        if data_preprocessor is None:
            data_preprocessor = DetDataPreprocessor()
        elif isinstance(data_preprocessor, Mapping):
            data_preprocessor = DetDataPreprocessor(**data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor)
        for name, module in (("backbone", backbone), *heads.items()):
            if not isinstance(module, nn.Module):
                raise TypeError(
                    f"{type(self).__name__}: {name} must be a built nn.Module (a config dict with 'type' "
                    f"is built by the registry), got {type(module).__name__}"
                )
        self.backbone = backbone
        self.neck = neck
        for name, module in heads.items():
            setattr(self, name, module)

    @staticmethod
    def samples_for_batch(inputs: torch.Tensor) -> list[DataSample]:
        """Data samples for a (N, 3, H, W) batch given without any: its shape as every image's."""
        shape = tuple(inputs.shape[-2:])
        return [
            DataSample(metainfo=dict(img_shape=shape, ori_shape=shape, batch_input_shape=shape))
            for _ in range(inputs.shape[0])
        ]

    @staticmethod
    def add_pred_to_datasample(
        data_samples: list[DataSample], results: Sequence[InstanceData]
    ) -> list[DataSample]:
        """Set ``pred_instances`` of each sample to the matching head result."""
        if len(results) != len(data_samples):
            raise RuntimeError(f"the head returned {len(results)} results for {len(data_samples)} images")
        for sample, instances in zip(data_samples, results):
            sample.pred_instances = instances
        return data_samples

    @staticmethod
    def check_export_inputs(
        inputs: torch.Tensor, img_shape: torch.Tensor, scale_factor: torch.Tensor
    ) -> None:
        """Raise ValueError unless ``inputs`` is (B, 3, H, W) and ``img_shape``, ``scale_factor`` are (B, 2)."""
        if inputs.ndim != 4:
            raise ValueError(f"export_forward: inputs must be (B, 3, H, W), got shape {tuple(inputs.shape)}")
        for name, value in (("img_shape", img_shape), ("scale_factor", scale_factor)):
            if value.ndim != 2 or value.shape[1] != 2:
                raise ValueError(f"export_forward: {name} must be (B, 2), got shape {tuple(value.shape)}")
