"""Voxel feature encoders: a voxel's (up to P) points -> one feature vector (MMDetection3D's).

``PillarFeatureNet`` is PointPillars' encoder (Lang et al., "PointPillars: Fast Encoders for Object
Detection from Point Clouds", CVPR 2019, section 2.1): every point of a pillar is decorated with its
offset from the pillar's point mean and from the pillar's geometric centre, a shared linear layer +
BatchNorm + ReLU maps each point, and a max over the pillar's points gives the pillar feature.
``HardSimpleVFE`` is the plain mean of the points (SECOND's and CenterPoint's voxel input).

Parameter names follow MMDetection3D (``pfn_layers.0.linear.weight``, ``pfn_layers.0.norm.*``) so its
checkpoints load by name.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ....registry import MODELS

__all__ = ["PFNLayer", "PillarFeatureNet", "HardSimpleVFE", "batch_norm_kwargs", "padding_mask"]

_BN_TYPES = ("BN", "BN1d", "BN2d", "BatchNorm", "BatchNorm1d", "BatchNorm2d")


def batch_norm_kwargs(norm_cfg: Mapping[str, Any] | None, owner: str) -> dict[str, float]:
    """BatchNorm keyword arguments (``eps``, ``momentum``) from an MMDetection3D-style ``norm_cfg``.

    Configs give ``norm_cfg=dict(eps=1e-3, momentum=0.01)`` (no ``type``: the registry would try to
    build a dict with ``type``); a ``type`` naming a BatchNorm (``"BN1d"``, ``"BN"``...) is accepted when
    the module is built directly. PointPillars/SECOND use eps 1e-3 and momentum 0.01 (MMDetection3D's
    defaults), which is what None gives.
    """
    if norm_cfg is None:
        return {"eps": 1e-3, "momentum": 0.01}
    cfg = dict(norm_cfg)
    kind = cfg.pop("type", "BN")
    if kind not in _BN_TYPES:
        raise ValueError(
            f"{owner}: norm_cfg type {kind!r} is not supported; only BatchNorm ({', '.join(_BN_TYPES)})"
        )
    unknown = sorted(set(cfg) - {"eps", "momentum"})
    if unknown:
        raise ValueError(f"{owner}: norm_cfg keys {unknown} are not supported; use eps and momentum")
    return {"eps": float(cfg.get("eps", 1e-3)), "momentum": float(cfg.get("momentum", 0.01))}


def padding_mask(num_points: torch.Tensor, max_points: int) -> torch.Tensor:
    """(M, P) bool: True for the real points of each voxel (index < ``num_points``), False for padding."""
    arange = torch.arange(max_points, device=num_points.device, dtype=num_points.dtype)
    return arange.unsqueeze(0) < num_points.unsqueeze(1)


@MODELS.register()
class PFNLayer(nn.Module):
    """One pillar feature layer: per-point linear (no bias) + BatchNorm1d + ReLU, then max (or mean)
    over the pillar's points.

    Args:
        in_channels: C_in of the decorated points.
        out_channels: C_out; a layer that is not the last outputs each point's half-width feature
            concatenated with the pillar's pooled one (so its linear is ``out_channels // 2`` wide).
        norm_cfg: BatchNorm ``eps``/``momentum`` (see :func:`batch_norm_kwargs`).
        last_layer: return the pooled (M, 1, C_out) feature only.
        mode: ``"max"`` or ``"avg"`` pooling over the points.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        norm_cfg: Mapping[str, Any] | None = None,
        last_layer: bool = False,
        mode: str = "max",
    ) -> None:
        super().__init__()
        if mode not in ("max", "avg"):
            raise ValueError(f"PFNLayer: mode must be 'max' or 'avg', got {mode!r}")
        self.last_vfe = last_layer
        self.units = out_channels if last_layer else out_channels // 2
        self.mode = mode
        self.linear = nn.Linear(in_channels, self.units, bias=False)
        self.norm = nn.BatchNorm1d(self.units, **batch_norm_kwargs(norm_cfg, "PFNLayer"))

    def forward(self, inputs: torch.Tensor, num_points: torch.Tensor | None = None) -> torch.Tensor:
        """(M, P, C_in) -> (M, 1, C_out) for the last layer, else (M, P, C_out).

        ``num_points`` (M,) is needed by ``mode="avg"`` (padded points are zero, so the sum is right).
        """
        x = self.linear(inputs)
        x = F.relu(self.norm(x.transpose(1, 2)).transpose(1, 2))
        if self.mode == "max":
            pooled = x.max(dim=1, keepdim=True).values
        else:
            if num_points is None:
                raise ValueError("PFNLayer(mode='avg') needs num_points")
            pooled = x.sum(dim=1, keepdim=True) / num_points.to(x.dtype).view(-1, 1, 1).clamp(min=1)
        if self.last_vfe:
            return pooled
        return torch.cat([x, pooled.expand(-1, inputs.shape[1], -1)], dim=2)


@MODELS.register()
class PillarFeatureNet(nn.Module):
    """PointPillars' pillar encoder: decorate the points, PFN layers, pool -> (M, C_out).

    The decorated point is ``[x, y, z, r, ...]`` (the ``in_channels`` raw features) followed by, when
    enabled, the offset from the pillar's point mean (3: ``with_cluster_center``), the offset from the
    pillar's centre (3: ``with_voxel_center``; x and y from the pillar's grid cell, z from the voxel
    row ``coors[:, 1]`` — 0 for pillars, so the z offset is from the range's mid height) and the
    distance to the sensor (1: ``with_distance``): 4 + 3 + 3 = 10 channels by default, as
    MMDetection3D v1.x (the paper's 9 omit the z centre offset). Padded point rows are zeroed after
    decoration.

    Args:
        in_channels: raw point channels C (x, y, z, intensity, ...).
        feat_channels: widths of the PFN layers; the last one is the output width.
        with_distance: append ``||(x, y, z)||``.
        with_cluster_center: append the offset from the pillar's point mean.
        with_voxel_center: append the offset from the pillar's centre.
        voxel_size: (vx, vy, vz) in metres.
        point_cloud_range: (x_min, y_min, z_min, x_max, y_max, z_max).
        norm_cfg: BatchNorm ``eps``/``momentum`` (see :func:`batch_norm_kwargs`).
        mode: ``"max"`` or ``"avg"`` pooling.
        legacy: MMDetection3D's ``legacy=True`` behaviour (its default, kept for old checkpoints):
            the centre offsets are written over the raw x, y, z (an in-place bug), so the raw
            coordinates are lost and the offsets appear twice. False (default here) keeps them.
    """

    def __init__(
        self,
        in_channels: int = 4,
        feat_channels: Sequence[int] = (64,),
        with_distance: bool = False,
        with_cluster_center: bool = True,
        with_voxel_center: bool = True,
        voxel_size: Sequence[float] = (0.2, 0.2, 4.0),
        point_cloud_range: Sequence[float] = (0.0, -40.0, -3.0, 70.4, 40.0, 1.0),
        norm_cfg: Mapping[str, Any] | None = None,
        mode: str = "max",
        legacy: bool = False,
    ) -> None:
        super().__init__()
        if not feat_channels:
            raise ValueError("PillarFeatureNet: feat_channels must name at least one layer width")
        if len(voxel_size) != 3 or len(point_cloud_range) != 6:
            raise ValueError(
                f"PillarFeatureNet: voxel_size needs 3 values and point_cloud_range 6, got "
                f"{list(voxel_size)} and {list(point_cloud_range)}"
            )
        self.legacy = legacy
        self.raw_channels = in_channels
        in_channels += 3 * with_cluster_center + 3 * with_voxel_center + 1 * with_distance
        self.in_channels = in_channels
        self._with_distance = with_distance
        self._with_cluster_center = with_cluster_center
        self._with_voxel_center = with_voxel_center
        widths = [in_channels, *feat_channels]
        self.pfn_layers = nn.ModuleList(
            PFNLayer(widths[i], widths[i + 1], norm_cfg, last_layer=i == len(widths) - 2, mode=mode)
            for i in range(len(widths) - 1)
        )
        self.out_channels = widths[-1]
        self.vx, self.vy, self.vz = (float(v) for v in voxel_size)
        # the centre of cell (0, 0, 0) in metres
        self.x_offset = self.vx / 2 + float(point_cloud_range[0])
        self.y_offset = self.vy / 2 + float(point_cloud_range[1])
        self.z_offset = self.vz / 2 + float(point_cloud_range[2])

    def decorate(self, features: torch.Tensor, num_points: torch.Tensor, coors: torch.Tensor) -> torch.Tensor:
        """(M, P, C) points, (M,) counts, (M, 4) (batch, z, y, x) -> (M, P, in_channels), padding zeroed."""
        xyz = features[:, :, :3]
        parts = [features]
        if self._with_cluster_center:
            mean = xyz.sum(dim=1, keepdim=True) / num_points.to(features.dtype).view(-1, 1, 1).clamp(min=1)
            parts.append(xyz - mean)
        if self._with_voxel_center:
            cell = coors[:, [3, 2, 1]].to(features.dtype)  # (x, y, z) cell indices
            size = features.new_tensor([self.vx, self.vy, self.vz])
            offset = features.new_tensor([self.x_offset, self.y_offset, self.z_offset])
            centre_offset = xyz - (cell * size + offset).unsqueeze(1)
            if self.legacy:
                parts[0] = torch.cat([centre_offset, features[:, :, 3:]], dim=2)
            parts.append(centre_offset)
        if self._with_distance:
            parts.append(torch.linalg.vector_norm(parts[0][:, :, :3], dim=2, keepdim=True))
        decorated = torch.cat(parts, dim=2)
        mask = padding_mask(num_points, features.shape[1]).unsqueeze(-1)
        return decorated * mask.to(decorated.dtype)

    def forward(self, features: torch.Tensor, num_points: torch.Tensor, coors: torch.Tensor) -> torch.Tensor:
        """Pillar features.

        Args:
            features: (M, P, C) points of each pillar, zero padded (hard voxelisation's ``voxels``).
            num_points: (M,) real points per pillar (int or float).
            coors: (M, 4) (batch, z, y, x) grid cells.

        Returns:
            (M, feat_channels[-1]).
        """
        x = self.decorate(features, num_points, coors)
        for layer in self.pfn_layers:
            x = layer(x, num_points)
        return x.squeeze(1)


@MODELS.register()
class HardSimpleVFE(nn.Module):
    """The mean of each voxel's real points (padding excluded): (M, P, C) -> (M, num_features).

    Args:
        num_features: channels kept (the first ``num_features`` of C).
    """

    def __init__(self, num_features: int = 4) -> None:
        super().__init__()
        self.num_features = num_features
        self.out_channels = num_features

    def forward(
        self, features: torch.Tensor, num_points: torch.Tensor, coors: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(M, P, C) zero-padded points, (M,) counts -> (M, num_features) means."""
        total = features[:, :, : self.num_features].sum(dim=1)
        return total / num_points.to(features.dtype).clamp(min=1).unsqueeze(1)
