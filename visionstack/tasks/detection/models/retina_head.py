"""RetinaNet's dense head (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, section 4).

Two towers of 3x3 convs + ReLU run on every pyramid level: the classification subnet predicts, per
position, ``A * C`` sigmoid logits and the box subnet ``A * 4`` DeltaXYWH deltas for the ``A`` anchors
(3 octave scales x 3 ratios). Anchors are matched to objects by IoU (>= 0.5 positive, < 0.4
background, in between ignored, plus each object's best anchor); the loss is the focal loss over all
non-ignored anchors and an L1 loss on the positives' deltas, both divided by the number of positives.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ....models.losses.focal_loss import FocalLoss
from ....models.losses.smooth_l1_loss import L1Loss
from ....models.ops import AnchorGenerator, DeltaXYWHBBoxCoder, MaxIoUAssigner, PseudoSampler
from ....registry import MODELS
from ....structures import DataSample, InstanceData
from .single_stage import (
    DenseTestConfig,
    bbox_post_process,
    export_post_process,
    export_topk_pairs,
    filter_scores_and_topk,
    gather_rows,
    unpack_gt_instances,
)

__all__ = ["RetinaHead", "conv_tower"]

NormFactory = Callable[[int], nn.Module]


def conv_tower(
    in_channels: int, feat_channels: int, num_convs: int, norm_layer: NormFactory | None
) -> nn.Sequential:
    """``num_convs`` x (3x3 conv [+ norm] + ReLU); the convs have a bias only without a norm."""
    layers: list[nn.Module] = []
    for index in range(num_convs):
        channels = in_channels if index == 0 else feat_channels
        layers.append(nn.Conv2d(channels, feat_channels, 3, padding=1, bias=norm_layer is None))
        if norm_layer is not None:
            layers.append(norm_layer(feat_channels))
        layers.append(nn.ReLU(inplace=True))
    return nn.Sequential(*layers)


def init_head_convs(module: nn.Module, std: float = 0.01) -> None:
    """Normal(0, std) weights and zero biases for every conv (the paper's head initialisation)."""
    for layer in module.modules():
        if isinstance(layer, nn.Conv2d):
            nn.init.normal_(layer.weight, std=std)
            if layer.bias is not None:
                nn.init.zeros_(layer.bias)


def levels_to_rows(maps: Sequence[torch.Tensor], channels: int) -> torch.Tensor:
    """Per-level (N, A * channels, H, W) maps -> (N, sum H * W * A, channels), position-major then anchor."""
    rows = [level.permute(0, 2, 3, 1).reshape(level.shape[0], -1, channels) for level in maps]
    return torch.cat(rows, dim=1)


@MODELS.register()
class RetinaHead(nn.Module):
    """RetinaNet head: anchors, targets, focal + L1 losses and NMS post-processing.

    Args:
        num_classes: object classes C (no background class; sigmoid scores).
        in_channels: channels of every input level (the FPN's ``out_channels``).
        stacked_convs: convs per tower (4 in the paper).
        feat_channels: channels of the tower convs (256 in the paper).
        anchor_generator: default ``AnchorGenerator(strides=[8, 16, 32, 64, 128], ratios=[0.5, 1, 2],
            octave_base_scale=4, scales_per_octave=3)``; its strides must match the input levels.
        bbox_coder: default ``DeltaXYWHBBoxCoder()`` (means 0, stds 1, MMDetection 3.x RetinaNet).
        loss_cls: default ``FocalLoss(gamma=2, alpha=0.25)``.
        loss_bbox: default ``L1Loss()`` on the deltas.
        assigner: default ``MaxIoUAssigner(pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0)``.
        sampler: default ``PseudoSampler()`` (every non-ignored anchor counts).
        norm_layer: optional norm factory in the towers (None in the paper).
        prior_prob: initial foreground probability of every classifier output (bias
            ``-log((1 - p) / p)``, section 4.1), so that the background flood does not swamp early training.
        test_cfg: :class:`DenseTestConfig` or its dict (nms_pre 1000, score_thr 0.05, NMS IoU 0.5,
            100 detections per image).

    Shapes:
        ``head(feats)`` with feats a tuple of (N, in_channels, H_l, W_l) returns
        ``(cls_scores, bbox_preds)``: lists of (N, A * C, H_l, W_l) and (N, A * 4, H_l, W_l).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        stacked_convs: int = 4,
        feat_channels: int = 256,
        anchor_generator: AnchorGenerator | None = None,
        bbox_coder: DeltaXYWHBBoxCoder | None = None,
        loss_cls: nn.Module | None = None,
        loss_bbox: nn.Module | None = None,
        assigner: Any = None,
        sampler: Any = None,
        norm_layer: NormFactory | None = None,
        prior_prob: float = 0.01,
        test_cfg: DenseTestConfig | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        if num_classes < 1:
            raise ValueError(f"RetinaHead: num_classes must be >= 1, got {num_classes}")
        self.num_classes = num_classes
        self.prior_generator = anchor_generator or AnchorGenerator(
            strides=[8, 16, 32, 64, 128], ratios=[0.5, 1.0, 2.0], octave_base_scale=4, scales_per_octave=3
        )
        if len(set(self.prior_generator.num_base_priors)) != 1:
            raise ValueError(
                "RetinaHead: the anchor generator must give every level the same number of anchors"
            )
        self.num_anchors = self.prior_generator.num_base_priors[0]
        self.bbox_coder = bbox_coder or DeltaXYWHBBoxCoder()
        self.loss_cls = loss_cls or FocalLoss(gamma=2.0, alpha=0.25, loss_weight=1.0)
        self.loss_bbox = loss_bbox or L1Loss(loss_weight=1.0)
        self.assigner = assigner or MaxIoUAssigner(pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0.0)
        self.sampler = sampler or PseudoSampler()
        self.test_cfg = DenseTestConfig.from_value(test_cfg, "RetinaHead")
        self.cls_convs = conv_tower(in_channels, feat_channels, stacked_convs, norm_layer)
        self.reg_convs = conv_tower(in_channels, feat_channels, stacked_convs, norm_layer)
        tower_out = feat_channels if stacked_convs > 0 else in_channels
        self.retina_cls = nn.Conv2d(tower_out, self.num_anchors * num_classes, 3, padding=1)
        self.retina_reg = nn.Conv2d(tower_out, self.num_anchors * 4, 3, padding=1)
        init_head_convs(self)
        nn.init.constant_(self.retina_cls.bias, -math.log((1 - prior_prob) / prior_prob))

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Raw per-level classification logits and box deltas (see the class docstring)."""
        if len(feats) != self.prior_generator.num_levels:
            raise ValueError(
                f"RetinaHead: got {len(feats)} feature levels but the anchor generator has "
                f"{self.prior_generator.num_levels} strides; make the neck's num_outs match"
            )
        cls_scores = [self.retina_cls(self.cls_convs(x)) for x in feats]
        bbox_preds = [self.retina_reg(self.reg_convs(x)) for x in feats]
        return cls_scores, bbox_preds

    # ---- training ------------------------------------------------------------------------------
    def loss(
        self, feats: Sequence[torch.Tensor], data_samples: Sequence[DataSample]
    ) -> dict[str, torch.Tensor]:
        """``{"loss_cls", "loss_bbox"}`` of a batch whose samples carry ``gt_instances``."""
        cls_scores, bbox_preds = self(feats)
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        anchors = torch.cat(self.prior_generator.grid_priors(featmap_sizes, cls_scores[0].device))
        cls_rows = levels_to_rows(cls_scores, self.num_classes)  # (N, P, C)
        reg_rows = levels_to_rows(bbox_preds, 4)  # (N, P, 4)
        targets = [self._image_targets(anchors, sample) for sample in data_samples]
        labels, label_weights, bbox_targets, bbox_weights = (torch.stack(t) for t in zip(*targets))
        num_pos = float((bbox_weights[..., 0] > 0).sum())
        avg_factor = max(num_pos, 1.0)  # a batch without objects still has a finite background loss
        loss_cls = self.loss_cls(
            cls_rows.reshape(-1, self.num_classes),
            labels.reshape(-1),
            label_weights.reshape(-1),
            avg_factor=avg_factor,
        )
        loss_bbox = self.loss_bbox(
            reg_rows.reshape(-1, 4),
            bbox_targets.reshape(-1, 4),
            bbox_weights.reshape(-1, 4),
            avg_factor=avg_factor,
        )
        return {"loss_cls": loss_cls, "loss_bbox": loss_bbox}

    def _image_targets(self, anchors: torch.Tensor, sample: DataSample) -> tuple[torch.Tensor, ...]:
        """``labels (P,)`` (C = background), ``label_weights (P,)``, ``bbox_targets (P, 4)``,
        ``bbox_weights (P, 4)`` of one image's P anchors."""
        gt_boxes, gt_labels, ignored_boxes = unpack_gt_instances(sample, anchors.device)
        assign = self.assigner.assign(anchors, gt_boxes, gt_labels, ignored_boxes)
        sampling = self.sampler.sample(assign, anchors, gt_boxes)
        num_anchors = anchors.shape[0]
        labels = torch.full((num_anchors,), self.num_classes, dtype=torch.long, device=anchors.device)
        label_weights = anchors.new_zeros(num_anchors)
        bbox_targets = anchors.new_zeros(num_anchors, 4)
        bbox_weights = anchors.new_zeros(num_anchors, 4)
        pos, neg = sampling.pos_inds, sampling.neg_inds
        labels[pos] = sampling.pos_gt_labels
        label_weights[pos] = 1.0
        label_weights[neg] = 1.0
        if pos.numel():
            bbox_targets[pos] = self.bbox_coder.encode(sampling.pos_priors, sampling.pos_gt_boxes)
            bbox_weights[pos] = 1.0
        return labels, label_weights, bbox_targets, bbox_weights

    # ---- inference -----------------------------------------------------------------------------
    def predict(
        self, feats: Sequence[torch.Tensor], data_samples: Sequence[DataSample], rescale: bool = True
    ) -> list[InstanceData]:
        """Detections per image (xyxy in original pixels when ``rescale``), see :func:`bbox_post_process`."""
        cls_scores, bbox_preds = self(feats)
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        level_anchors = self.prior_generator.grid_priors(
            featmap_sizes, cls_scores[0].device, cls_scores[0].dtype
        )
        results = []
        for index, sample in enumerate(data_samples):
            img_shape = sample.metainfo.get("img_shape", sample.metainfo.get("batch_input_shape"))
            boxes, scores, labels = [], [], []
            for anchors, cls_score, bbox_pred in zip(level_anchors, cls_scores, bbox_preds):
                level_scores = cls_score[index].permute(1, 2, 0).reshape(-1, self.num_classes).sigmoid()
                deltas = bbox_pred[index].permute(1, 2, 0).reshape(-1, 4)
                kept_scores, kept_labels, kept = filter_scores_and_topk(
                    level_scores, self.test_cfg.score_thr, self.test_cfg.nms_pre
                )
                boxes.append(self.bbox_coder.decode(anchors[kept], deltas[kept], max_shape=img_shape))
                scores.append(kept_scores)
                labels.append(kept_labels)
            results.append(
                bbox_post_process(
                    torch.cat(boxes), torch.cat(scores), torch.cat(labels), sample, self.test_cfg, rescale
                )
            )
        return results

    def export_predict(
        self,
        cls_scores: Sequence[torch.Tensor],
        bbox_preds: Sequence[torch.Tensor],
        img_shape: torch.Tensor,
        scale_factor: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`predict` (with ``rescale``) on raw head outputs, as fixed-size tensors for export.

        Args:
            cls_scores: per level (B, A * C, H_l, W_l) logits.
            bbox_preds: per level (B, A * 4, H_l, W_l) deltas.
            img_shape: (B, 2) ``[height, width]`` of the resized images (boxes are clipped to it).
            scale_factor: (B, 2) ``[w_factor, h_factor]`` (boxes are divided by it).

        Returns:
            ``dets`` (B, K, 5) and ``labels`` (B, K), K = ``test_cfg.max_per_img``; see
            :func:`~visionstack.tasks.detection.models.single_stage.export_post_process`.
        """
        cfg = self.test_cfg
        featmap_sizes = [score.shape[-2:] for score in cls_scores]
        level_anchors = self.prior_generator.grid_priors(
            featmap_sizes, cls_scores[0].device, cls_scores[0].dtype
        )
        priors, deltas, scores, labels = [], [], [], []
        for anchors, cls_score, bbox_pred in zip(level_anchors, cls_scores, bbox_preds):
            level_scores = levels_to_rows([cls_score], self.num_classes).sigmoid()  # (B, P, C)
            top, prior, label = export_topk_pairs(level_scores, cfg.nms_pre)
            priors.append(gather_rows(anchors, prior))
            deltas.append(gather_rows(levels_to_rows([bbox_pred], 4), prior))
            scores.append(top)
            labels.append(label)
        # decoded once for all levels: the same values as per level, a smaller graph
        boxes = self.bbox_coder.decode(torch.cat(priors, dim=1), torch.cat(deltas, dim=1), img_shape)
        scores = torch.cat(scores, dim=1)
        return export_post_process(
            boxes,
            scores,
            torch.cat(labels, dim=1),
            scores > cfg.score_thr,
            scale_factor,
            self.num_classes,
            cfg.nms_iou_thr,
            cfg.max_per_img,
            cfg.min_bbox_size if cfg.min_bbox_size > 0 else None,
        )
