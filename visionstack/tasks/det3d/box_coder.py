"""MMDetection3D's ``DeltaXYZWLHRBBoxCoder``: the regression targets of the PointPillars / SECOND heads.

Boxes are (..., 7+) LiDAR boxes ``(x, y, z, dx, dy, dz, yaw, *extra)`` with (x, y, z) the bottom
centre. For an anchor ``a`` and a target ``g`` (VoxelNet, Zhou and Tuzel 2018, eq. 1; SECOND's sizes
and angle difference):

    za' = za + dza / 2, zg' = zg + dzg / 2        (centres, not bottoms)
    d = sqrt(dxa ** 2 + dya ** 2)                  (the anchor's BEV diagonal)
    t = ((xg - xa) / d, (yg - ya) / d, (zg' - za') / dza,
         log(dxg / dxa), log(dyg / dya), log(dzg / dza), yawg - yawa, *(extra_g - extra_a))
"""

from __future__ import annotations

import torch

from ...registry import MODELS

__all__ = ["DeltaXYZWLHRBBoxCoder"]


@MODELS.register()
class DeltaXYZWLHRBBoxCoder:
    """Encode and decode LiDAR boxes as deltas from anchors (MMDetection3D's coder of that name).

    Args:
        code_size: columns of a box and of a delta (7, or more with extra values such as velocities,
            which are encoded as plain differences).
    """

    def __init__(self, code_size: int = 7) -> None:
        if code_size < 7:
            raise ValueError(f"DeltaXYZWLHRBBoxCoder: code_size must be >= 7, got {code_size}")
        self.code_size = code_size

    def encode(self, anchors: torch.Tensor, gt_boxes: torch.Tensor) -> torch.Tensor:
        """Deltas (..., code_size) that turn ``anchors`` (..., code_size) into ``gt_boxes`` (..., code_size)."""
        xa, ya, za, dxa, dya, dza, ra = anchors[..., :7].unbind(-1)
        xg, yg, zg, dxg, dyg, dzg, rg = gt_boxes[..., :7].unbind(-1)
        za = za + dza / 2
        zg = zg + dzg / 2
        diagonal = torch.sqrt(dxa * dxa + dya * dya)
        deltas = [
            (xg - xa) / diagonal,
            (yg - ya) / diagonal,
            (zg - za) / dza,
            torch.log(dxg / dxa),
            torch.log(dyg / dya),
            torch.log(dzg / dza),
            rg - ra,
        ]
        extra = gt_boxes[..., 7:] - anchors[..., 7:]
        return torch.cat([torch.stack(deltas, dim=-1), extra], dim=-1)

    def decode(self, anchors: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
        """Boxes (..., code_size) from ``anchors`` (..., code_size) and ``deltas`` (..., code_size).

        The yaw is ``yaw_anchor + delta`` without wrapping (the heads limit it after the direction
        classifier, as MMDetection3D).
        """
        xa, ya, za, dxa, dya, dza, ra = anchors[..., :7].unbind(-1)
        xt, yt, zt, dxt, dyt, dzt, rt = deltas[..., :7].unbind(-1)
        za = za + dza / 2
        diagonal = torch.sqrt(dxa * dxa + dya * dya)
        dzg = torch.exp(dzt) * dza
        boxes = [
            xt * diagonal + xa,
            yt * diagonal + ya,
            zt * dza + za - dzg / 2,
            torch.exp(dxt) * dxa,
            torch.exp(dyt) * dya,
            dzg,
            rt + ra,
        ]
        extra = deltas[..., 7:] + anchors[..., 7:]
        return torch.cat([torch.stack(boxes, dim=-1), extra], dim=-1)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(code_size={self.code_size})"
