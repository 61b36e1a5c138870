"""The PointPillars / SECOND anchor head (Lang et al., "PointPillars", CVPR 2019; Yan et al., "SECOND").

Facts taken from MMDetection3D v1.x (``mmdet3d/models/dense_heads/anchor3d_head.py``,
``train_mixins.py``, ``base_3d_dense_head.py``, ``layers/box3d_nms.py`` and
``configs/_base_/models/pointpillars_hv_secfpn_kitti.py``), so that its configs mean the same here:

- layers: three 1x1 convs on the neck's map, ``conv_cls`` (A * C channels), ``conv_reg`` (A * 7)
  and ``conv_dir_cls`` (A * 2), A = sizes x rotations anchors per cell; they read
  ``feat_channels`` channels (MMDetection3D has no conv between neck and head). Init: normal
  std 0.01, ``conv_cls`` bias ``-log((1 - 0.01) / 0.01)`` (prior probability 0.01), other biases 0.
- KITTI 3-class config: ``AlignedAnchor3DRangeGenerator``, ranges ``[0, -39.68, z, 69.12, 39.68,
  z]`` with z = -0.6 (Pedestrian, Cyclist) and -1.78 (Car), sizes ``[0.8, 0.6, 1.73]``,
  ``[1.76, 0.6, 1.73]``, ``[3.9, 1.6, 1.56]``, rotations ``[0, 1.57]``, ``reshape_out=False``;
  ``assign_per_class=True`` with one ``Max3DIoUAssigner`` per class on ``BboxOverlapsNearest3D``
  (pos / neg / min_pos: Pedestrian and Cyclist 0.5 / 0.35 / 0.35, Car 0.6 / 0.45 / 0.45);
  ``diff_rad_by_sin=True``; ``dir_offset = -pi / 2`` and ``dir_limit_offset = 0`` (v1.x defaults;
  v0.x used pi / 4 in its old box frame); FocalLoss gamma 2 alpha 0.25, SmoothL1Loss beta 1/9
  weight 2.0, CrossEntropyLoss weight 0.2; ``test_cfg = dict(use_rotate_nms=True, nms_thr=0.01,
  score_thr=0.1, min_bbox_size=0, nms_pre=100, max_num=50)``; ``train_cfg = dict(assigner=[...],
  allowed_border=0, pos_weight=-1)``.
- targets: with ``assign_per_class`` the anchors of size i are matched to the ground truths of
  class i only; positives get the class label, the encoded box (``DeltaXYZWLHRBBoxCoder``) and the
  direction bin ``floor(limit_period(yaw_gt - dir_offset, dir_limit_offset, 2 pi) / pi)``; positives
  and negatives have classification weight 1, ignored anchors 0; background label = C.
- losses: all three divided by ``sum over samples of max(num_positives, 1)`` (FocalLoss needs no
  sampling, so negatives are not counted); the angle regressed as ``sin(a - b) = sin a cos b -
  cos a sin b`` (the 7th column of prediction and target replaced by the two products).
- decoding: the ``nms_pre`` anchors of highest max-over-classes sigmoid score, decoded; per class the
  scores ``> score_thr``, rotated BEV NMS at ``nms_thr`` (axis-aligned when ``use_rotate_nms`` is
  False); the kept boxes of all classes, the ``max_num`` best; then ``yaw = limit_period(yaw -
  dir_offset, dir_limit_offset, pi) + dir_offset + pi * dir_bin``.

Differences: one feature level; detections come sorted by score (MMDetection3D sorts only when more
than ``max_num`` survive, else keeps them in class order); ``ignore`` regions are not supported.
:meth:`Anchor3DHead.predict` runs :meth:`Anchor3DHead.export_predict` (fixed-size, ONNX-exportable:
NMS by masks, no data-dependent shapes) and drops its padding rows, so eager and exported inference
agree.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ....models.losses import CrossEntropyLoss, FocalLoss, SmoothL1Loss
from ....registry import MODELS
from ....structures import InstanceData
from ..box_coder import DeltaXYZWLHRBBoxCoder
from ..boxes import limit_period
from ..ops.nms import rotated_nms
from .anchors3d import AlignedAnchor3DRangeGenerator, Anchor3DRangeGenerator

__all__ = ["Anchor3DHead"]

HeadOutputs = tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]

DEFAULT_TEST_CFG = dict(
    use_rotate_nms=True, nms_thr=0.01, score_thr=0.1, min_bbox_size=0, nms_pre=100, max_num=50
)


def _build(cfg: Any, default: Any) -> Any:
    """``cfg`` built from the registry when it is a config dict, ``default`` when None."""
    if cfg is None:
        return default
    return MODELS.build(cfg) if isinstance(cfg, Mapping) else cfg


@MODELS.register()
class Anchor3DHead(nn.Module):
    """Classification, box regression and direction bins for every 3D anchor of a BEV feature map.

    Args:
        num_classes: object classes C (the sigmoid channels per anchor; no background channel).
        in_channels: channels of the neck's output; must equal ``feat_channels``.
        feat_channels: channels the 1x1 convs read.
        use_direction_classifier: add ``conv_dir_cls`` (2 bins: the heading modulo pi is regressed,
            the bin says which of the two opposite headings).
        anchor_generator: an :class:`Anchor3DRangeGenerator` (or its config); one size per class
            with ``assign_per_class``.
        assigner_per_size: kept for MMDetection3D configs (it does not change the assignment
            there either).
        assign_per_class: match the anchors of size i only to the ground truths of class i.
        diff_rad_by_sin: regress the angle through ``sin(pred - target)``.
        dir_offset: the heading where the direction bins switch, minus ``dir_limit_offset * 2 pi``.
        dir_limit_offset: ``offset`` of ``limit_period`` for the direction bins.
        bbox_coder: the box coder (default :class:`DeltaXYZWLHRBBoxCoder`).
        loss_cls: classification loss (default sigmoid :class:`FocalLoss`, gamma 2, alpha 0.25).
        loss_bbox: regression loss (default :class:`SmoothL1Loss`, beta 1/9, weight 2).
        loss_dir: direction loss (default :class:`CrossEntropyLoss`, weight 0.2).
        train_cfg: ``assigner`` (one per class, or one for all), ``pos_weight`` (<= 0: 1),
            optional ``code_weight`` (7 numbers).
        test_cfg: ``nms_pre``, ``score_thr``, ``nms_thr``, ``use_rotate_nms``, ``max_num``.
        init_cfg: unused (MMDetection3D's init is built in); accepted for configs.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int,
        feat_channels: int = 256,
        use_direction_classifier: bool = True,
        anchor_generator: Anchor3DRangeGenerator | Mapping[str, Any] | None = None,
        assigner_per_size: bool = False,
        assign_per_class: bool = True,
        diff_rad_by_sin: bool = True,
        dir_offset: float = -math.pi / 2,
        dir_limit_offset: float = 0.0,
        bbox_coder: Any = None,
        loss_cls: Any = None,
        loss_bbox: Any = None,
        loss_dir: Any = None,
        train_cfg: Mapping[str, Any] | None = None,
        test_cfg: Mapping[str, Any] | None = None,
        init_cfg: Any = None,
    ) -> None:
        super().__init__()
        if in_channels != feat_channels:
            raise ValueError(
                f"Anchor3DHead: in_channels ({in_channels}) must equal feat_channels ({feat_channels}): "
                "the 1x1 convs read the neck's output directly"
            )
        self.num_classes = num_classes
        self.in_channels = in_channels
        self.feat_channels = feat_channels
        self.use_direction_classifier = use_direction_classifier
        self.assigner_per_size = assigner_per_size
        self.assign_per_class = assign_per_class
        self.diff_rad_by_sin = diff_rad_by_sin
        self.dir_offset = float(dir_offset)
        self.dir_limit_offset = float(dir_limit_offset)
        self.prior_generator = _build(
            anchor_generator,
            AlignedAnchor3DRangeGenerator(
                ranges=[[0, -39.68, -1.78, 69.12, 39.68, -1.78]], reshape_out=False
            ),
        )
        if self.prior_generator.num_levels != 1:
            raise ValueError(
                "Anchor3DHead: one feature level is supported (anchor_generator.scales of length 1)"
            )
        self.num_anchors = self.prior_generator.num_base_anchors
        self.bbox_coder = _build(bbox_coder, DeltaXYZWLHRBBoxCoder())
        self.box_code_size = int(self.bbox_coder.code_size)
        self.loss_cls = _build(loss_cls, FocalLoss(gamma=2.0, alpha=0.25, loss_weight=1.0))
        self.loss_bbox = _build(loss_bbox, SmoothL1Loss(beta=1.0 / 9.0, loss_weight=2.0))
        self.loss_dir = _build(loss_dir, CrossEntropyLoss(loss_weight=0.2))
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = {**DEFAULT_TEST_CFG, **dict(test_cfg or {})}
        self.assigners = self._build_assigners(self.train_cfg.get("assigner"))
        self.conv_cls = nn.Conv2d(feat_channels, self.num_anchors * num_classes, 1)
        self.conv_reg = nn.Conv2d(feat_channels, self.num_anchors * self.box_code_size, 1)
        if use_direction_classifier:
            self.conv_dir_cls = nn.Conv2d(feat_channels, self.num_anchors * 2, 1)
        self.init_weights()

    def set_cfgs(self, train_cfg: Mapping[str, Any] | None, test_cfg: Mapping[str, Any] | None) -> None:
        """Merge the detector-level ``train_cfg`` / ``test_cfg`` (where MMDetection3D's configs put them) into a
        built head's own, the assigners rebuilt."""
        if train_cfg is not None:
            self.train_cfg = {**self.train_cfg, **dict(train_cfg)}
            self.assigners = self._build_assigners(self.train_cfg.get("assigner"))
        if test_cfg is not None:
            self.test_cfg = {**self.test_cfg, **dict(test_cfg)}

    def _build_assigners(self, cfg: Any) -> list[Any]:
        """One assigner per anchor size (class) or a single one for every anchor; [] without a train_cfg."""
        if cfg is None:
            return []
        assigners = [_build(c, None) for c in cfg] if isinstance(cfg, (list, tuple)) else [_build(cfg, None)]
        num_sizes = len(self.prior_generator.sizes)
        if len(assigners) > 1 and len(assigners) != num_sizes:
            raise ValueError(f"Anchor3DHead: {len(assigners)} assigners for {num_sizes} anchor sizes")
        if self.assign_per_class and len(assigners) > 1 and num_sizes != self.num_classes:
            raise ValueError(
                f"Anchor3DHead: assign_per_class needs one anchor size per class, got {num_sizes}"
            )
        return assigners

    def init_weights(self) -> None:
        """Normal(0, 0.01) convs; ``conv_cls`` bias for a prior foreground probability of 0.01."""
        for conv in (self.conv_cls, self.conv_reg, getattr(self, "conv_dir_cls", None)):
            if conv is not None:
                nn.init.normal_(conv.weight, std=0.01)
                nn.init.zeros_(conv.bias)
        nn.init.constant_(self.conv_cls.bias, -math.log((1 - 0.01) / 0.01))

    def forward(self, feats: Sequence[torch.Tensor]) -> HeadOutputs:
        """``feats``: one (B, C, H, W) map -> ``([cls (B, A*C, H, W)], [reg (B, A*7, H, W)], [dir (B, A*2, H, W)])``."""
        if len(feats) != 1:
            raise ValueError(f"Anchor3DHead: expected one feature map, got {len(feats)}")
        x = feats[0]
        dir_pred = (
            self.conv_dir_cls(x)
            if self.use_direction_classifier
            else x.new_zeros(x.shape[0], 0, *x.shape[2:])
        )
        return [self.conv_cls(x)], [self.conv_reg(x)], [dir_pred]

    # ----------------------------------------------------------------------------------- anchors
    def anchors(self, featmap_size: Sequence[int], device: torch.device | str) -> torch.Tensor:
        """``(1, H, W, S, R, 7)`` anchors of a feature map of ``featmap_size`` (H, W)."""
        anchors = self.prior_generator.single_level_grid_anchors(
            tuple(featmap_size), self.prior_generator.scales[0], device
        )
        return anchors[..., : self.box_code_size]

    # ----------------------------------------------------------------------------------- targets
    def direction_target(self, anchors: torch.Tensor, deltas: torch.Tensor) -> torch.Tensor:
        """(N,) int64 direction bin of the ground truth's yaw (anchor yaw + regressed delta)."""
        yaw = deltas[:, 6] + anchors[:, 6]
        shifted = limit_period(yaw - self.dir_offset, self.dir_limit_offset, 2 * math.pi)
        return torch.floor(shifted / math.pi).long().clamp(0, 1)

    def _targets_one_group(
        self, assigner: Any, anchors: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Targets of (N, 7) anchors against (G, 7) ground truths with (G,) labels."""
        num = anchors.shape[0]
        labels = torch.full((num,), self.num_classes, dtype=torch.long, device=anchors.device)
        label_weights = anchors.new_zeros(num)
        bbox_targets = anchors.new_zeros(num, self.box_code_size)
        bbox_weights = anchors.new_zeros(num, self.box_code_size)
        dir_targets = torch.zeros(num, dtype=torch.long, device=anchors.device)
        dir_weights = anchors.new_zeros(num)
        if gt_boxes.shape[0] == 0:
            label_weights.fill_(1.0)  # every anchor a negative
            positive = torch.zeros(num, dtype=torch.bool, device=anchors.device)
        else:
            result = assigner.assign(anchors, gt_boxes, gt_labels)
            positive, negative = result.gt_inds > 0, result.gt_inds == 0
            matched = gt_boxes[result.gt_inds[positive] - 1]
            deltas = self.bbox_coder.encode(anchors[positive], matched)
            bbox_targets[positive] = deltas
            bbox_weights[positive] = 1.0
            dir_targets[positive] = self.direction_target(anchors[positive], deltas)
            dir_weights[positive] = 1.0
            labels[positive] = gt_labels[result.gt_inds[positive] - 1].long()
            pos_weight = float(self.train_cfg.get("pos_weight", -1))
            label_weights[negative] = 1.0
            label_weights[positive] = pos_weight if pos_weight > 0 else 1.0
        return dict(
            labels=labels,
            label_weights=label_weights,
            bbox_targets=bbox_targets,
            bbox_weights=bbox_weights,
            dir_targets=dir_targets,
            dir_weights=dir_weights,
            num_pos=positive.sum(),
        )

    def get_targets(
        self, anchors: torch.Tensor, gt_boxes: torch.Tensor, gt_labels: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """Targets of one sample for ``(1, H, W, S, R, 7)`` anchors, rows in the head's anchor order.

        Returns ``labels`` (N,) (C = background), ``label_weights`` (N,), ``bbox_targets`` (N, 7),
        ``bbox_weights`` (N, 7), ``dir_targets`` (N,), ``dir_weights`` (N,), ``num_pos`` (scalar).
        """
        if not self.assigners:
            raise ValueError("Anchor3DHead: loss needs train_cfg with an `assigner`")
        keep = (gt_labels >= 0) & (gt_labels < self.num_classes)
        gt_boxes, gt_labels = gt_boxes[keep][:, : self.box_code_size].to(anchors.dtype), gt_labels[keep]
        if len(self.assigners) == 1:
            flat = self._targets_one_group(
                self.assigners[0], anchors.reshape(-1, anchors.shape[-1]), gt_boxes, gt_labels
            )
            return flat
        num_cells, num_rots = anchors.shape[0] * anchors.shape[1] * anchors.shape[2], anchors.shape[-2]
        groups = []
        for size_index, assigner in enumerate(self.assigners):
            group_anchors = anchors[..., size_index, :, :].reshape(-1, anchors.shape[-1])
            mine = (
                gt_labels == size_index
                if self.assign_per_class
                else torch.ones_like(gt_labels, dtype=torch.bool)
            )
            groups.append(self._targets_one_group(assigner, group_anchors, gt_boxes[mine], gt_labels[mine]))
        merged = {}
        for key in groups[0]:
            if key == "num_pos":
                merged[key] = sum(g[key] for g in groups)
                continue
            # (cells * rots, ...) per size -> (cells, sizes, rots, ...) -> the head's anchor order
            parts = [g[key].reshape(num_cells, 1, num_rots, *g[key].shape[1:]) for g in groups]
            merged[key] = torch.cat(parts, dim=1).reshape(-1, *groups[0][key].shape[1:])
        return merged

    # ----------------------------------------------------------------------------------- losses
    @staticmethod
    def add_sin_difference(pred: torch.Tensor, target: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Replace column 6 by ``sin(p) cos(t)`` and ``cos(p) sin(t)``: their difference is ``sin(p - t)``."""
        pred_rot = torch.sin(pred[:, 6:7]) * torch.cos(target[:, 6:7])
        target_rot = torch.cos(pred[:, 6:7]) * torch.sin(target[:, 6:7])
        return (
            torch.cat([pred[:, :6], pred_rot, pred[:, 7:]], dim=1),
            torch.cat([target[:, :6], target_rot, target[:, 7:]], dim=1),
        )

    def loss(
        self,
        outs: HeadOutputs,
        batch_gt_instances_3d: Sequence[InstanceData],
        batch_input_metas: Sequence[dict],
    ) -> dict[str, torch.Tensor]:
        """``loss_cls``, ``loss_bbox``, ``loss_dir`` of a batch, each normalised by the positives.

        ``batch_gt_instances_3d[i]`` holds ``bboxes_3d`` (G, 7) LiDAR and ``labels_3d`` (G,); labels
        outside ``[0, C)`` are dropped.
        """
        cls_score, bbox_pred, dir_pred = outs[0][0], outs[1][0], outs[2][0]
        anchors = self.anchors(cls_score.shape[-2:], cls_score.device)
        targets = [
            self.get_targets(
                anchors,
                torch.as_tensor(gt.bboxes_3d, device=cls_score.device).float(),
                torch.as_tensor(gt.labels_3d, device=cls_score.device).long(),
            )
            for gt in batch_gt_instances_3d
        ]
        # MMDetection3D's normaliser: the positives of each sample, at least one per sample
        avg_factor = float(sum(max(int(t.pop("num_pos")), 1) for t in targets))
        batch = {key: torch.cat([t[key] for t in targets]) for key in targets[0]}
        cls_flat = cls_score.permute(0, 2, 3, 1).reshape(-1, self.num_classes)
        loss_cls = self.loss_cls(cls_flat, batch["labels"], batch["label_weights"], avg_factor=avg_factor)
        positive = (batch["labels"] >= 0) & (batch["labels"] < self.num_classes)
        reg_flat = bbox_pred.permute(0, 2, 3, 1).reshape(-1, self.box_code_size)[positive]
        reg_target = batch["bbox_targets"][positive]
        reg_weight = batch["bbox_weights"][positive]
        code_weight = self.train_cfg.get("code_weight")
        if code_weight:
            reg_weight = reg_weight * reg_weight.new_tensor(code_weight)
        if self.diff_rad_by_sin:
            reg_flat, reg_target = self.add_sin_difference(reg_flat, reg_target)
        losses = dict(
            loss_cls=loss_cls,
            loss_bbox=self.loss_bbox(reg_flat, reg_target, reg_weight, avg_factor=avg_factor),
        )
        if self.use_direction_classifier:
            dir_flat = dir_pred.permute(0, 2, 3, 1).reshape(-1, 2)[positive]
            if dir_flat.shape[0] == 0:
                losses["loss_dir"] = dir_flat.sum() * 0.0
            else:
                losses["loss_dir"] = self.loss_dir(
                    dir_flat,
                    batch["dir_targets"][positive],
                    batch["dir_weights"][positive],
                    avg_factor=avg_factor,
                )
        return losses

    # ----------------------------------------------------------------------------------- inference
    def _decode_sample(
        self, cls_score: torch.Tensor, bbox_pred: torch.Tensor, dir_pred: torch.Tensor, anchors: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """One sample's ``(A*C, H, W)`` maps -> top ``nms_pre`` decoded boxes (P, 7), scores (P, C), bins (P,)."""
        scores = cls_score.permute(1, 2, 0).reshape(-1, self.num_classes).sigmoid()
        deltas = bbox_pred.permute(1, 2, 0).reshape(-1, self.box_code_size)
        if self.use_direction_classifier:
            dir_bins = dir_pred.permute(1, 2, 0).reshape(-1, 2).argmax(dim=1)
        else:
            dir_bins = torch.zeros(scores.shape[0], dtype=torch.long, device=scores.device)
        nms_pre = int(self.test_cfg.get("nms_pre", -1))
        if 0 < nms_pre < scores.shape[0]:
            top = scores.max(dim=1).values.topk(nms_pre).indices
            anchors, deltas, scores, dir_bins = anchors[top], deltas[top], scores[top], dir_bins[top]
        return self.bbox_coder.decode(anchors, deltas), scores, dir_bins

    def _select_sample(
        self, boxes: torch.Tensor, scores: torch.Tensor, dir_bins: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Per-class threshold and NMS, the best ``max_num`` -> (K, 7), (K,), (K,) padded with -1 labels."""
        cfg = self.test_cfg
        bev = boxes[:, [0, 1, 3, 4, 6]]
        if not cfg.get("use_rotate_nms", True):
            bev = torch.cat([bev[:, :4], torch.zeros_like(bev[:, 4:])], dim=1)  # nms_normal_bev: yaw ignored
        kept_scores = []
        for class_index in range(self.num_classes):  # a fixed count: exportable
            class_scores = scores[:, class_index]
            valid = class_scores > float(cfg.get("score_thr", 0.0))
            keep = rotated_nms(bev, class_scores, float(cfg["nms_thr"]), valid=valid)
            kept_scores.append(torch.where(keep, class_scores, torch.full_like(class_scores, -1.0)))
        flat_scores = torch.cat(kept_scores)  # (C * P,) class-major
        max_num = int(cfg["max_num"])
        take = min(max_num, flat_scores.shape[0])
        top_scores, top = flat_scores.topk(take)
        num_boxes = boxes.shape[0]
        rows = top % num_boxes
        labels = torch.div(top, num_boxes, rounding_mode="floor")
        selected = boxes[rows]
        yaw = limit_period(selected[:, 6] - self.dir_offset, self.dir_limit_offset, math.pi)
        yaw = yaw + self.dir_offset + math.pi * dir_bins[rows].to(selected.dtype)
        selected = torch.cat([selected[:, :6], yaw[:, None], selected[:, 7:]], dim=1)
        valid = top_scores >= 0
        selected = torch.where(valid[:, None], selected, torch.zeros_like(selected))
        top_scores = torch.where(valid, top_scores, torch.zeros_like(top_scores))
        labels = torch.where(valid, labels, torch.full_like(labels, -1))
        if take < max_num:
            pad = max_num - take
            selected = torch.cat([selected, selected.new_zeros(pad, selected.shape[1])])
            top_scores = torch.cat([top_scores, top_scores.new_zeros(pad)])
            labels = torch.cat([labels, labels.new_full((pad,), -1)])
        return selected, top_scores, labels

    def export_predict(self, outs: HeadOutputs) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Fixed-size detections: boxes (B, K, 7) LiDAR, scores (B, K), labels (B, K) int64, K = max_num.

        Rows sorted by score; padding rows have label -1, score 0 and zero boxes.
        """
        cls_score, bbox_pred, dir_pred = outs[0][0], outs[1][0], outs[2][0]
        anchors = self.anchors(cls_score.shape[-2:], cls_score.device).reshape(-1, self.box_code_size)
        results = [
            self._select_sample(*self._decode_sample(cls_score[i], bbox_pred[i], dir_pred[i], anchors))
            for i in range(cls_score.shape[0])
        ]
        return tuple(torch.stack([r[k] for r in results]) for k in range(3))  # type: ignore[return-value]

    def predict(
        self, outs: HeadOutputs, batch_input_metas: Sequence[dict] | None = None
    ) -> list[InstanceData]:
        """``export_predict`` without its padding rows: one :class:`InstanceData` per sample
        (``bboxes_3d`` (K, 7) float32 LiDAR, ``scores_3d`` (K,), ``labels_3d`` (K,) int64)."""
        boxes, scores, labels = self.export_predict(outs)
        results = []
        for sample_boxes, sample_scores, sample_labels in zip(boxes, scores, labels):
            real = sample_labels >= 0
            results.append(
                InstanceData(
                    bboxes_3d=sample_boxes[real].float(),
                    scores_3d=sample_scores[real],
                    labels_3d=sample_labels[real],
                )
            )
        return results
