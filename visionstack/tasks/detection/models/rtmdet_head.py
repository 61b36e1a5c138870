"""RTMDet's dense head and the RTMDet detector (Lyu et al., "RTMDet: An Empirical Study of Designing
Real-Time Object Detectors", 2022, sections 3.1-3.2).

The head runs, on every pyramid level, a classification branch and a regression branch of
``stacked_convs`` 3x3 convs whose weights are shared by all levels while their batch norms are
separate (the paper's "shared conv, separate BN", section 3.1). The classification branch predicts
per-class sigmoid logits whose target is the IoU-aware soft label of the dynamic soft-label
assignment (section 3.2), trained with the Quality Focal Loss; the regression branch predicts the
(left, top, right, bottom) distances of the box from each point, in pixels (stride-scaled), trained
with GIoU weighted by the same soft label.

Parameter names follow MMDetection's ``RTMDetSepBNHead`` (``cls_convs.<level>.<i>.conv``, ``.bn``,
``rtm_cls.<level>``, ``rtm_reg.<level>``), so published RTMDet checkpoints load.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial
from typing import Any

import torch
import torch.distributed as torch_dist
from torch import nn

from ....models.backbones.cspnext import ActLayer, ConvNormAct, NormLayer, default_norm_layer
from ....models.layers import bias_init_with_prob, check_num_classes, constant_init, init_by_type, normal_init
from ....models.losses.gfocal_loss import QualityFocalLoss
from ....models.losses.iou_loss import GIoULoss
from ....models.ops import DistancePointBBoxCoder, DynamicSoftLabelAssigner, MlvlPointGenerator
from ....models.ops.box_coders import clip_to_shape
from ....registry import MODELS
from ....structures import DataSample, InstanceData
from ....utils.dist import get_world_size, is_distributed
from .dense_inference import DenseHeadInference, TopPairs, levels_to_rows, valid_prior_flags
from .single_stage import SingleStageDetector
from .test_config import DetTestConfig

__all__ = ["RTMDet", "RTMDetSepBNHead"]


RTMDET_TEST_DEFAULTS = dict(
    nms_pre=30000, score_thr=0.001, nms_iou_thr=0.65, max_per_img=300, min_bbox_size=0.0
)
"""MMDetection's RTMDet ``test_cfg``."""


def _mean_over_ranks(value: torch.Tensor) -> torch.Tensor:
    """The mean of a scalar over distributed ranks (the value itself without distribution)."""
    if not is_distributed():
        return value
    value = value.clone()
    torch_dist.all_reduce(value)
    return value / get_world_size()


@MODELS.register()
class RTMDetSepBNHead(DenseHeadInference, nn.Module):
    """RTMDet head: shared convs with per-level batch norm, QFL + GIoU, dynamic soft labels.

    Args:
        num_classes: C, foreground classes (sigmoid outputs, no background column).
        in_channels: channels of every input level.
        feat_channels: channels of the stacked convs.
        stacked_convs: 3x3 ConvNormAct layers per branch.
        share_conv: share the conv weights of the stacked convs across levels (batch norms stay
            per level).
        pred_kernel_size: kernel of the final prediction convs.
        exp_on_reg: predict ``exp(x) * stride`` distances instead of ``x * stride`` (RTMDet-m/l/x
            use exp, tiny/s do not, per MMDetection's configs).
        prior_generator: points per level (default strides 8/16/32, offset 0 as RTMDet).
        bbox_coder: ltrb distance <-> box coder.
        assigner: prior assignment (default ``DynamicSoftLabelAssigner(topk=13)``).
        loss_cls: classification loss over ``(logits, (labels, scores), weight)`` (default QFL,
            beta 2, weight 1).
        loss_bbox: box loss over aligned xyxy boxes (default GIoU, weight 2).
        test_cfg: post-processing, :class:`DetTestConfig` or a dict of its fields (defaults
            :data:`RTMDET_TEST_DEFAULTS`); ``min_bbox_size = 0`` drops boxes of zero width or height.
        norm_layer: norm factory (default BatchNorm2d, momentum 0.03, eps 1e-3).
        act_layer: activation factory (default SiLU).

    Shapes:
        ``forward(feats)`` with L levels of (N, in_channels, H_l, W_l) -> ``(cls_scores, bbox_preds)``,
        tuples of (N, C, H_l, W_l) logits and (N, 4, H_l, W_l) ltrb distances in image pixels.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        feat_channels: int = 256,
        stacked_convs: int = 2,
        share_conv: bool = True,
        pred_kernel_size: int = 1,
        exp_on_reg: bool = False,
        prior_generator: MlvlPointGenerator | None = None,
        bbox_coder: DistancePointBBoxCoder | None = None,
        assigner: DynamicSoftLabelAssigner | None = None,
        loss_cls: nn.Module | None = None,
        loss_bbox: nn.Module | None = None,
        test_cfg: DetTestConfig | Mapping[str, Any] | None = None,
        norm_layer: NormLayer = default_norm_layer,
        act_layer: ActLayer = nn.SiLU,
    ) -> None:
        super().__init__()
        self.num_classes = check_num_classes(num_classes, "RTMDetSepBNHead")
        self.exp_on_reg = exp_on_reg
        self.prior_generator = prior_generator or MlvlPointGenerator(strides=[8, 16, 32], offset=0.0)
        self.bbox_coder = bbox_coder or DistancePointBBoxCoder()
        self.assigner = assigner or DynamicSoftLabelAssigner(topk=13)
        self.loss_cls = loss_cls or QualityFocalLoss(beta=2.0, loss_weight=1.0)
        self.loss_bbox = loss_bbox or GIoULoss(loss_weight=2.0)
        self.test_cfg = DetTestConfig.from_value(
            test_cfg, "RTMDetSepBNHead", defaults=RTMDET_TEST_DEFAULTS, unused=("mask_thr_binary",)
        )
        self.strides = [self._square_stride(s) for s in self.prior_generator.strides]
        self._build_layers(in_channels, feat_channels, stacked_convs, pred_kernel_size, norm_layer, act_layer)
        if share_conv:
            # MMDetection shares the conv modules themselves: level l's ConvNormAct keeps its own BN.
            for branch in (self.cls_convs, self.reg_convs):
                for level in range(1, len(branch)):
                    for layer, first in zip(branch[level], branch[0]):
                        layer.conv = first.conv
        self._init_weights()

    @staticmethod
    def _square_stride(stride: Any) -> float:
        stride_w, stride_h = (stride, stride) if isinstance(stride, (int, float)) else stride
        if stride_w != stride_h:
            raise ValueError(f"RTMDetSepBNHead: strides must be square, got {stride}")
        return float(stride_w)

    def _build_layers(
        self,
        in_channels: int,
        feat_channels: int,
        stacked_convs: int,
        pred_kernel_size: int,
        norm_layer: NormLayer,
        act_layer: ActLayer,
    ) -> None:
        def branch() -> nn.ModuleList:
            return nn.ModuleList(
                [
                    ConvNormAct(
                        in_channels if i == 0 else feat_channels,
                        feat_channels,
                        3,
                        norm_layer=norm_layer,
                        act_layer=act_layer,
                    )
                    for i in range(stacked_convs)
                ]
            )

        num_levels = len(self.strides)
        self.cls_convs = nn.ModuleList([branch() for _ in range(num_levels)])
        self.reg_convs = nn.ModuleList([branch() for _ in range(num_levels)])
        padding = pred_kernel_size // 2
        self.rtm_cls = nn.ModuleList(
            [
                nn.Conv2d(feat_channels, self.num_classes, pred_kernel_size, padding=padding)
                for _ in range(num_levels)
            ]
        )
        self.rtm_reg = nn.ModuleList(
            [nn.Conv2d(feat_channels, 4, pred_kernel_size, padding=padding) for _ in range(num_levels)]
        )

    def _init_weights(self) -> None:
        """Convs ~ N(0, 0.01), norms at identity, classification bias for a 1% prior (RetinaNet)."""
        init_by_type(
            self,
            [(nn.Conv2d, partial(normal_init, std=0.01)), (nn.BatchNorm2d, partial(constant_init, val=1.0))],
        )
        prior_bias = bias_init_with_prob(0.01)
        for conv in self.rtm_cls:
            nn.init.constant_(conv.bias, prior_bias)

    def forward(
        self, feats: Sequence[torch.Tensor]
    ) -> tuple[tuple[torch.Tensor, ...], tuple[torch.Tensor, ...]]:
        """Per-level class logits and stride-scaled ltrb distances; see the class docstring."""
        if len(feats) != len(self.strides):
            raise ValueError(
                f"RTMDetSepBNHead: got {len(feats)} feature maps for {len(self.strides)} strides"
            )
        cls_scores, bbox_preds = [], []
        for level, (feat, stride) in enumerate(zip(feats, self.strides)):
            cls_feat, reg_feat = feat, feat
            for layer in self.cls_convs[level]:
                cls_feat = layer(cls_feat)
            for layer in self.reg_convs[level]:
                reg_feat = layer(reg_feat)
            distances = self.rtm_reg[level](reg_feat)
            if self.exp_on_reg:
                distances = distances.exp()
            cls_scores.append(self.rtm_cls[level](cls_feat))
            bbox_preds.append(distances * stride)
        return tuple(cls_scores), tuple(bbox_preds)

    def _flatten(
        self, cls_scores: Sequence[torch.Tensor], bbox_preds: Sequence[torch.Tensor]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, list[int]]:
        """(N, P, C) logits, (N, P, 4) decoded xyxy boxes, (P, 4) priors ``(x, y, s, s)``, points per level."""
        num_images = cls_scores[0].shape[0]
        sizes = [tuple(score.shape[-2:]) for score in cls_scores]
        priors = torch.cat(
            self.prior_generator.grid_priors(
                sizes, cls_scores[0].device, bbox_preds[0].dtype, with_stride=True
            )
        )
        logits = torch.cat(
            [s.permute(0, 2, 3, 1).reshape(num_images, -1, self.num_classes) for s in cls_scores], 1
        )
        distances = torch.cat([d.permute(0, 2, 3, 1).reshape(num_images, -1, 4) for d in bbox_preds], 1)
        boxes = self.bbox_coder.decode(priors[None, :, :2], distances)
        return logits, boxes, priors, [h * w for h, w in sizes]

    def loss(
        self, feats: Sequence[torch.Tensor], data_samples: Sequence[DataSample]
    ) -> dict[str, torch.Tensor]:
        """``loss_cls`` (QFL) and ``loss_bbox`` (GIoU) of a batch whose samples carry ``gt_instances``."""
        cls_scores, bbox_preds = self(feats)
        return self.loss_by_feat(cls_scores, bbox_preds, data_samples)

    def loss_by_feat(
        self,
        cls_scores: Sequence[torch.Tensor],
        bbox_preds: Sequence[torch.Tensor],
        data_samples: Sequence[DataSample],
    ) -> dict[str, torch.Tensor]:
        """Losses from raw head outputs.

        Both losses are sums normalised by the (rank-averaged) sum of the positives' IoUs, at
        least 1, as MMDetection's RTMDetHead; the box loss of each positive is weighted by its IoU.
        """
        logits, boxes, priors, _ = self._flatten(cls_scores, bbox_preds)
        sizes = [tuple(score.shape[-2:]) for score in cls_scores]
        targets = [
            self._targets_single(
                logits[i].detach(),
                boxes[i].detach(),
                priors,
                sample,
                valid_prior_flags(self.prior_generator, sizes, sample, priors.device),
            )
            for i, sample in enumerate(data_samples)
        ]
        labels = torch.cat([t[0] for t in targets])
        soft_scores = torch.cat([t[1] for t in targets])
        box_targets = torch.cat([t[2] for t in targets])
        label_weights = torch.cat([t[3] for t in targets])
        flat_logits, flat_boxes = logits.reshape(-1, self.num_classes), boxes.reshape(-1, 4)
        positive = labels < self.num_classes
        normaliser = _mean_over_ranks(soft_scores.sum().detach()).clamp(min=1.0)
        loss_cls = (
            self.loss_cls(flat_logits, (labels, soft_scores), weight=label_weights, reduction_override="sum")
            / normaliser
        )
        if positive.any():
            loss_bbox = (
                self.loss_bbox(
                    flat_boxes[positive],
                    box_targets[positive],
                    weight=soft_scores[positive],
                    reduction_override="sum",
                )
                / normaliser
            )
        else:
            loss_bbox = flat_boxes.sum() * 0.0
        return {"loss_cls": loss_cls, "loss_bbox": loss_bbox}

    def _targets_single(
        self,
        logits: torch.Tensor,
        boxes: torch.Tensor,
        priors: torch.Tensor,
        sample: DataSample,
        valid: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(P,) labels (C = background), (P,) soft scores (IoU of positives), (P, 4) box targets and
        (P,) label weights.

        ``valid`` (P,) bool (:func:`~.dense_inference.valid_prior_flags`; None: all): as
        MMDetection's RTMDetHead, only valid priors are assigned; the others (in the padding a
        smaller image gets from a larger one) are background with label weight 0.
        """
        gt = sample.gt_instances
        gt_boxes = gt.bboxes.to(boxes)
        gt_labels = gt.labels.to(logits.device).long()
        num_priors = priors.shape[0]
        inside = None if valid is None or bool(valid.all()) else torch.nonzero(valid).flatten()
        if inside is not None:
            logits, boxes, priors = logits[inside], boxes[inside], priors[inside]
        assign = self.assigner.assign(logits, boxes, priors, gt_boxes, gt_labels)
        positive = assign.gt_inds > 0
        rows = torch.nonzero(positive).flatten() if inside is None else inside[positive]
        labels = torch.full((num_priors,), self.num_classes, dtype=torch.long, device=logits.device)
        labels[rows] = assign.labels[positive]
        soft_scores = boxes.new_zeros(num_priors)
        soft_scores[rows] = assign.max_overlaps[positive].to(soft_scores.dtype)
        box_targets = boxes.new_zeros(num_priors, 4)
        box_targets[rows] = gt_boxes[assign.gt_inds[positive] - 1]
        label_weights = boxes.new_ones(num_priors) if inside is None else boxes.new_zeros(num_priors)
        if inside is not None:
            label_weights[inside] = 1.0
        return labels, soft_scores, box_targets, label_weights

    # ---- inference (the path is DenseHeadInference's) -------------------------------------------
    zero_min_size_drops_empty_boxes = True

    def predict_by_feat(
        self,
        cls_scores: Sequence[torch.Tensor],
        bbox_preds: Sequence[torch.Tensor],
        data_samples: Sequence[DataSample],
        rescale: bool = True,
    ) -> list[InstanceData]:
        """Post-process raw head outputs; see :meth:`predict`."""
        return self.predict_from_outputs((cls_scores, bbox_preds), data_samples, rescale)

    def level_rows(self, outputs: Sequence[Sequence[torch.Tensor]], level: int) -> list[torch.Tensor]:
        """``level``'s (B, P_l, 4) ltrb distances in pixels."""
        return [levels_to_rows([outputs[1][level]], 4)]

    def decode_rows(self, top: TopPairs, img_shape: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """(B, N, 2) points and distances -> boxes clamped to ``img_shape`` (whatever the coder's
        ``clip_border``, as MMDetection's RTMDet); the class scores as they are."""
        boxes = self.bbox_coder.decode(top.priors, top.rows[0])
        return (boxes if img_shape is None else clip_to_shape(boxes, img_shape)), top.class_scores


@MODELS.register()
class RTMDet(SingleStageDetector):
    """RTMDet (Lyu et al. 2022): CSPNeXt backbone, CSPNeXt-PAFPN neck, :class:`RTMDetSepBNHead`.

    A :class:`SingleStageDetector` whose parts come from the config; the class exists so configs
    and checkpoints name the detector as MMDetection does.
    """
