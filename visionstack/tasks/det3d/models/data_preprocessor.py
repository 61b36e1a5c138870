"""Det3DDataPreprocessor: point clouds -> voxels on the model's device (MMDetection3D v1.x's).

The collated batch ``{"inputs": {"points": [(N_i, C) tensors], "img": optional}, "data_samples":
[...]}`` becomes ``{"inputs": {"points": [...], "voxels": {...}}, "data_samples": [...]}``:

- ``voxel_type="hard"``: every cloud is voxelised on its own (H2's hard voxelisation: at most
  ``max_num_points`` points per voxel, at most ``max_voxels`` voxels — the training or the test
  limit, chosen by the ``training`` flag of the call), then the clouds' voxels are concatenated and
  the batch index is prepended to the coordinates: ``voxels`` (M, P, C) float, ``num_points`` (M,)
  int64, ``coors`` (M, 4) int64 (batch, z, y, x).
- ``voxel_type="dynamic"``: every point keeps its own row: ``voxels`` (N, C) (the in-range points of
  all clouds), ``coors`` (N, 4) int64 (batch, z, y, x); points outside the range are dropped here
  (MMDetection3D keeps them with -1 coordinates and lets the encoder drop them).

Images (a camera branch), when present under ``img``, are normalised and padded by the base class.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from ....models.data_preprocessor import DataPreprocessor
from ....registry import MODELS
from ..ops.voxelize import Voxelization, dynamic_voxelize, hard_voxelize

__all__ = ["Det3DDataPreprocessor"]

_VOXEL_KEYS = ("voxel_size", "point_cloud_range", "max_num_points", "max_voxels", "deterministic")


@MODELS.register()
class Det3DDataPreprocessor(DataPreprocessor):
    """Move point clouds to the device and voxelise them (see the module docstring).

    Args:
        voxel: voxelise (False only moves the points: point-based models).
        voxel_type: ``"hard"`` or ``"dynamic"``.
        voxel_layer: :class:`~..ops.voxelize.Voxelization` arguments: ``voxel_size`` (3,),
            ``point_cloud_range`` (6,), ``max_num_points`` (P), ``max_voxels`` (train, test) or one int
            for both (hard only).
        mean, std, bgr_to_rgb, pad_size_divisor, pad_value, non_blocking: the image options of
            :class:`~visionstack.models.data_preprocessor.DataPreprocessor` (for ``img``).
    """

    def __init__(
        self,
        voxel: bool = True,
        voxel_type: str = "hard",
        voxel_layer: Mapping[str, Any] | None = None,
        mean: Sequence[float] | None = None,
        std: Sequence[float] | None = None,
        bgr_to_rgb: bool = False,
        pad_size_divisor: int = 1,
        pad_value: float = 0.0,
        non_blocking: bool = False,
    ) -> None:
        super().__init__(
            mean=mean,
            std=std,
            bgr_to_rgb=bgr_to_rgb,
            pad_size_divisor=pad_size_divisor,
            pad_value=pad_value,
            image_keys=("img", "imgs"),
            non_blocking=non_blocking,
        )
        name = type(self).__name__
        if voxel_type not in ("hard", "dynamic"):
            raise ValueError(f"{name}: voxel_type must be 'hard' or 'dynamic', got {voxel_type!r}")
        self.voxel = voxel
        self.voxel_type = voxel_type
        self.voxel_layer = None
        if voxel:
            if voxel_layer is None:
                raise ValueError(
                    f"{name}: voxel=True needs voxel_layer=dict(voxel_size, point_cloud_range, ...)"
                )
            unknown = sorted(set(voxel_layer) - set(_VOXEL_KEYS))
            if unknown:
                raise ValueError(
                    f"{name}: voxel_layer has unknown keys {unknown}; accepted: {list(_VOXEL_KEYS)}"
                )
            cfg = {"max_num_points": 32 if voxel_type == "hard" else -1, "max_voxels": (16000, 40000)}
            cfg.update(voxel_layer)
            self.voxel_layer = Voxelization(**cfg)

    def forward(self, data: Mapping[str, Any], training: bool = False) -> dict[str, Any]:
        """Preprocess one collated batch (module docstring); ``training`` picks the max voxel count."""
        inputs = data.get("inputs") if isinstance(data, Mapping) else None
        if not isinstance(inputs, Mapping) or "points" not in inputs:
            raise TypeError(
                f"{type(self).__name__} expects {{'inputs': {{'points': [tensors], ...}}, 'data_samples': [...]}}"
            )
        batch = super().forward(data, training=training)
        points = list(batch["inputs"]["points"])
        batch["inputs"]["points"] = points
        if self.voxel:
            batch["inputs"]["voxels"] = self.voxelize(points, training)
        return batch

    def voxelize(self, points: Sequence[torch.Tensor], training: bool = False) -> dict[str, torch.Tensor]:
        """Voxelise each (N_i, C) cloud and concatenate with the batch index prepended to the coors."""
        layer = self.voxel_layer
        if self.voxel_type == "dynamic":
            feats, coors = [], []
            for index, cloud in enumerate(points):
                cell = dynamic_voxelize(cloud, layer.voxel_size, layer.point_cloud_range)
                keep = (cell >= 0).all(dim=1)
                feats.append(cloud[keep])
                coors.append(F.pad(cell[keep].long(), (1, 0), value=index))
            return {"voxels": torch.cat(feats), "coors": torch.cat(coors)}
        if layer.max_num_points < 1:
            raise ValueError(f"{type(self).__name__}: hard voxelisation needs max_num_points >= 1")
        max_voxels = layer.max_voxels[0 if training else 1]  # by the call's flag, not the module mode
        voxels, coors, counts = [], [], []
        for index, cloud in enumerate(points):
            cloud_voxels, cloud_coors, cloud_counts = hard_voxelize(
                cloud, layer.voxel_size, layer.point_cloud_range, layer.max_num_points, max_voxels
            )
            voxels.append(cloud_voxels)
            coors.append(F.pad(cloud_coors.long(), (1, 0), value=index))
            counts.append(cloud_counts.long())
        return {"voxels": torch.cat(voxels), "num_points": torch.cat(counts), "coors": torch.cat(coors)}
