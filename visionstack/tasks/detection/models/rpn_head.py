"""Region Proposal Network head (Ren et al., "Faster R-CNN", NeurIPS 2015, section 3.1), on an FPN
(Lin et al., "Feature Pyramid Networks", CVPR 2017, section 4.1).

One 3x3 convolution shared by all pyramid levels, then per anchor a sigmoid objectness logit and
four box deltas. Training samples 256 anchors per image (at most half positive) and normalises both
losses by the number of sampled anchors in the batch; proposals are the top-scoring decoded anchors
of every level after an NMS that keeps the levels apart (MMDetection 2+).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ....models.layers import normal_init
from ....models.losses.bce_loss import BCEWithLogitsLoss
from ....models.losses.smooth_l1_loss import L1Loss
from ....models.ops import (
    AnchorGenerator,
    AssignResult,
    DeltaXYWHBBoxCoder,
    MaxIoUAssigner,
    PseudoSampler,
    RandomSampler,
    SamplingResult,
)
from ....models.ops.export_ops import nms_topk
from ....registry import MODELS
from ....structures import DataSample, InstanceData
from .dense_inference import DROPPED_SCORE, gather_rows
from .test_config import DetTestConfig

__all__ = ["RPNHead", "sample_assignment"]


RPN_DEFAULTS = dict(nms_pre=1000, max_per_img=1000, nms_iou_thr=0.7, min_bbox_size=0.0)
"""The proposal settings of MMDetection's ``faster-rcnn_r50_fpn`` (test time; training keeps 2000 per level)."""
RPN_UNUSED = ("score_thr", "mask_thr_binary", "clip_to_image")
"""Settings the RPN does not read: every anchor's objectness competes, whatever its value."""


def sample_assignment(
    sampler: Any, assign: AssignResult, priors: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor
) -> SamplingResult:
    """Call a sampler's ``sample`` with the arguments its kind takes (PseudoSampler needs no labels)."""
    if isinstance(sampler, PseudoSampler):
        return sampler.sample(assign, priors, gt_boxes)
    return sampler.sample(assign, priors, gt_boxes, gt_labels)


@MODELS.register()
class RPNHead(nn.Module):
    """Class-agnostic objectness and box regression on every level of a feature pyramid.

    Args:
        in_channels: channels of each input level.
        feat_channels: channels of the shared 3x3 convolution.
        anchor_generator: anchors (default: scale 8, ratios 0.5/1/2, strides 4..64, as MMDetection's
            ``faster-rcnn_r50_fpn``).
        bbox_coder: delta coder (default: means 0, stds 1).
        assigner: anchor assigner (default: MaxIoU 0.7 / 0.3, low-quality matches from 0.3).
        sampler: anchor sampler (default: 256 per image, at most 50% positive, no gts added).
        loss_cls: objectness loss ``(logits, targets, weight, avg_factor)`` (default: BCE on logits).
        loss_bbox: regression loss ``(pred, target, weight, avg_factor)`` (default: L1).
        train_proposal_cfg: proposals for the second stage while training, a :class:`DetTestConfig`
            or a dict over :data:`RPN_DEFAULTS` (default: those with nms_pre 2000).
        test_proposal_cfg: proposals at test time (default: :data:`RPN_DEFAULTS`: nms_pre 1000,
            max_per_img 1000, IoU 0.7, min size 0). ``score_thr`` is not read: every anchor competes.

    Shapes:
        ``forward(feats)`` with L levels of (N, in_channels, H_l, W_l) -> ``(cls_scores, bbox_preds)``,
        lists of (N, A, H_l, W_l) logits and (N, A * 4, H_l, W_l) deltas (channel ``a * 4 + k``).
    """

    def __init__(
        self,
        in_channels: int = 256,
        feat_channels: int = 256,
        anchor_generator: AnchorGenerator | None = None,
        bbox_coder: DeltaXYWHBBoxCoder | None = None,
        assigner: Any | None = None,
        sampler: Any | None = None,
        loss_cls: nn.Module | None = None,
        loss_bbox: nn.Module | None = None,
        train_proposal_cfg: DetTestConfig | Mapping[str, Any] | None = None,
        test_proposal_cfg: DetTestConfig | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.anchor_generator = anchor_generator or AnchorGenerator(
            strides=[4, 8, 16, 32, 64], ratios=[0.5, 1.0, 2.0], scales=[8]
        )
        self.bbox_coder = bbox_coder or DeltaXYWHBBoxCoder()
        self.assigner = assigner or MaxIoUAssigner(0.7, 0.3, min_pos_iou=0.3, match_low_quality=True)
        self.sampler = sampler or RandomSampler(256, 0.5, add_gt_as_proposals=False)
        self.loss_cls = loss_cls or BCEWithLogitsLoss()
        self.loss_bbox = loss_bbox or L1Loss()
        self.train_proposal_cfg = DetTestConfig.from_value(
            dict(nms_pre=2000) if train_proposal_cfg is None else train_proposal_cfg,
            "RPNHead",
            "train_proposal_cfg",
            RPN_DEFAULTS,
            RPN_UNUSED,
        )
        self.test_proposal_cfg = DetTestConfig.from_value(
            test_proposal_cfg, "RPNHead", "test_proposal_cfg", RPN_DEFAULTS, RPN_UNUSED
        )
        num_anchors = set(self.anchor_generator.num_base_priors)
        if len(num_anchors) != 1:
            raise ValueError(f"RPNHead: every level needs the same number of anchors, got {num_anchors}")
        self.num_anchors = num_anchors.pop()
        # parameter names of MMDetection's RPNHead, so its checkpoints map one to one
        self.rpn_conv = nn.Conv2d(in_channels, feat_channels, 3, padding=1)
        self.rpn_cls = nn.Conv2d(feat_channels, self.num_anchors, 1)
        self.rpn_reg = nn.Conv2d(feat_channels, self.num_anchors * 4, 1)
        for conv in (self.rpn_conv, self.rpn_cls, self.rpn_reg):
            normal_init(conv, std=0.01)

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[list[torch.Tensor], list[torch.Tensor]]:
        """Per level (N, A, H, W) objectness logits and (N, A * 4, H, W) deltas."""
        if len(feats) != self.anchor_generator.num_levels:
            raise ValueError(
                f"RPNHead: got {len(feats)} feature levels but the anchor generator has "
                f"{self.anchor_generator.num_levels} (strides {self.anchor_generator.strides})"
            )
        cls_scores, bbox_preds = [], []
        for feat in feats:
            hidden = torch.relu(self.rpn_conv(feat))
            cls_scores.append(self.rpn_cls(hidden))
            bbox_preds.append(self.rpn_reg(hidden))
        return cls_scores, bbox_preds

    # ---- training ---------------------------------------------------------------------------
    def loss(
        self, feats: Sequence[torch.Tensor], data_samples: Sequence[DataSample]
    ) -> dict[str, torch.Tensor]:
        """``loss_rpn_cls`` and ``loss_rpn_bbox`` of a batch whose samples carry ``gt_instances``."""
        cls_scores, bbox_preds = self(feats)
        return self._loss_from_outputs(cls_scores, bbox_preds, data_samples)

    def loss_and_predict(
        self, feats: Sequence[torch.Tensor], data_samples: Sequence[DataSample]
    ) -> tuple[dict[str, torch.Tensor], list[InstanceData]]:
        """The losses, and the (detached) training proposals for the second stage."""
        cls_scores, bbox_preds = self(feats)
        losses = self._loss_from_outputs(cls_scores, bbox_preds, data_samples)
        proposals = self.proposals_from_outputs(cls_scores, bbox_preds, data_samples, self.train_proposal_cfg)
        return losses, proposals

    def _loss_from_outputs(
        self,
        cls_scores: list[torch.Tensor],
        bbox_preds: list[torch.Tensor],
        data_samples: Sequence[DataSample],
    ) -> dict[str, torch.Tensor]:
        anchors, valid = self._anchors(cls_scores, data_samples)
        logits = torch.cat([_flatten_scores(score) for score in cls_scores], dim=1).float()  # (N, M)
        deltas = torch.cat([_flatten_deltas(pred) for pred in bbox_preds], dim=1).float()  # (N, M, 4)
        targets = [
            self._targets_single(anchors, image_valid, sample)
            for image_valid, sample in zip(valid, data_samples)
        ]
        labels, label_weights, box_targets, box_weights = (torch.stack(parts) for parts in zip(*targets))
        # MMDetection: both losses are divided by the number of sampled anchors of the batch
        num_sampled = label_weights.sum().clamp(min=1.0)
        loss_cls = self.loss_cls(logits, labels, label_weights, avg_factor=num_sampled)
        loss_bbox = self.loss_bbox(deltas, box_targets, box_weights, avg_factor=num_sampled)
        return {"loss_rpn_cls": loss_cls, "loss_rpn_bbox": loss_bbox}

    def _anchors(
        self, cls_scores: list[torch.Tensor], data_samples: Sequence[DataSample]
    ) -> tuple[torch.Tensor, list[torch.Tensor]]:
        """(M, 4) anchors of all levels and, per image, (M,) flags of anchors inside its padded image
        (``image_pad_shape``, else ``pad_shape``)."""
        sizes = [tuple(score.shape[-2:]) for score in cls_scores]
        device = cls_scores[0].device
        # anchors and targets in float32 even under autocast (bfloat16 cannot hold pixel coordinates)
        anchors = torch.cat(self.anchor_generator.grid_priors(sizes, device=device, dtype=torch.float32))
        valid = []
        for sample in data_samples:
            # the image's own padded size (DetDataPreprocessor's image_pad_shape, MMDetection's pad_shape)
            meta = sample.metainfo
            shape = meta.get("image_pad_shape", meta.get("pad_shape", meta.get("batch_input_shape")))
            if shape is None:
                raise KeyError(
                    "RPNHead: a data sample has none of image_pad_shape, pad_shape, batch_input_shape "
                    "in its metainfo"
                )
            valid.append(torch.cat(self.anchor_generator.valid_flags(sizes, shape[:2], device=device)))
        return anchors, valid

    def _targets_single(
        self, anchors: torch.Tensor, valid: torch.Tensor, sample: DataSample
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(M,) objectness targets and weights, (M, 4) delta targets and weights of one image."""
        gt_boxes = sample.gt_instances.bboxes.to(anchors)
        ignored = sample.get("ignored_instances")
        ignore_boxes = ignored.bboxes.to(anchors) if ignored is not None and "bboxes" in ignored else None
        inside = torch.nonzero(valid).flatten()
        gt_labels = torch.zeros(gt_boxes.shape[0], dtype=torch.long, device=anchors.device)  # one class
        assign = self.assigner.assign(anchors[inside], gt_boxes, gt_labels, ignore_boxes)
        sampled = sample_assignment(self.sampler, assign, anchors[inside], gt_boxes, gt_labels)
        pos, neg = inside[sampled.pos_inds], inside[sampled.neg_inds]
        labels = anchors.new_zeros(anchors.shape[0])
        label_weights = anchors.new_zeros(anchors.shape[0])
        box_targets = anchors.new_zeros(anchors.shape)
        box_weights = anchors.new_zeros(anchors.shape)
        labels[pos] = 1.0
        label_weights[pos] = 1.0
        label_weights[neg] = 1.0
        if pos.numel():
            box_targets[pos] = self.bbox_coder.encode(anchors[pos], sampled.pos_gt_boxes.to(anchors))
            box_weights[pos] = 1.0
        return labels, label_weights, box_targets, box_weights

    # ---- proposals --------------------------------------------------------------------------
    def predict(
        self, feats: Sequence[torch.Tensor], data_samples: Sequence[DataSample]
    ) -> list[InstanceData]:
        """Test-time proposals per image (``bboxes`` (P, 4) xyxy in input pixels, ``scores`` (P,))."""
        cls_scores, bbox_preds = self(feats)
        return self.proposals_from_outputs(cls_scores, bbox_preds, data_samples, self.test_proposal_cfg)

    @torch.no_grad()
    def proposals_from_outputs(
        self,
        cls_scores: list[torch.Tensor],
        bbox_preds: list[torch.Tensor],
        data_samples: Sequence[DataSample],
        cfg: DetTestConfig,
    ) -> list[InstanceData]:
        """Decode, filter and NMS the dense outputs into per-image proposals (no gradient).

        :meth:`decode_proposals` on each image (a batch of one), the padding rows stripped.

        Returns:
            Per image an InstanceData with ``bboxes`` (P, 4) xyxy in the preprocessed image's
            pixels (clipped to ``img_shape``), ``scores`` (P,) objectness probabilities in
            decreasing order and ``labels`` (P,) zeros.
        """
        results = []
        for index, sample in enumerate(data_samples):
            meta = sample.metainfo
            shape = meta.get("img_shape", meta.get("batch_input_shape"))
            boxes, scores = self.decode_proposals(
                [score[index : index + 1] for score in cls_scores],
                [pred[index : index + 1] for pred in bbox_preds],
                None if shape is None else tuple(shape[:2]),
                cfg,
            )
            count = int((scores[0] > DROPPED_SCORE / 2).sum())
            results.append(
                InstanceData(
                    bboxes=boxes[0, :count],
                    scores=scores[0, :count],
                    labels=torch.zeros(count, dtype=torch.long, device=boxes.device),
                )
            )
        return results

    def decode_proposals(
        self,
        cls_scores: Sequence[torch.Tensor],
        bbox_preds: Sequence[torch.Tensor],
        img_shape: torch.Tensor | Sequence[int] | None,
        cfg: DetTestConfig,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The proposals of a batch with fixed shapes: the one path of eager and exported inference.

        Per level the ``nms_pre`` best anchors by objectness, decoding and clipping, the
        ``min_bbox_size`` filter, NMS with the levels kept apart (the
        :func:`~visionstack.models.ops.export_ops.nms_topk` operator), the ``max_per_img`` best;
        filtered candidates get score -1 instead of being removed. When the level's size is known
        (eager, or a static-shape export) and at most ``nms_pre``, its anchors stay in anchor order
        without a top-k, as MMDetection's RPN; a top-k of all of them would only reorder equal scores.

        Args:
            cls_scores: per level (B, A, H_l, W_l) objectness logits.
            bbox_preds: per level (B, A * 4, H_l, W_l) deltas.
            img_shape: ``(height, width)`` of the image, or (B, 2) float ``[height, width]`` per image
                inside the padded batch (boxes are clipped to it when the coder clips); None: no clip.
            cfg: proposal settings.

        Returns:
            ``(boxes (B, P, 4), scores (B, P))`` with ``P = cfg.max_per_img`` (every candidate when it
            is <= 0): xyxy proposals in input pixels in decreasing score; rows past the last proposal
            have score -1 (their boxes are those of an arbitrary candidate and must be ignored).
        """
        sizes = [score.shape[-2:] for score in cls_scores]
        anchors = self.anchor_generator.grid_priors(sizes, device=cls_scores[0].device, dtype=torch.float32)
        scores, deltas, priors, level_ids = [], [], [], []
        for level, (logits, pred, prior) in enumerate(zip(cls_scores, bbox_preds, anchors)):
            probability = _flatten_scores(logits).float().sigmoid()  # (B, n)
            delta = _flatten_deltas(pred).float()  # (B, n, 4)
            count = probability.shape[1]
            if cfg.nms_pre > 0 and not (isinstance(count, int) and count <= cfg.nms_pre):
                probability, top = probability.topk(torch.sym_min(cfg.nms_pre, count), dim=1)
                delta = gather_rows(delta, top)
                prior = prior[top]  # (B, k, 4)
            else:
                prior = prior[None].expand(probability.shape[0], -1, 4)
            scores.append(probability)
            deltas.append(delta)
            priors.append(prior)
            level_ids.append(torch.full_like(probability, level, dtype=torch.long))
        scores, level_ids = torch.cat(scores, dim=1), torch.cat(level_ids, dim=1)
        boxes = self.bbox_coder.decode(
            torch.cat(priors, dim=1), torch.cat(deltas, dim=1), max_shape=img_shape
        )
        large = ((boxes[..., 2:] - boxes[..., :2]) > cfg.min_bbox_size).all(dim=-1)
        scores = torch.where(large, scores, DROPPED_SCORE)
        max_num = cfg.max_per_img if cfg.max_per_img > 0 else scores.shape[1]
        kept_scores, kept_index = nms_topk(
            boxes, scores, level_ids, len(cls_scores), cfg.nms_iou_thr, DROPPED_SCORE / 2, max_num
        )
        return gather_rows(boxes, kept_index), kept_scores

    # ---- export -----------------------------------------------------------------------------
    def export_proposals(
        self,
        cls_scores: Sequence[torch.Tensor],
        bbox_preds: Sequence[torch.Tensor],
        img_shape: torch.Tensor,
        cfg: DetTestConfig | None = None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`decode_proposals` of a batch with ``test_proposal_cfg`` (by default), for graph export.

        Args:
            cls_scores: per level (B, A, H_l, W_l) objectness logits.
            bbox_preds: per level (B, A * 4, H_l, W_l) deltas.
            img_shape: (B, 2) float ``[height, width]`` of each image inside the padded batch.
            cfg: proposal settings (default: ``test_proposal_cfg``).

        Returns:
            ``(boxes (B, P, 4), scores (B, P))``, ``P = cfg.max_per_img``, padded with score -1.

        Raises:
            ValueError: when ``max_per_img`` is not positive (the output needs a fixed size).
        """
        cfg = cfg or self.test_proposal_cfg
        if cfg.max_per_img <= 0:
            raise ValueError(
                f"RPNHead.export_proposals: max_per_img must be > 0 to export, got {cfg.max_per_img}"
            )
        return self.decode_proposals(cls_scores, bbox_preds, img_shape, cfg)


def _flatten_scores(score: torch.Tensor) -> torch.Tensor:
    """(N, A, H, W) -> (N, H * W * A), position-major like the anchors."""
    return score.permute(0, 2, 3, 1).reshape(score.shape[0], -1)


def _flatten_deltas(pred: torch.Tensor) -> torch.Tensor:
    """(N, A * 4, H, W) -> (N, H * W * A, 4)."""
    return pred.permute(0, 2, 3, 1).reshape(pred.shape[0], -1, 4)
