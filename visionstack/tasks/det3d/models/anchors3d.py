"""3D anchors on a bird's-eye feature grid and their max-IoU assignment (PointPillars, SECOND).

Layout and order follow MMDetection3D v1.x (``Anchor3DRangeGenerator``,
``AlignedAnchor3DRangeGenerator``, ``Max3DIoUAssigner``), so that its configs and checkpoints
mean the same thing here:

- one feature level gives anchors of shape ``(D, H, W, num_sizes, num_rots, 7)`` (``D = 1`` for a
  2D feature map), LiDAR boxes ``(x, y, z, dx, dy, dz, yaw)`` with ``z`` the BOTTOM of the anchor;
  flattened (``reshape_out=True``) the row index is ``((d * H + h) * W + w) * S * R + s * R + r``,
  the order of the head's ``(A * C, H, W)`` channels after ``permute(0, 2, 3, 1)``;
- ``Anchor3DRangeGenerator`` puts the ``n`` centres of an axis on ``linspace(min, max, n)`` (both
  ends included, so they do not sit on feature cells); ``AlignedAnchor3DRangeGenerator`` on
  ``linspace(min, max, n + 1)[:n] + step / 2``, i.e. the centres of the ``n`` cells of the range
  (``align_corner=True``: their lower corners). Give the aligned generator the point-cloud range in
  x and y and the anchor centres are the centres of the feature cells;
- with ``size_per_range`` every size has its own range (PointPillars' KITTI config: a per-class
  z, the anchors' bottom: Pedestrian and Cyclist -0.6 m, Car -1.78 m), concatenated on the size
  axis;
- ``Max3DIoUAssigner`` is MMDetection's ``MaxIoUAssigner`` on a 3D IoU calculator:
  PointPillars uses ``BboxOverlapsNearest3D``, the axis-aligned BEV IoU of the boxes turned to
  their nearest axis-aligned pose. KITTI thresholds (pos / neg / min_pos): Pedestrian and Cyclist
  0.5 / 0.35 / 0.35, Car 0.6 / 0.45 / 0.45, ``ignore_iof_thr=-1``.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence

import torch

from ....models.ops.assign_result import AssignResult
from ....models.ops.assigners import MaxIoUAssigner
from ....registry import MODELS
from ..ops.iou3d import bev_iou, box3d_iou, nearest_bev_iou

__all__ = [
    "AlignedAnchor3DRangeGenerator",
    "Anchor3DRangeGenerator",
    "BboxOverlapsNearest3D",
    "MaxIoUAssigner3D",
]


@MODELS.register()
class Anchor3DRangeGenerator:
    """Anchors of fixed sizes and rotations spread over a metric range of the feature grid.

    Args:
        ranges: ``(x_min, y_min, z_min, x_max, y_max, z_max)`` per size (``size_per_range``), or
            one range for all.
        sizes: anchor sizes ``(dx, dy, dz)`` in metres.
        scales: one size multiplier per feature level.
        rotations: yaw of the anchors at every location (rad).
        custom_values: extra zero columns after the 7 box values (nuScenes velocities).
        reshape_out: flatten each level to ``(N, 7)`` in :meth:`grid_anchors`.
        size_per_range: pair every size with its own range (one range is repeated).
    """

    def __init__(
        self,
        ranges: Sequence[Sequence[float]],
        sizes: Sequence[Sequence[float]] = ((3.9, 1.6, 1.56),),
        scales: Sequence[float] = (1,),
        rotations: Sequence[float] = (0.0, 1.5707963),
        custom_values: Sequence[float] = (),
        reshape_out: bool = True,
        size_per_range: bool = True,
    ) -> None:
        ranges = [list(map(float, r)) for r in ranges]
        sizes = [list(map(float, s)) for s in sizes]
        name = type(self).__name__
        if any(len(r) != 6 for r in ranges) or any(len(s) != 3 for s in sizes):
            raise ValueError(f"{name}: ranges need 6 numbers and sizes 3, got {ranges} and {sizes}")
        if size_per_range and len(ranges) == 1:
            ranges = ranges * len(sizes)
        if size_per_range and len(ranges) != len(sizes):
            raise ValueError(f"{name}: {len(ranges)} ranges for {len(sizes)} sizes (size_per_range=True)")
        if not size_per_range and len(ranges) != 1:
            raise ValueError(f"{name}: size_per_range=False takes one range, got {len(ranges)}")
        self.ranges = ranges
        self.sizes = sizes
        self.scales = list(scales)
        self.rotations = [float(r) for r in rotations]
        self.custom_values = tuple(custom_values)
        self.reshape_out = reshape_out
        self.size_per_range = size_per_range

    @property
    def num_base_anchors(self) -> int:
        """Anchors per feature location: sizes x rotations."""
        return len(self.sizes) * len(self.rotations)

    @property
    def num_levels(self) -> int:
        return len(self.scales)

    def grid_anchors(
        self, featmap_sizes: Sequence[Sequence[int]], device: torch.device | str = "cpu"
    ) -> list[torch.Tensor]:
        """Anchors of every level: ``(D, H, W, S, R, 7 + len(custom_values))`` or flattened (N, 7+)."""
        if len(featmap_sizes) != self.num_levels:
            raise ValueError(
                f"{type(self).__name__}: {len(featmap_sizes)} feature maps for {self.num_levels} scales"
            )
        levels = []
        for featmap_size, scale in zip(featmap_sizes, self.scales):
            anchors = self.single_level_grid_anchors(featmap_size, scale, device)
            levels.append(anchors.reshape(-1, anchors.shape[-1]) if self.reshape_out else anchors)
        return levels

    def single_level_grid_anchors(
        self, featmap_size: Sequence[int], scale: float = 1, device: torch.device | str = "cpu"
    ) -> torch.Tensor:
        """``(D, H, W, S, R, 7+)`` anchors of one level (size axis in the order of ``sizes``)."""
        if not self.size_per_range:
            return self.anchors_single_range(featmap_size, self.ranges[0], scale, self.sizes, device)
        per_range = [
            self.anchors_single_range(featmap_size, anchor_range, scale, [size], device)
            for anchor_range, size in zip(self.ranges, self.sizes)
        ]
        return torch.cat(per_range, dim=-3)

    def centres(self, lo: float, hi: float, count: int, device: torch.device | str) -> torch.Tensor:
        """``count`` anchor centres on ``[lo, hi]``: both ends included (the unaligned layout)."""
        return torch.linspace(lo, hi, count, device=device)

    def anchors_single_range(
        self,
        featmap_size: Sequence[int],
        anchor_range: Sequence[float],
        scale: float,
        sizes: Sequence[Sequence[float]],
        device: torch.device | str = "cpu",
    ) -> torch.Tensor:
        """``(D, H, W, len(sizes), R, 7+)`` anchors of one range; ``featmap_size`` is (H, W) or (D, H, W)."""
        depth, height, width = (1, *featmap_size) if len(featmap_size) == 2 else tuple(featmap_size)
        z = self.centres(anchor_range[2], anchor_range[5], int(depth), device)
        y = self.centres(anchor_range[1], anchor_range[4], int(height), device)
        x = self.centres(anchor_range[0], anchor_range[3], int(width), device)
        size = torch.tensor(sizes, dtype=torch.float32, device=device).reshape(-1, 3) * scale
        rot = torch.tensor(self.rotations, dtype=torch.float32, device=device)
        shape = (len(z), len(y), len(x), size.shape[0], len(rot))
        grid_z, grid_y, grid_x, _, grid_r = torch.meshgrid(
            z, y, x, torch.arange(size.shape[0], device=device, dtype=rot.dtype), rot, indexing="ij"
        )
        dims = size[None, None, None, :, None, :].expand(*shape, 3)
        columns = [grid_x[..., None], grid_y[..., None], grid_z[..., None], dims, grid_r[..., None]]
        if self.custom_values:
            columns.append(grid_x.new_zeros(*shape, len(self.custom_values)))
        return torch.cat(columns, dim=-1)


@MODELS.register()
class AlignedAnchor3DRangeGenerator(Anchor3DRangeGenerator):
    """:class:`Anchor3DRangeGenerator` whose centres are the centres of the range's feature cells.

    Args:
        align_corner: put the anchors on the cells' lower corners instead of their centres.
        **kwargs: the arguments of :class:`Anchor3DRangeGenerator`.
    """

    def __init__(self, align_corner: bool = False, **kwargs) -> None:
        super().__init__(**kwargs)
        self.align_corner = align_corner

    def centres(self, lo: float, hi: float, count: int, device: torch.device | str) -> torch.Tensor:
        """Cell centres (or lower corners) of ``count`` equal cells on ``[lo, hi]``."""
        edges = torch.linspace(lo, hi, count + 1, device=device)
        if not self.align_corner:
            edges = edges + (edges[1] - edges[0]) / 2
        return edges[:count]


@MODELS.register()
class BboxOverlapsNearest3D:
    """MMDetection3D's PointPillars IoU calculator: IoU of the nearest axis-aligned BEV boxes.

    Call: ``(boxes_a (N, 7+), boxes_b (M, 7+)) -> (N, M)``; ``mode="iou"`` only.
    """

    def __call__(self, boxes_a: torch.Tensor, boxes_b: torch.Tensor) -> torch.Tensor:
        return nearest_bev_iou(boxes_a[:, :7], boxes_b[:, :7])


_IOU_CALCULATORS: dict[str, Callable[[torch.Tensor, torch.Tensor], torch.Tensor]] = {
    "nearest_bev": lambda a, b: nearest_bev_iou(a[:, :7], b[:, :7]),
    "bev": lambda a, b: bev_iou(a[:, [0, 1, 3, 4, 6]], b[:, [0, 1, 3, 4, 6]]),
    "3d": lambda a, b: box3d_iou(a[:, :7], b[:, :7]),
}


@MODELS.register()
@MODELS.register(name="Max3DIoUAssigner")
class MaxIoUAssigner3D(MaxIoUAssigner):
    """MMDetection's max-IoU rules on LiDAR boxes (MMDetection3D's ``Max3DIoUAssigner``).

    1. Anchors whose best IoU is below ``neg_iou_thr`` are negative (0).
    2. Anchors whose best IoU is ``>= pos_iou_thr`` take that ground truth.
    3. Every ground truth whose best IoU is ``>= min_pos_iou`` also takes its best anchors (all
       tied at that IoU): no object left without a positive; later ground truths win ties.
    Everything else is ignored (-1).

    Args:
        pos_iou_thr: IoU from which an anchor is positive.
        neg_iou_thr: anchors with best IoU in ``[0, neg_iou_thr)`` (or ``[lo, hi)``) are negative.
        min_pos_iou: least IoU of a step-3 match.
        gt_max_assign_all: step 3 takes every anchor tied at the best IoU.
        ignore_iof_thr: kept for MMDetection3D configs; only ``<= 0`` (off) is supported.
        match_low_quality: enable step 3.
        iou_calculator: ``"nearest_bev"`` (PointPillars' ``BboxOverlapsNearest3D``), ``"bev"``
            (rotated BEV IoU), ``"3d"``, or a callable ``(gts (G, 7), anchors (N, 7)) -> (G, N)``.
    """

    def __init__(
        self,
        pos_iou_thr: float,
        neg_iou_thr: float | Sequence[float],
        min_pos_iou: float = 0.0,
        gt_max_assign_all: bool = True,
        ignore_iof_thr: float = -1.0,
        match_low_quality: bool = True,
        iou_calculator: str | Callable[[torch.Tensor, torch.Tensor], torch.Tensor] = "nearest_bev",
    ) -> None:
        if ignore_iof_thr > 0:
            raise ValueError(
                "MaxIoUAssigner3D: ignore regions are not supported (ignore_iof_thr must be <= 0)"
            )
        super().__init__(
            pos_iou_thr, neg_iou_thr, min_pos_iou, gt_max_assign_all, ignore_iof_thr, match_low_quality
        )
        if isinstance(iou_calculator, str):
            if iou_calculator not in _IOU_CALCULATORS:
                raise ValueError(
                    f"MaxIoUAssigner3D: unknown iou_calculator {iou_calculator!r}; "
                    f"choose one of {sorted(_IOU_CALCULATORS)} or pass a callable"
                )
            iou_calculator = _IOU_CALCULATORS[iou_calculator]
        self.iou_calculator = iou_calculator

    def assign(  # type: ignore[override]
        self, anchors: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor
    ) -> AssignResult:
        """Assign (N, 7) LiDAR anchors to (G, 7) LiDAR ground truths with (G,) labels."""
        num_gts, num_anchors = gt_boxes.shape[0], anchors.shape[0]
        if num_gts == 0 or num_anchors == 0:
            return AssignResult.all_negative(num_gts, num_anchors, anchors.device)
        overlaps = self.iou_calculator(gt_boxes, anchors)  # (G, N)
        best_iou, best_gt = overlaps.max(dim=0)
        gt_inds = torch.full((num_anchors,), -1, dtype=torch.long, device=anchors.device)
        low, high = self.neg_iou_range
        gt_inds[(best_iou >= low) & (best_iou < high)] = 0
        positive = best_iou >= self.pos_iou_thr
        gt_inds[positive] = best_gt[positive] + 1
        if self.match_low_quality:
            self._match_low_quality(overlaps, gt_inds)
        labels = torch.full_like(gt_inds, -1)
        matched = gt_inds > 0
        labels[matched] = gt_labels.long()[gt_inds[matched] - 1]
        max_overlaps = torch.where(
            matched,
            overlaps[(gt_inds - 1).clamp(min=0), torch.arange(num_anchors, device=anchors.device)],
            best_iou,
        )
        return AssignResult(num_gts=num_gts, gt_inds=gt_inds, max_overlaps=max_overlaps, labels=labels)
