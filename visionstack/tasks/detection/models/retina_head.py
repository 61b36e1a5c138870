"""RetinaNet's dense head (Lin et al., "Focal Loss for Dense Object Detection", ICCV 2017, section 4).

Two towers of 3x3 convs + ReLU run on every pyramid level: the classification subnet predicts, per
position, ``A * C`` sigmoid logits and the box subnet ``A * 4`` DeltaXYWH deltas for the ``A`` anchors
(3 octave scales x 3 ratios). Anchors are matched to objects by IoU (>= 0.5 positive, < 0.4
background, in between ignored, plus each object's best anchor); the loss is the focal loss over all
non-ignored anchors and an L1 loss on the positives' deltas, both divided by the number of positives.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any

import torch
from torch import nn

from ....models.layers import bias_init_with_prob, check_num_classes, init_by_type, normal_init
from ....models.losses.focal_loss import FocalLoss
from ....models.losses.smooth_l1_loss import L1Loss
from ....models.ops import AnchorGenerator, DeltaXYWHBBoxCoder, MaxIoUAssigner, PseudoSampler
from ....registry import MODELS
from ....structures import DataSample
from .dense_inference import DenseHeadInference, TopPairs, levels_to_rows, valid_prior_flags
from .single_stage import unpack_gt_instances
from .test_config import DetTestConfig

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
    init_by_type(module, [(nn.Conv2d, partial(normal_init, std=std))])


@MODELS.register()
class RetinaHead(DenseHeadInference, nn.Module):
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
        test_cfg: :class:`DetTestConfig` or its dict (nms_pre 1000, score_thr 0.05, NMS IoU 0.5,
            100 detections per image); inference follows
            :class:`~visionstack.tasks.detection.models.dense_inference.DenseHeadInference`.

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
        test_cfg: DetTestConfig | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = check_num_classes(num_classes, "RetinaHead")
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
        self.test_cfg = DetTestConfig.from_value(test_cfg, "RetinaHead", unused=("mask_thr_binary",))
        self.cls_convs = conv_tower(in_channels, feat_channels, stacked_convs, norm_layer)
        self.reg_convs = conv_tower(in_channels, feat_channels, stacked_convs, norm_layer)
        tower_out = feat_channels if stacked_convs > 0 else in_channels
        self.retina_cls = nn.Conv2d(tower_out, self.num_anchors * num_classes, 3, padding=1)
        self.retina_reg = nn.Conv2d(tower_out, self.num_anchors * 4, 3, padding=1)
        init_head_convs(self)
        nn.init.constant_(self.retina_cls.bias, bias_init_with_prob(prior_prob))

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
        targets = [
            self._image_targets(
                anchors,
                sample,
                valid_prior_flags(self.prior_generator, featmap_sizes, sample, anchors.device),
            )
            for sample in data_samples
        ]
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

    def _image_targets(
        self, anchors: torch.Tensor, sample: DataSample, valid: torch.Tensor | None = None
    ) -> tuple[torch.Tensor, ...]:
        """``labels (P,)`` (C = background), ``label_weights (P,)``, ``bbox_targets (P, 4)``,
        ``bbox_weights (P, 4)`` of one image's P anchors.

        ``valid`` (P,) bool (:func:`~.dense_inference.valid_prior_flags`; None: all): as
        MMDetection's AnchorHead (``allowed_border=-1``), only valid anchors are assigned; the others
        (in the padding a smaller image gets from a larger one) get label weight 0.
        """
        gt_boxes, gt_labels, ignored_boxes = unpack_gt_instances(sample, anchors.device)
        inside = None if valid is None or bool(valid.all()) else torch.nonzero(valid).flatten()
        candidates = anchors if inside is None else anchors[inside]
        assign = self.assigner.assign(candidates, gt_boxes, gt_labels, ignored_boxes)
        sampling = self.sampler.sample(assign, candidates, gt_boxes)
        num_anchors = anchors.shape[0]
        labels = torch.full((num_anchors,), self.num_classes, dtype=torch.long, device=anchors.device)
        label_weights = anchors.new_zeros(num_anchors)
        bbox_targets = anchors.new_zeros(num_anchors, 4)
        bbox_weights = anchors.new_zeros(num_anchors, 4)
        pos, neg = sampling.pos_inds, sampling.neg_inds
        if inside is not None:
            pos, neg = inside[pos], inside[neg]
        labels[pos] = sampling.pos_gt_labels
        label_weights[pos] = 1.0
        label_weights[neg] = 1.0
        if pos.numel():
            bbox_targets[pos] = self.bbox_coder.encode(sampling.pos_priors, sampling.pos_gt_boxes)
            bbox_weights[pos] = 1.0
        return labels, label_weights, bbox_targets, bbox_weights

    # ---- inference (the path is DenseHeadInference's) -------------------------------------------
    zero_min_size_drops_empty_boxes = True  # MMDetection 3.x: min_bbox_size 0 drops empty boxes

    def level_rows(self, outputs: Sequence[Sequence[torch.Tensor]], level: int) -> list[torch.Tensor]:
        """The (B, P_l, 4) box deltas of ``level``, one row per anchor."""
        return [levels_to_rows([outputs[1][level]], 4)]

    def decode_rows(self, top: TopPairs, img_shape: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N, 4) anchors and deltas -> boxes clipped to ``img_shape``; the class scores as they are."""
        return self.bbox_coder.decode(top.priors, top.rows[0], max_shape=img_shape), top.class_scores
