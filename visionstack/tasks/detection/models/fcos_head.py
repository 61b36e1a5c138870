"""FCOS's anchor-free head (Tian et al., "FCOS: Fully Convolutional One-Stage Object Detection", ICCV 2019).

Every feature-map position (a point at the center of its stride cell) predicts C sigmoid class
scores, its distances ``(l, t, r, b)`` to the four sides of the object box (section 3.1) and a
centerness ``sqrt(min(l, r) / max(l, r) * min(t, b) / max(t, b))`` (section 3.3) that down-weights
boxes predicted far from an object's center at test time. A point is positive for the smallest
object that contains it (or, with center sampling, whose center region of ``radius * stride`` it
lies in) and whose largest distance falls in its level's regression range (section 3.2).
Losses: focal loss over all points, IoU loss on the positives' boxes weighted by the centerness
target, and binary cross-entropy on the centerness of the positives.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ....models.layers import bias_init_with_prob
from ....models.losses.bce_loss import BCEWithLogitsLoss
from ....models.losses.focal_loss import FocalLoss
from ....models.losses.iou_loss import IoULoss
from ....models.ops import DistancePointBBoxCoder, MlvlPointGenerator
from ....registry import MODELS
from ....structures import DataSample
from .dense_inference import DenseHeadInference, TopPairs, levels_to_rows
from .retina_head import NormFactory, conv_tower, init_head_convs
from .single_stage import unpack_gt_instances
from .test_config import DetTestConfig

__all__ = ["FCOSHead", "Scale", "centerness_target"]

INF = 1e8
DEFAULT_REGRESS_RANGES = ((-1.0, 64.0), (64.0, 128.0), (128.0, 256.0), (256.0, 512.0), (512.0, INF))


class Scale(nn.Module):
    """A learnable scalar multiplier (FCOS shares the regression head across levels, section 3.2)."""

    def __init__(self, scale: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.tensor(float(scale)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x * self.scale


def centerness_target(distances: torch.Tensor) -> torch.Tensor:
    """(P, 4) ``(l, t, r, b)`` distances -> (P,) centerness (FCOS eq. 3)."""
    if distances.numel() == 0:
        return distances.new_zeros(0)
    left_right, top_bottom = distances[:, [0, 2]], distances[:, [1, 3]]
    ratio = (left_right.min(-1).values / left_right.max(-1).values) * (
        top_bottom.min(-1).values / top_bottom.max(-1).values
    )
    return torch.sqrt(ratio.clamp(min=0))


@MODELS.register()
class FCOSHead(DenseHeadInference, nn.Module):
    """FCOS head: per-point classification, ltrb regression and centerness.

    Args:
        num_classes: object classes C (sigmoid scores).
        in_channels: channels of every input level.
        stacked_convs: convs per tower (4 in the paper).
        feat_channels: channels of the tower convs.
        strides: stride of each input level.
        regress_ranges: per level ``(low, high)``: a point of that level regresses an object only if
            its largest distance lies in the range.
        center_sampling: positives only within ``center_sample_radius * stride`` of the object's
            center (clipped to the box), FCOS's "center sampling" improvement.
        center_sample_radius: the radius in strides (1.5).
        norm_on_bbox: regress distances divided by the level's stride, with ReLU instead of exp.
        centerness_on_reg: predict centerness from the regression tower instead of the
            classification tower.
        loss_cls: default ``FocalLoss(gamma=2, alpha=0.25)``.
        loss_bbox: default ``IoULoss()`` (MMDetection 3.x FCOS; the improved config uses ``GIoULoss``).
        loss_centerness: default ``BCEWithLogitsLoss()``.
        norm_layer: optional norm factory in the towers (GroupNorm(32) in the paper's head).
        prior_prob: initial foreground probability of the classifier.
        test_cfg: :class:`DetTestConfig` or its dict; scores are multiplied by the centerness
            after the score threshold and before NMS
            (:class:`~visionstack.tasks.detection.models.dense_inference.DenseHeadInference`).

    Shapes:
        ``head(feats)`` returns ``(cls_scores, bbox_preds, centernesses)``: lists of (N, C, H_l, W_l),
        (N, 4, H_l, W_l) non-negative distances (in pixels, or in strides with ``norm_on_bbox``)
        and (N, 1, H_l, W_l) centerness logits.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        stacked_convs: int = 4,
        feat_channels: int = 256,
        strides: Sequence[int] = (8, 16, 32, 64, 128),
        regress_ranges: Sequence[Sequence[float]] = DEFAULT_REGRESS_RANGES,
        center_sampling: bool = False,
        center_sample_radius: float = 1.5,
        norm_on_bbox: bool = False,
        centerness_on_reg: bool = False,
        loss_cls: nn.Module | None = None,
        loss_bbox: nn.Module | None = None,
        loss_centerness: nn.Module | None = None,
        norm_layer: NormFactory | None = None,
        prior_prob: float = 0.01,
        test_cfg: DetTestConfig | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if len(regress_ranges) != len(strides):
            raise ValueError(
                f"FCOSHead: {len(regress_ranges)} regress_ranges for {len(strides)} strides; give one range per level"
            )
        self.num_classes = num_classes
        self.strides = [int(s) for s in strides]
        self.regress_ranges = [(float(low), float(high)) for low, high in regress_ranges]
        self.center_sampling = center_sampling
        self.center_sample_radius = center_sample_radius
        self.norm_on_bbox = norm_on_bbox
        self.centerness_on_reg = centerness_on_reg
        self.prior_generator = MlvlPointGenerator(self.strides, offset=0.5)
        self.bbox_coder = DistancePointBBoxCoder()
        self.loss_cls = loss_cls or FocalLoss(gamma=2.0, alpha=0.25, loss_weight=1.0)
        self.loss_bbox = loss_bbox or IoULoss(loss_weight=1.0)
        self.loss_centerness = loss_centerness or BCEWithLogitsLoss(loss_weight=1.0)
        self.test_cfg = DetTestConfig.from_value(test_cfg, "FCOSHead", unused=("mask_thr_binary",))
        self.cls_convs = conv_tower(in_channels, feat_channels, stacked_convs, norm_layer)
        self.reg_convs = conv_tower(in_channels, feat_channels, stacked_convs, norm_layer)
        tower_out = feat_channels if stacked_convs > 0 else in_channels
        self.conv_cls = nn.Conv2d(tower_out, num_classes, 3, padding=1)
        self.conv_reg = nn.Conv2d(tower_out, 4, 3, padding=1)
        self.conv_centerness = nn.Conv2d(tower_out, 1, 3, padding=1)
        self.scales = nn.ModuleList(Scale(1.0) for _ in self.strides)
        init_head_convs(self)
        nn.init.constant_(self.conv_cls.bias, bias_init_with_prob(prior_prob))

    def forward(
        self, feats: Sequence[torch.Tensor]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """Raw per-level outputs (see the class docstring)."""
        if len(feats) != len(self.strides):
            raise ValueError(
                f"FCOSHead: got {len(feats)} feature levels for {len(self.strides)} strides; make the neck's "
                "num_outs match the head's strides"
            )
        cls_scores, bbox_preds, centernesses = [], [], []
        for x, scale in zip(feats, self.scales):
            cls_feat, reg_feat = self.cls_convs(x), self.reg_convs(x)
            cls_scores.append(self.conv_cls(cls_feat))
            centernesses.append(self.conv_centerness(reg_feat if self.centerness_on_reg else cls_feat))
            distances = scale(self.conv_reg(reg_feat)).float()
            bbox_preds.append(distances.clamp(min=0) if self.norm_on_bbox else distances.exp())
        return cls_scores, bbox_preds, centernesses

    # ---- training ------------------------------------------------------------------------------
    def loss(
        self, feats: Sequence[torch.Tensor], data_samples: Sequence[DataSample]
    ) -> dict[str, torch.Tensor]:
        """``{"loss_cls", "loss_bbox", "loss_centerness"}`` of a batch with ``gt_instances``."""
        cls_scores, bbox_preds, centernesses = self(feats)
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        level_points = self.prior_generator.grid_priors(featmap_sizes, cls_scores[0].device)
        points = torch.cat(level_points)
        ranges = torch.cat(
            [points.new_tensor(r).expand(len(p), 2) for r, p in zip(self.regress_ranges, level_points)]
        )
        point_strides = torch.cat([points.new_full((len(p),), s) for s, p in zip(self.strides, level_points)])
        targets = [self._image_targets(points, ranges, point_strides, sample) for sample in data_samples]
        labels = torch.stack([t[0] for t in targets]).reshape(-1)
        bbox_targets = torch.stack([t[1] for t in targets]).reshape(-1, 4)
        cls_rows = levels_to_rows(cls_scores, self.num_classes).reshape(-1, self.num_classes)
        reg_rows = levels_to_rows(bbox_preds, 4).reshape(-1, 4)
        centerness_rows = levels_to_rows(centernesses, 1).reshape(-1)
        pos = torch.nonzero((labels >= 0) & (labels < self.num_classes)).flatten()
        num_pos = max(float(pos.numel()), 1.0)
        loss_cls = self.loss_cls(cls_rows, labels, avg_factor=num_pos)
        pos_preds, pos_targets, pos_centerness = reg_rows[pos], bbox_targets[pos], centerness_rows[pos]
        if pos.numel() == 0:  # keep the graph through every branch, with zero value
            return {
                "loss_cls": loss_cls,
                "loss_bbox": pos_preds.sum(),
                "loss_centerness": pos_centerness.sum(),
            }
        centerness_targets = centerness_target(pos_targets)
        centerness_denorm = max(float(centerness_targets.sum()), 1e-6)
        pos_points = points.repeat(len(data_samples), 1)[pos]
        loss_bbox = self.loss_bbox(
            self.bbox_coder.decode(pos_points, pos_preds),
            self.bbox_coder.decode(pos_points, pos_targets),
            weight=centerness_targets,
            avg_factor=centerness_denorm,
        )
        loss_centerness = self.loss_centerness(pos_centerness, centerness_targets, avg_factor=num_pos)
        return {"loss_cls": loss_cls, "loss_bbox": loss_bbox, "loss_centerness": loss_centerness}

    def _image_targets(
        self, points: torch.Tensor, ranges: torch.Tensor, point_strides: torch.Tensor, sample: DataSample
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """``labels (P,)`` (C = background) and ``bbox_targets (P, 4)`` ltrb of one image's P points
        (divided by the point's stride with ``norm_on_bbox``)."""
        gt_boxes, gt_labels, _ = unpack_gt_instances(sample, points.device)
        num_points = points.shape[0]
        if gt_boxes.shape[0] == 0:
            background = torch.full((num_points,), self.num_classes, dtype=torch.long, device=points.device)
            return background, points.new_zeros(num_points, 4)
        xs, ys = points[:, 0, None], points[:, 1, None]  # (P, 1)
        distances = torch.stack(
            [xs - gt_boxes[:, 0], ys - gt_boxes[:, 1], gt_boxes[:, 2] - xs, gt_boxes[:, 3] - ys], dim=-1
        )  # (P, G, 4)
        if self.center_sampling:
            inside = self._inside_center_region(xs, ys, gt_boxes, point_strides)
        else:
            inside = distances.min(dim=-1).values > 0
        farthest = distances.max(dim=-1).values
        in_range = (farthest >= ranges[:, 0, None]) & (farthest <= ranges[:, 1, None])
        areas = ((gt_boxes[:, 2] - gt_boxes[:, 0]) * (gt_boxes[:, 3] - gt_boxes[:, 1]))[None].repeat(
            num_points, 1
        )
        areas[~(inside & in_range)] = INF
        min_area, match = areas.min(dim=1)  # the smallest eligible object (ambiguity rule, section 3.2)
        labels = gt_labels[match]
        labels[min_area == INF] = self.num_classes
        bbox_targets = distances[torch.arange(num_points, device=points.device), match]
        if self.norm_on_bbox:
            bbox_targets = bbox_targets / point_strides[:, None]
        return labels, bbox_targets

    def _inside_center_region(
        self, xs: torch.Tensor, ys: torch.Tensor, gt_boxes: torch.Tensor, point_strides: torch.Tensor
    ) -> torch.Tensor:
        """(P, G) bool: the point lies in the box's center square of half-side ``radius * stride``,
        clipped to the box."""
        radius = (point_strides * self.center_sample_radius)[:, None]  # (P, 1)
        center_x = (gt_boxes[:, 0] + gt_boxes[:, 2]) / 2
        center_y = (gt_boxes[:, 1] + gt_boxes[:, 3]) / 2
        x1 = torch.maximum(center_x - radius, gt_boxes[:, 0])
        y1 = torch.maximum(center_y - radius, gt_boxes[:, 1])
        x2 = torch.minimum(center_x + radius, gt_boxes[:, 2])
        y2 = torch.minimum(center_y + radius, gt_boxes[:, 3])
        region = torch.stack([xs - x1, ys - y1, x2 - xs, y2 - ys], dim=-1)
        return region.min(dim=-1).values > 0

    # ---- inference (the path is DenseHeadInference's) -------------------------------------------
    zero_min_size_drops_empty_boxes = True  # MMDetection 3.x: min_bbox_size 0 drops empty boxes

    def level_rows(self, outputs: Sequence[Sequence[torch.Tensor]], level: int) -> list[torch.Tensor]:
        """``level``'s (B, P_l, 4) distances in pixels and (B, P_l, 1) centerness (after sigmoid)."""
        distances = levels_to_rows([outputs[1][level]], 4)
        if self.norm_on_bbox:
            distances = distances * self.strides[level]
        return [distances, levels_to_rows([outputs[2][level]], 1).sigmoid()]

    def decode_rows(self, top: TopPairs, img_shape: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N, 2) points and distances -> boxes clipped to ``img_shape``; the NMS score is class
        score x centerness (the candidates are chosen and thresholded on the class score alone)."""
        distances, centerness = top.rows
        boxes = self.bbox_coder.decode(top.priors, distances, max_shape=img_shape)
        return boxes, top.class_scores * centerness[..., 0]
