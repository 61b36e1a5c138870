"""The second stage of Faster / Mask R-CNN: RoI feature extraction, the box head and the RoI head
that ties proposals, sampling, box and mask branches together.

- :class:`SingleRoIExtractor`: RoIAlign each proposal on the pyramid level of its scale (FPN paper,
  eq. 1, with MMDetection's ``finest_scale=56``).
- :class:`Shared2FCBBoxHead`: two shared 1024-d fully connected layers, a softmax classifier with a
  background column (the last one) and class-specific delta regression (Fast R-CNN, section 2.3).
- :class:`StandardRoIHead`: assign proposals to ground truths, sample 512 RoIs (25% positive, ground
  truths added), compute the box (and mask) losses; at test time score, decode, NMS (and masks).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ....models.layers import check_num_classes, normal_init, xavier_init
from ....models.losses import CrossEntropyLoss
from ....models.losses.smooth_l1_loss import L1Loss
from ....models.ops import DeltaXYWHBBoxCoder, MaxIoUAssigner, RandomSampler, RoIAlign
from ....models.ops.box_coders import MaxShape, clip_to_shape
from ....models.ops.export_ops import nms_topk, onnx_roi_align
from ....registry import MODELS
from ....structures import DataSample, InstanceData
from .dense_inference import DROPPED_SCORE, gather_rows, rescale_boxes
from .mask_head import mask_targets
from .rpn_head import sample_assignment
from .test_config import DetTestConfig

__all__ = ["Shared2FCBBoxHead", "SingleRoIExtractor", "StandardRoIHead", "boxes_to_rois"]


def boxes_to_rois(boxes_per_image: Sequence[torch.Tensor]) -> torch.Tensor:
    """Per-image (K_i, 4) xyxy boxes -> (sum K_i, 5) rows ``[image_index, x1, y1, x2, y2]``."""
    rows = [
        torch.cat([boxes.new_full((boxes.shape[0], 1), index), boxes[:, :4]], dim=1)
        for index, boxes in enumerate(boxes_per_image)
    ]
    return torch.cat(rows) if rows else torch.zeros(0, 5)


def _batch_rois(boxes: torch.Tensor) -> torch.Tensor:
    """(B, P, 4) xyxy boxes -> (B * P, 5) float32 rows ``[image_index, x1, y1, x2, y2]`` (image-major)."""
    batch, count = boxes.shape[:2]
    image_index = torch.arange(batch, device=boxes.device, dtype=torch.float32)[:, None, None]
    return torch.cat([image_index.expand(-1, count, 1), boxes.float()], dim=-1).reshape(-1, 5)


def _float_rois(boxes_per_image: Sequence[torch.Tensor], feats: Sequence[torch.Tensor]) -> torch.Tensor:
    """:func:`boxes_to_rois` in float32 on the features' device (box coordinates never go to
    bfloat16/float16 under autocast)."""
    return boxes_to_rois(boxes_per_image).to(device=feats[0].device, dtype=torch.float32)


@MODELS.register()
class SingleRoIExtractor(nn.Module):
    """RoIAlign every RoI on one pyramid level chosen by its scale.

    A RoI of scale ``s = sqrt(w * h)`` goes to level ``floor(log2(s / finest_scale + 1e-6))``
    clamped to the available levels (FPN, Lin et al. 2017, eq. 1 with k0 = 4 written relative to
    the finest level: scale < 112 -> P2, < 224 -> P3, < 448 -> P4, else P5).

    Args:
        output_size: RoIAlign output (7 for boxes, 14 for masks).
        out_channels: channels of the pooled features (those of the pyramid).
        featmap_strides: strides of the levels used, finest first (the first ``len`` inputs).
        sampling_ratio: RoIAlign samples per bin (0: adaptive).
        aligned: half-pixel-correct RoIAlign.
        finest_scale: scale of the finest level's RoIs.

    Shapes:
        ``forward(feats, rois)``: levels (N, C, H_l, W_l), rois (K, 5) ``[image_index, x1, y1, x2,
        y2]`` in input pixels -> (K, C, output_size, output_size).
    """

    def __init__(
        self,
        output_size: int = 7,
        out_channels: int = 256,
        featmap_strides: Sequence[int] = (4, 8, 16, 32),
        sampling_ratio: int = 0,
        aligned: bool = True,
        finest_scale: float = 56.0,
    ) -> None:
        super().__init__()
        self.out_channels = out_channels
        self.featmap_strides = tuple(featmap_strides)
        self.finest_scale = finest_scale
        self.output_size = output_size
        self.roi_layers = nn.ModuleList(
            RoIAlign(output_size, 1.0 / stride, sampling_ratio, aligned) for stride in self.featmap_strides
        )

    @property
    def num_inputs(self) -> int:
        """Number of pyramid levels read."""
        return len(self.featmap_strides)

    def map_roi_levels(self, rois: torch.Tensor) -> torch.Tensor:
        """(K, 5) rois -> (K,) int64 level index in ``[0, num_inputs)``."""
        scale = torch.sqrt((rois[:, 3] - rois[:, 1]) * (rois[:, 4] - rois[:, 2]))
        levels = torch.floor(torch.log2(scale / self.finest_scale + 1e-6))
        return levels.clamp(min=0, max=self.num_inputs - 1).long()

    def forward(self, feats: Sequence[torch.Tensor], rois: torch.Tensor) -> torch.Tensor:
        if len(feats) < self.num_inputs:
            raise ValueError(
                f"SingleRoIExtractor: needs {self.num_inputs} levels (strides {self.featmap_strides}), got {len(feats)}"
            )
        size = self.output_size
        # pooled in float32 even under autocast: bfloat16 box coordinates would be off by several pixels
        pooled = feats[0].new_zeros(rois.shape[0], self.out_channels, size, size, dtype=torch.float32)
        if rois.shape[0] == 0:
            return pooled
        levels = self.map_roi_levels(rois)
        for level, layer in enumerate(self.roi_layers):
            members = torch.nonzero(levels == level).flatten()
            if members.numel():
                with torch.autocast(device_type=rois.device.type, enabled=False):
                    pooled[members] = layer(feats[level].float(), rois[members].float())
            else:
                # keep every level's features in the graph so distributed training sees all gradients
                pooled = pooled + 0.0 * feats[level].sum()
        return pooled

    def export_forward(self, feats: Sequence[torch.Tensor], rois: torch.Tensor) -> torch.Tensor:
        """:meth:`forward` without data-dependent shapes, for graph export.

        Every RoI is pooled on every level by the :func:`~visionstack.models.ops.export_ops.onnx_roi_align`
        operator (one ONNX ``RoiAlign`` each) and ``torch.where`` keeps the level of its scale, in
        place of selecting each level's members.

        Args:
            feats: levels (B, C, H_l, W_l).
            rois: (K, 5) ``[image_index, x1, y1, x2, y2]`` in input pixels.

        Returns:
            (K, C, output_size, output_size) float32.
        """
        if len(feats) < self.num_inputs:
            raise ValueError(
                f"SingleRoIExtractor: needs {self.num_inputs} levels (strides {self.featmap_strides}), got {len(feats)}"
            )
        rois = rois.float()
        levels = self.map_roi_levels(rois)[:, None, None, None]
        pooled = None
        for level, layer in enumerate(self.roi_layers):
            pooled_level = onnx_roi_align(
                feats[level].float(),
                rois,
                self.output_size,
                layer.spatial_scale,
                layer.sampling_ratio,
                layer.aligned,
            )
            pooled = pooled_level if pooled is None else torch.where(levels == level, pooled_level, pooled)
        return pooled


@MODELS.register()
class Shared2FCBBoxHead(nn.Module):
    """Flatten the pooled RoI features, two fc layers (ReLU), then classifier and regressor.

    Args:
        num_classes: object classes (the classifier has ``num_classes + 1`` outputs, background last).
        in_channels: channels of the pooled features.
        roi_feat_size: side of the pooled features.
        fc_out_channels: width of the two shared fc layers.
        bbox_coder: delta coder (default: means 0, stds 0.1, 0.1, 0.2, 0.2).
        reg_class_agnostic: one box per RoI instead of one per class.
        loss_cls: softmax classification loss ``(logits, labels)`` (default: cross-entropy, mean).
        loss_bbox: regression loss ``(pred, target, weight, avg_factor)`` (default: L1).

    Shapes:
        ``forward(roi_feats (K, C, S, S))`` -> ``(cls_score (K, num_classes + 1), bbox_pred (K, 4 *
        num_classes))`` (or (K, 4) when class-agnostic).
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 256,
        roi_feat_size: int = 7,
        fc_out_channels: int = 1024,
        bbox_coder: DeltaXYWHBBoxCoder | None = None,
        reg_class_agnostic: bool = False,
        loss_cls: nn.Module | None = None,
        loss_bbox: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = check_num_classes(num_classes, "Shared2FCBBoxHead")
        self.reg_class_agnostic = reg_class_agnostic
        self.bbox_coder = bbox_coder or DeltaXYWHBBoxCoder(target_stds=(0.1, 0.1, 0.2, 0.2))
        self.loss_cls = loss_cls or CrossEntropyLoss()
        self.loss_bbox = loss_bbox or L1Loss()
        self.shared_fcs = nn.ModuleList(
            [
                nn.Linear(in_channels * roi_feat_size * roi_feat_size, fc_out_channels),
                nn.Linear(fc_out_channels, fc_out_channels),
            ]
        )
        self.fc_cls = nn.Linear(fc_out_channels, num_classes + 1)
        self.fc_reg = nn.Linear(fc_out_channels, 4 if reg_class_agnostic else 4 * num_classes)
        # initialisation of MMDetection's ConvFCBBoxHead / BBoxHead
        for fc in self.shared_fcs:
            xavier_init(fc)
        normal_init(self.fc_cls, std=0.01)
        normal_init(self.fc_reg, std=0.001)

    def forward(self, roi_feats: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        hidden = roi_feats.flatten(1)
        for fc in self.shared_fcs:
            hidden = torch.relu(fc(hidden))
        return self.fc_cls(hidden), self.fc_reg(hidden)

    def class_deltas(self, bbox_pred: torch.Tensor) -> torch.Tensor:
        """(K, 4 * C) or (K, 4) -> (K, C, 4) deltas, one per class."""
        deltas = bbox_pred.reshape(bbox_pred.shape[0], 1 if self.reg_class_agnostic else self.num_classes, 4)
        return deltas.expand(-1, self.num_classes, 4) if self.reg_class_agnostic else deltas

    def loss(
        self,
        cls_score: torch.Tensor,
        bbox_pred: torch.Tensor,
        rois: torch.Tensor,
        labels: torch.Tensor,
        target_boxes: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """Losses of K sampled RoIs.

        Args:
            cls_score: (K, num_classes + 1) logits.
            bbox_pred: (K, 4 * num_classes) deltas.
            rois: (K, 5) sampled RoIs.
            labels: (K,) int64 classes, ``num_classes`` for background.
            target_boxes: (K, 4) xyxy matched ground truths (ignored for background).

        Returns:
            ``loss_cls``, ``loss_bbox`` (summed over positives, divided by K as MMDetection does) and
            ``acc`` (classification accuracy in percent, logged only).
        """
        cls_score, bbox_pred = cls_score.float(), bbox_pred.float()
        loss_cls = self.loss_cls(cls_score, labels)
        positive = torch.nonzero((labels >= 0) & (labels < self.num_classes)).flatten()
        deltas = self.class_deltas(bbox_pred)
        if positive.numel():
            pos_deltas = deltas[positive, labels[positive]]
            pos_targets = self.bbox_coder.encode(rois[positive, 1:], target_boxes[positive].to(rois))
        else:
            pos_deltas, pos_targets = bbox_pred.new_zeros(0, 4), bbox_pred.new_zeros(0, 4)
        loss_bbox = self.loss_bbox(pos_deltas, pos_targets, None, avg_factor=max(labels.numel(), 1))
        if positive.numel() == 0:
            loss_bbox = loss_bbox + 0.0 * bbox_pred.sum()  # keep the regressor in the graph
        accuracy = (cls_score.argmax(dim=1) == labels).float().mean() * 100
        return {"loss_cls": loss_cls, "loss_bbox": loss_bbox, "acc": accuracy.detach()}


RCNN_TEST_DEFAULTS = dict(score_thr=0.05, nms_iou_thr=0.5, max_per_img=100, mask_thr_binary=0.5)
"""The second stage's test settings (MMDetection's ``rcnn`` ``test_cfg``)."""


@MODELS.register()
class StandardRoIHead(nn.Module):
    """The R-CNN second stage: box branch, and optionally Mask R-CNN's mask branch.

    Args:
        bbox_roi_extractor: pools (K, C, 7, 7) features per RoI.
        bbox_head: classifier and regressor of the pooled features.
        mask_roi_extractor: pools (K, C, 14, 14) features per positive RoI; None with a
            ``mask_head`` shares ``bbox_roi_extractor``.
        mask_head: the mask branch (None: Faster R-CNN).
        assigner: proposal assigner (default: MaxIoU 0.5 / 0.5, no low-quality matches).
        sampler: RoI sampler (default: 512 per image, 25% positive, ground truths added).
        test_cfg: post-processing, a :class:`DetTestConfig` or a dict over :data:`RCNN_TEST_DEFAULTS`
            (``nms_pre`` and ``min_bbox_size`` are not read).

    Proposals are per image InstanceData with ``bboxes`` (P, 4) xyxy in input pixels (the RPN's).
    """

    def __init__(
        self,
        bbox_roi_extractor: SingleRoIExtractor,
        bbox_head: Shared2FCBBoxHead,
        mask_roi_extractor: SingleRoIExtractor | None = None,
        mask_head: nn.Module | None = None,
        assigner: Any | None = None,
        sampler: Any | None = None,
        test_cfg: DetTestConfig | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        self.bbox_roi_extractor = bbox_roi_extractor
        self.bbox_head = bbox_head
        self.mask_head = mask_head
        self.mask_roi_extractor = mask_roi_extractor
        self.share_roi_extractor = mask_head is not None and mask_roi_extractor is None
        self.assigner = assigner or MaxIoUAssigner(0.5, 0.5, min_pos_iou=0.5, match_low_quality=False)
        self.sampler = sampler or RandomSampler(512, 0.25, add_gt_as_proposals=True)
        self.test_cfg = DetTestConfig.from_value(
            test_cfg,
            "StandardRoIHead",
            defaults=RCNN_TEST_DEFAULTS,
            unused=("nms_pre", "min_bbox_size", "clip_to_image"),
        )

    @property
    def with_mask(self) -> bool:
        """Whether the head has a mask branch."""
        return self.mask_head is not None

    def _mask_feats(self, feats: Sequence[torch.Tensor], rois: torch.Tensor) -> torch.Tensor:
        extractor = self.bbox_roi_extractor if self.share_roi_extractor else self.mask_roi_extractor
        return extractor(feats, rois)

    def forward(
        self, feats: Sequence[torch.Tensor], proposals: Sequence[InstanceData]
    ) -> tuple[torch.Tensor, ...]:
        """Raw outputs on all proposals: ``(cls_score (K, C + 1), bbox_pred (K, 4C)[, mask_logits
        (K, C, 28, 28)])``."""
        rois = _float_rois([proposal.bboxes for proposal in proposals], feats)
        outputs = self.bbox_head(self.bbox_roi_extractor(feats, rois))
        if self.with_mask:
            outputs = (*outputs, self.mask_head(self._mask_feats(feats, rois)))
        return outputs

    # ---- training ---------------------------------------------------------------------------
    def loss(
        self,
        feats: Sequence[torch.Tensor],
        proposals: Sequence[InstanceData],
        data_samples: Sequence[DataSample],
    ) -> dict[str, torch.Tensor]:
        """Box losses (``loss_cls``, ``loss_bbox``, ``acc``) and, with a mask head, ``loss_mask``."""
        samples = [self._sample(proposal, sample) for proposal, sample in zip(proposals, data_samples)]
        num_classes = self.bbox_head.num_classes
        rois = _float_rois([s.priors[torch.cat([s.pos_inds, s.neg_inds])] for s in samples], feats)
        labels = torch.cat(
            [
                torch.cat([s.pos_gt_labels, s.pos_gt_labels.new_full((s.neg_inds.numel(),), num_classes)])
                for s in samples
            ]
        )
        target_boxes = torch.cat(
            [torch.cat([s.pos_gt_boxes.to(rois), rois.new_zeros(s.neg_inds.numel(), 4)]) for s in samples]
        )
        cls_score, bbox_pred = self.bbox_head(self.bbox_roi_extractor(feats, rois))
        losses = self.bbox_head.loss(cls_score, bbox_pred, rois, labels, target_boxes)
        if self.with_mask:
            losses.update(self._mask_loss(feats, samples, data_samples))
        return losses

    def _sample(self, proposal: InstanceData, sample: DataSample) -> Any:
        priors = proposal.bboxes.detach()
        gt = sample.gt_instances
        gt_boxes, gt_labels = gt.bboxes.to(priors), gt.labels.to(priors.device)
        ignored = sample.get("ignored_instances")
        ignore_boxes = ignored.bboxes.to(priors) if ignored is not None and "bboxes" in ignored else None
        assign = self.assigner.assign(priors, gt_boxes, gt_labels, ignore_boxes)
        return sample_assignment(self.sampler, assign, priors, gt_boxes, gt_labels)

    def _mask_loss(
        self, feats: Sequence[torch.Tensor], samples: Sequence[Any], data_samples: Sequence[DataSample]
    ) -> dict[str, torch.Tensor]:
        pos_rois = _float_rois([s.pos_priors for s in samples], feats)
        mask_logits = self.mask_head(self._mask_feats(feats, pos_rois))
        targets = []
        for s, sample in zip(samples, data_samples):
            if "masks" not in sample.gt_instances:
                raise KeyError(
                    "StandardRoIHead: the mask head needs gt_instances.masks; add LoadAnnotations(with_mask=True) "
                    "to the training pipeline"
                )
            targets.append(
                mask_targets(
                    s.pos_priors.to(pos_rois),
                    s.pos_assigned_gt_inds,
                    sample.gt_instances.masks,
                    self.mask_head.mask_size,
                )
            )
        labels = torch.cat([s.pos_gt_labels for s in samples])
        return self.mask_head.loss(mask_logits, torch.cat(targets), labels)

    # ---- inference --------------------------------------------------------------------------
    @torch.no_grad()
    def predict(
        self,
        feats: Sequence[torch.Tensor],
        proposals: Sequence[InstanceData],
        data_samples: Sequence[DataSample],
        rescale: bool = True,
    ) -> list[InstanceData]:
        """Detections per image: InstanceData with ``bboxes`` (K, 4) xyxy, ``scores`` (K,),
        ``labels`` (K,) int64 and, with a mask head, ``masks`` (K, H, W) bool; in original image
        pixels when ``rescale`` (``scale_factor`` divided out, masks at ``ori_shape``), else in the
        preprocessed image's pixels (masks at ``img_shape``)."""
        rois = _float_rois([proposal.bboxes for proposal in proposals], feats)
        cls_score, bbox_pred = self.bbox_head(self.bbox_roi_extractor(feats, rois))
        counts = [len(proposal) for proposal in proposals]
        results = [
            self._detect_single(scores, deltas, image_rois, sample)
            for scores, deltas, image_rois, sample in zip(
                cls_score.split(counts), bbox_pred.split(counts), rois.split(counts), data_samples
            )
        ]
        if self.with_mask:
            self._add_masks(feats, results, data_samples, rescale)
        if rescale:
            for result, sample in zip(results, data_samples):
                result.bboxes = rescale_boxes(result.bboxes, sample.metainfo.get("scale_factor"))
        return results

    def _detect_single(
        self, cls_score: torch.Tensor, bbox_pred: torch.Tensor, rois: torch.Tensor, sample: DataSample
    ) -> InstanceData:
        """:meth:`detect` on one image's (K, 5) RoIs, the padding stripped (input pixels)."""
        meta = sample.metainfo
        shape = meta.get("img_shape", meta.get("batch_input_shape"))
        cfg = self.test_cfg
        max_num = cfg.max_per_img if cfg.max_per_img > 0 else rois.shape[0] * self.bbox_head.num_classes
        if max_num == 0 or rois.shape[0] == 0:
            return InstanceData(
                bboxes=rois.new_zeros(0, 4),
                scores=rois.new_zeros(0),
                labels=torch.zeros(0, dtype=torch.long, device=rois.device),
            )
        boxes, scores, labels = self.detect(
            cls_score,
            bbox_pred,
            rois[None, :, 1:],
            None,
            None if shape is None else tuple(shape[:2]),
            max_num,
        )
        count = int((labels[0] >= 0).sum())
        return InstanceData(bboxes=boxes[0, :count], scores=scores[0, :count], labels=labels[0, :count])

    def detect(
        self,
        cls_score: torch.Tensor,
        bbox_pred: torch.Tensor,
        proposals: torch.Tensor,
        proposal_valid: torch.Tensor | None,
        img_shape: MaxShape | None,
        max_num: int,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The box branch's detections with fixed shapes: the one path of eager and exported inference.

        Softmax scores, class-specific decoding clipped to ``img_shape``, per-class NMS over the
        (proposal, class) pairs above ``score_thr`` in the preprocessed image's pixels (the
        :func:`~visionstack.models.ops.export_ops.nms_topk` operator), the ``max_num`` best.

        Args:
            cls_score: (B * P, C + 1) logits of the proposals, image-major.
            bbox_pred: (B * P, 4 * C) (or (B * P, 4)) deltas.
            proposals: (B, P, 4) xyxy proposals in input pixels.
            proposal_valid: (B, P) bool, False for padding proposals (never a detection); None: all.
            img_shape: ``(height, width)``, or (B, 2) ``[height, width]`` per image; None: no clip.
            max_num: rows per image (K), > 0.

        Returns:
            ``boxes`` (B, K, 4) in input pixels, ``scores`` (B, K) and ``labels`` (B, K) int64 in
            decreasing score; rows past the last detection have score -1 and label -1 (their boxes
            are those of an arbitrary candidate).
        """
        cfg = self.test_cfg
        batch, count = proposals.shape[:2]
        num_classes = self.bbox_head.num_classes
        scores = torch.softmax(cls_score.float(), dim=1)[:, :-1].reshape(batch, count, num_classes)
        if proposal_valid is not None:
            scores = torch.where(proposal_valid[..., None], scores, DROPPED_SCORE)
        scores = scores.reshape(batch, count * num_classes)
        deltas = self.bbox_head.class_deltas(bbox_pred.float())  # (B * P, C, 4)
        priors = proposals.float().reshape(-1, 1, 4).expand_as(deltas)
        boxes = self.bbox_head.bbox_coder.decode(priors, deltas).reshape(batch, count * num_classes, 4)
        if self.bbox_head.bbox_coder.clip_border and img_shape is not None:
            boxes = clip_to_shape(boxes, img_shape)
        labels = torch.arange(num_classes, device=boxes.device).repeat(count)[None].expand(batch, -1)
        # scores are >= 0: a threshold below DROPPED_SCORE / 2 selects the same pairs and keeps padding out
        kept_scores, kept_index = nms_topk(
            boxes,
            scores,
            labels,
            num_classes,
            cfg.nms_iou_thr,
            max(cfg.score_thr, DROPPED_SCORE / 2),
            max_num,
        )
        found = kept_scores > DROPPED_SCORE / 2
        return (
            gather_rows(boxes, kept_index),
            kept_scores,
            torch.where(found, labels.gather(1, kept_index), -1),
        )

    # ---- export -----------------------------------------------------------------------------
    def export_predict(
        self,
        feats: Sequence[torch.Tensor],
        proposals: torch.Tensor,
        proposal_scores: torch.Tensor,
        img_shape: torch.Tensor,
        scale_factor: torch.Tensor,
    ) -> tuple[torch.Tensor, ...]:
        """:meth:`predict` (``rescale=True``) with fixed output shapes, for graph export.

        The same detections as the eager path: softmax scores, class-specific decoding clipped to
        ``img_shape``, per-class NMS over the (proposal, class) pairs in the preprocessed image's
        pixels (:func:`~visionstack.models.ops.export_ops.nms_topk`), then boxes divided by ``scale_factor``.
        Padding proposals (score -1) never yield a detection.

        Args:
            feats: levels (B, C, H_l, W_l).
            proposals: (B, P, 4) xyxy proposals in input pixels.
            proposal_scores: (B, P); rows with a negative score are padding.
            img_shape: (B, 2) float ``[height, width]`` of each image before padding.
            scale_factor: (B, 2) float ``[w_factor, h_factor]`` of each image's resize.

        Returns:
            ``dets`` (B, K, 5) ``[x1, y1, x2, y2, score]`` in original pixels in decreasing score
            and ``labels`` (B, K) int64, ``K = test_cfg.max_per_img``, padding rows with score -1,
            label -1 and a zero box; with a mask head also ``masks`` (B, K, M, M) float32, the
            sigmoid mask of each detection's class over its box (not pasted).
        """
        cfg = self.test_cfg
        if cfg.max_per_img <= 0:
            raise ValueError(
                f"StandardRoIHead.export_predict: max_per_img must be > 0 to export, got {cfg.max_per_img}"
            )
        batch = proposals.shape[0]
        rois = _batch_rois(proposals)
        cls_score, bbox_pred = self.bbox_head(self.bbox_roi_extractor.export_forward(feats, rois))
        det_boxes, det_scores, det_labels = self.detect(
            cls_score, bbox_pred, proposals, proposal_scores > DROPPED_SCORE / 2, img_shape, cfg.max_per_img
        )
        factor = scale_factor.to(det_boxes.dtype).repeat(1, 2)[:, None, :]  # (B, 1, 4): w, h, w, h
        original = torch.where((det_labels >= 0)[..., None], det_boxes / factor, 0.0)
        outputs = (torch.cat([original, det_scores[..., None]], dim=-1), det_labels)
        if not self.with_mask:
            return outputs
        mask_rois = _batch_rois(det_boxes)
        mask_logits = self.mask_head(self._export_mask_feats(feats, mask_rois))
        probabilities = self.mask_head.export_masks(mask_logits, det_labels.reshape(-1))
        return (*outputs, probabilities.reshape(batch, cfg.max_per_img, *probabilities.shape[-2:]))

    def _export_mask_feats(self, feats: Sequence[torch.Tensor], rois: torch.Tensor) -> torch.Tensor:
        extractor = self.bbox_roi_extractor if self.share_roi_extractor else self.mask_roi_extractor
        return extractor.export_forward(feats, rois)

    def _add_masks(
        self,
        feats: Sequence[torch.Tensor],
        results: list[InstanceData],
        data_samples: Sequence[DataSample],
        rescale: bool,
    ) -> None:
        """Set ``masks`` of every result from the mask branch on its final boxes (input pixels)."""
        rois = _float_rois([result.bboxes for result in results], feats)
        mask_logits = self.mask_head(self._mask_feats(feats, rois))
        for result, logits, sample in zip(
            results, mask_logits.split([len(r) for r in results]), data_samples
        ):
            meta = sample.metainfo
            if rescale:
                boxes = rescale_boxes(result.bboxes, sample.metainfo.get("scale_factor"))
                shape = meta.get("ori_shape", meta.get("img_shape"))
            else:
                boxes, shape = result.bboxes, meta.get("img_shape", meta.get("batch_input_shape"))
            result.masks = self.mask_head.predict_masks(
                logits, boxes, result.labels, shape[:2], self.test_cfg.mask_thr_binary
            )
