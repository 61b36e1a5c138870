"""One inference path for the dense heads (RetinaNet, FCOS, RTMDet): eager ``predict`` and the exported
graph run the same code.

The path works on whole batches with fixed shapes, which is what ``torch.export`` needs:

1. per level, the ``nms_pre`` best (prior, class) pairs by class score (:func:`select_top_pairs`, a
   top-k instead of a score mask), their priors and regression rows gathered;
2. the head decodes the candidates of all levels at once (:meth:`DenseHeadInference.decode_rows`,
   the one place a head's box coding and score factors are written);
3. :func:`detections_from_candidates`: rescale to the original image, mark the candidates below the
   score threshold or too small, per-class NMS to a fixed number of rows by the
   :func:`~visionstack.models.ops.export_ops.nms_topk` operator (label -1 pads).

Eager ``predict`` runs it on each image of the batch (a batch of one) and strips the padding
(:func:`instances_from_detections`); ``export_predict`` runs it once on the whole batch. Top-k keeps a
superset of MMDetection's "threshold, then the ``nms_pre`` best" candidates; the extra ones fall
below the threshold and are marked, so the detections are the same, and equal scores keep index
order on both paths (:func:`~visionstack.models.ops.stable_topk`, ONNX ``TopK``'s rule).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any, ClassVar, NamedTuple

import torch

from ....models.ops import stable_topk
from ....models.ops.export_ops import nms_topk
from ....structures import DataSample, InstanceData
from .test_config import DetTestConfig

__all__ = [
    "DROPPED_SCORE",
    "valid_prior_flags",
    "DenseCandidates",
    "DenseHeadInference",
    "TopPairs",
    "bbox_post_process",
    "detections_from_candidates",
    "filter_scores_and_topk",
    "gather_rows",
    "image_metainfo",
    "instances_from_detections",
    "levels_to_rows",
    "rescale_boxes",
    "select_top_pairs",
]

DROPPED_SCORE = -1.0
"""Score of a candidate that post-processing drops, and of an empty output row."""


class DenseCandidates(NamedTuple):
    """Decoded candidates of a batch, N per image.

    Attributes:
        bboxes: (B, N, 4) xyxy in the resized-image frame.
        scores: (B, N) final scores (class score times any score factor), >= 0.
        labels: (B, N) int64 classes.
        valid: (B, N) bool, the candidates whose class score passed the threshold.
    """

    bboxes: torch.Tensor
    scores: torch.Tensor
    labels: torch.Tensor
    valid: torch.Tensor


class TopPairs(NamedTuple):
    """The (prior, class) pairs :func:`select_top_pairs` chose on every level, N per image.

    Attributes:
        priors: (B, N, D) their priors (anchors (D = 4) or points (D = 2)).
        rows: the head's other outputs at those priors (:meth:`DenseHeadInference.level_rows`),
            each (B, N, D_j).
        class_scores: (B, N) their class scores.
    """

    priors: torch.Tensor
    rows: list[torch.Tensor]
    class_scores: torch.Tensor


def levels_to_rows(maps: Sequence[torch.Tensor], channels: int) -> torch.Tensor:
    """Per-level (N, A * channels, H, W) maps -> (N, sum H * W * A, channels), position-major then anchor."""
    rows = [level.permute(0, 2, 3, 1).reshape(level.shape[0], -1, channels) for level in maps]
    return torch.cat(rows, dim=1)


def gather_rows(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows ``index`` (B, K) of per-image (B, P, D) values, or of shared (P, D) values -> (B, K, D)."""
    if values.ndim == 2:
        return values[index]
    return values.gather(1, index[..., None].expand(-1, -1, values.shape[-1]))


def select_top_pairs(
    scores: torch.Tensor, nms_pre: int, score_thr: float | None = None
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``nms_pre`` best (prior, class) pairs of each image.

    K = ``min(nms_pre, P * C)`` is known from the shapes alone. Whenever more than ``nms_pre`` pairs
    pass a score threshold these are exactly the pairs MMDetection keeps ("threshold, then the
    ``nms_pre`` best"); otherwise they include them, and the caller marks the others. Equal scores
    keep (prior, class) order.

    With ``score_thr``, eagerly (not while exporting) and for one image, when fewer than half the
    pairs pass it only those are ranked (a top-k over 1.15 M level-P3 scores costs far more than a
    comparison): K is then the number of passing pairs, at most ``nms_pre`` (1 when none passes: the
    first pair, which the caller marks), and the passing pairs are MMDetection's exactly. The
    detections are the same either way, since the extra pairs of the fixed-shape path are marked and
    dropped.

    Args:
        scores: (B, P, C) per-prior class scores.
        nms_pre: pairs kept per image; <= 0 keeps all ``P * C``.
        score_thr: the threshold the caller applies afterwards (strict), or None.

    Returns:
        ``(scores (B, K), prior_inds (B, K), labels (B, K))`` in decreasing score.
    """
    batch, _, num_classes = scores.shape
    flat = scores.reshape(batch, -1)
    count = flat.shape[1]
    top = None
    # is_exporting() first: comparing the (symbolic) batch size while exporting would fix it to 1
    if score_thr is not None and not torch.compiler.is_exporting() and batch == 1:
        passing = torch.nonzero(flat[0] > score_thr).flatten()  # index order
        if passing.numel() == 0:  # one candidate (pair 0, marked by the caller) keeps the shapes non-empty
            top, index = flat[:, :1], torch.zeros(1, 1, dtype=torch.long, device=flat.device)
        elif 2 * passing.numel() < count:
            keep = passing.numel() if nms_pre <= 0 else min(nms_pre, passing.numel())
            top, order = stable_topk(flat[:, passing], keep)
            index = passing[order]
    if top is None:
        top, index = stable_topk(flat, count if nms_pre <= 0 else torch.sym_min(nms_pre, count))
    prior = torch.div(index, num_classes, rounding_mode="floor")
    return top, prior, index - prior * num_classes


def detections_from_candidates(
    candidates: DenseCandidates,
    scale_factor: torch.Tensor | None,
    num_classes: int,
    iou_threshold: float,
    max_num: int,
    min_bbox_size: float | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """Rescale, drop the marked and too small candidates, per-class NMS: ``max_num`` rows per image.

    Boxes are divided by ``scale_factor`` before NMS, so that its IoUs are those of the reported
    boxes; candidates that are dropped get the score :data:`DROPPED_SCORE` instead of being removed.

    Args:
        candidates: N candidates per image.
        scale_factor: (B, 2) ``[w_factor, h_factor]`` of each image (boxes are divided by it); None
            keeps the resized-image frame.
        num_classes: number of classes of the per-class NMS.
        iou_threshold: NMS IoU threshold.
        max_num: rows per image (K), > 0.
        min_bbox_size: drop boxes whose width or height is not above this; None keeps all.

    Returns:
        ``dets`` (B, K, 5) ``[x1, y1, x2, y2, score]`` in decreasing score and ``labels`` (B, K) int64;
        rows past the last detection have score -1, label -1 and a zero box.
    """
    bboxes, scores, labels, valid = candidates
    if scale_factor is not None:
        bboxes = bboxes / scale_factor.to(bboxes.dtype).repeat(1, 2)[:, None, :]
    if min_bbox_size is not None:
        valid = (
            valid
            & (bboxes[..., 2] - bboxes[..., 0] > min_bbox_size)
            & (bboxes[..., 3] - bboxes[..., 1] > min_bbox_size)
        )
    scores = torch.where(valid, scores, DROPPED_SCORE)
    kept_scores, kept = nms_topk(
        bboxes, scores, labels, num_classes, iou_threshold, DROPPED_SCORE / 2, max_num
    )
    found = kept_scores > DROPPED_SCORE / 2
    kept_boxes = torch.where(found[..., None], gather_rows(bboxes, kept), 0.0)
    kept_labels = torch.where(found, labels.gather(1, kept), -1)
    return torch.cat([kept_boxes, kept_scores[..., None]], dim=-1), kept_labels


def instances_from_detections(dets: torch.Tensor, labels: torch.Tensor) -> InstanceData:
    """One image's (K, 5) ``dets`` and (K,) ``labels`` without the padding rows (label -1)."""
    count = int((labels >= 0).sum())
    return InstanceData(bboxes=dets[:count, :4], scores=dets[:count, 4], labels=labels[:count])


def empty_instances(device: torch.device) -> InstanceData:
    """An image without detections."""
    return InstanceData(
        bboxes=torch.zeros(0, 4, device=device),
        scores=torch.zeros(0, device=device),
        labels=torch.zeros(0, dtype=torch.long, device=device),
    )


def scale_factor_pair(scale_factor: Sequence[float] | float) -> tuple[float, float]:
    """``(w_factor, h_factor)`` of a metainfo ``scale_factor`` (one number for both sides, or a pair)."""
    factors = torch.as_tensor(scale_factor, dtype=torch.float64).flatten()
    if factors.numel() == 1:
        factors = factors.repeat(2)
    return float(factors[0]), float(factors[1])


def image_metainfo(
    sample: DataSample, rescale: bool, device: torch.device
) -> tuple[torch.Tensor | None, torch.Tensor | None]:
    """The metainfo of one image as the inference path takes it.

    Returns:
        ``img_shape`` (1, 2) float32 ``[height, width]`` of the resized image (``batch_input_shape``
        when there is none; None when neither is known: no clipping) and ``scale_factor`` (1, 2)
        float32 ``[w, h]`` (None without ``rescale`` or a ``scale_factor``: no rescaling).
    """
    meta = sample.metainfo
    shape = meta.get("img_shape", meta.get("batch_input_shape"))
    img_shape = None if shape is None else torch.tensor([shape[:2]], dtype=torch.float32, device=device)
    factor = meta.get("scale_factor") if rescale else None
    if factor is None:
        return img_shape, None
    return img_shape, torch.tensor([scale_factor_pair(factor)], dtype=torch.float32, device=device)


def rescale_boxes(bboxes: torch.Tensor, scale_factor: Sequence[float] | float | None) -> torch.Tensor:
    """Map (K, 4) xyxy boxes of the resized image back to the original: divide by ``(w, h)`` factors."""
    if scale_factor is None:
        return bboxes
    factor_w, factor_h = scale_factor_pair(scale_factor)
    return bboxes / bboxes.new_tensor([factor_w, factor_h, factor_w, factor_h])


class DenseHeadInference:
    """The inference path of a dense head, mixed into RetinaNet's, FCOS's and RTMDet's heads.

    A head provides ``num_classes``, ``test_cfg`` (:class:`DetTestConfig`), ``prior_generator``
    (``grid_priors(sizes, device, dtype)``), ``forward(feats)`` whose first output is the per-level
    class logits (B, A * C, H_l, W_l), and two methods: :meth:`level_rows` (its other outputs of one
    level as rows) and :meth:`decode_rows` (boxes and final scores of the gathered candidates).
    """

    num_classes: int
    test_cfg: DetTestConfig
    prior_generator: Any
    zero_min_size_drops_empty_boxes: ClassVar[bool] = False  # RetinaNet, FCOS and RTMDet set True
    """Whether ``min_bbox_size = 0`` drops boxes of zero width or height (see :class:`DetTestConfig`)."""

    def level_rows(self, outputs: Sequence[Sequence[torch.Tensor]], level: int) -> list[torch.Tensor]:
        """The head's outputs after the class logits at ``level``, as (B, P_l, D) rows to gather."""
        raise TypeError(f"{type(self).__name__} must implement level_rows()")

    def decode_rows(self, top: TopPairs, img_shape: torch.Tensor | None) -> tuple[torch.Tensor, torch.Tensor]:
        """Boxes (B, N, 4) clipped to ``img_shape`` (B, 2) and final scores (B, N) of the candidates."""
        raise TypeError(f"{type(self).__name__} must implement decode_rows()")

    # ---- the path ------------------------------------------------------------------------------
    def decode_candidates(
        self, outputs: Sequence[Sequence[torch.Tensor]], img_shape: torch.Tensor | None
    ) -> DenseCandidates:
        """Per level the ``nms_pre`` best pairs, decoded together (steps 1 and 2 of the module docstring)."""
        cfg = self.test_cfg
        cls_scores = outputs[0]
        sizes = [score.shape[-2:] for score in cls_scores]
        level_priors = self.prior_generator.grid_priors(sizes, cls_scores[0].device, cls_scores[0].dtype)
        priors, rows, scores, labels = [], [], [], []
        for level, level_prior in enumerate(level_priors):
            level_scores = levels_to_rows([cls_scores[level]], self.num_classes).sigmoid()  # (B, P, C)
            top, prior, label = select_top_pairs(level_scores, cfg.nms_pre, cfg.score_thr)
            priors.append(gather_rows(level_prior, prior))
            rows.append([gather_rows(values, prior) for values in self.level_rows(outputs, level)])
            scores.append(top)
            labels.append(label)
        top = TopPairs(
            torch.cat(priors, dim=1),
            [torch.cat(parts, dim=1) for parts in zip(*rows)],
            torch.cat(scores, dim=1),
        )
        bboxes, final_scores = self.decode_rows(top, img_shape if cfg.clip_to_image else None)
        return DenseCandidates(
            bboxes, final_scores, torch.cat(labels, dim=1), top.class_scores > cfg.score_thr
        )

    def detect(
        self,
        outputs: Sequence[Sequence[torch.Tensor]],
        img_shape: torch.Tensor | None,
        scale_factor: torch.Tensor | None,
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Raw outputs -> ``(dets (B, K, 5), labels (B, K))``, K = ``max_per_img`` (or every candidate
        when it is <= 0); see :func:`detections_from_candidates`."""
        cfg = self.test_cfg
        candidates = self.decode_candidates(outputs, img_shape)
        max_num = cfg.max_per_img if cfg.max_per_img > 0 else candidates.scores.shape[1]
        return detections_from_candidates(
            candidates, scale_factor, self.num_classes, cfg.nms_iou_thr, max_num, self.min_size()
        )

    def min_size(self) -> float | None:
        """The size filter's bound: boxes need a width and height above it; None: no filter."""
        size = self.test_cfg.min_bbox_size
        keeps_all = size < 0 or (size == 0 and not self.zero_min_size_drops_empty_boxes)
        return None if keeps_all else size

    def predict(
        self, feats: Sequence[torch.Tensor], data_samples: Sequence[DataSample], rescale: bool = True
    ) -> list[InstanceData]:
        """Detections per image: ``bboxes`` (K, 4) xyxy, ``scores`` (K,), ``labels`` (K,) int64, in
        original image pixels when ``rescale`` (divided by the sample's ``scale_factor`` (w, h))."""
        return self.predict_from_outputs(self(feats), data_samples, rescale)

    def predict_from_outputs(
        self,
        outputs: Sequence[Sequence[torch.Tensor]],
        data_samples: Sequence[DataSample],
        rescale: bool = True,
    ) -> list[InstanceData]:
        """:meth:`predict` from raw head outputs: :meth:`detect` on each image, padding stripped."""
        results = []
        for index, sample in enumerate(data_samples):
            image_outputs = [[level[index : index + 1] for level in output] for output in outputs]
            img_shape, scale_factor = image_metainfo(sample, rescale, outputs[0][0].device)
            dets, labels = self.detect(image_outputs, img_shape, scale_factor)
            results.append(instances_from_detections(dets[0], labels[0]))
        return results

    def export_predict(
        self, *outputs: Sequence[torch.Tensor], img_shape: torch.Tensor, scale_factor: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """:meth:`predict` (with ``rescale``) of a whole batch as fixed-size tensors, for export.

        Args:
            outputs: the head's raw outputs (per-level lists of (B, ..., H_l, W_l) maps).
            img_shape: (B, 2) ``[height, width]`` of the resized images (boxes are clipped to it).
            scale_factor: (B, 2) ``[w_factor, h_factor]`` (boxes are divided by it).

        Returns:
            ``dets`` (B, K, 5) and ``labels`` (B, K), K = ``test_cfg.max_per_img``; see
            :func:`detections_from_candidates`.

        Raises:
            ValueError: when ``max_per_img`` is not positive (the output needs a fixed size).
        """
        if self.test_cfg.max_per_img <= 0:
            raise ValueError(
                "export: test_cfg.max_per_img must be > 0 to fix the number of output rows, "
                f"got {self.test_cfg.max_per_img}"
            )
        return self.detect(outputs, img_shape, scale_factor)


# ---- one image, variable size: helpers for callers outside the heads ------------------------------
def filter_scores_and_topk(
    scores: torch.Tensor, score_thr: float, topk: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``topk`` highest (prior, class) pairs of one image whose score exceeds ``score_thr``.

    Args:
        scores: (N, C) per-prior class scores.
        score_thr: threshold (strict).
        topk: most pairs kept; <= 0 keeps every pair above the threshold.

    Returns:
        ``(scores (K,), labels (K,), prior_inds (K,))`` in decreasing score (equal scores in
        (prior, class) order): :func:`select_top_pairs` without the pairs below the threshold.
    """
    top, prior, label = select_top_pairs(scores[None], topk, score_thr)
    kept = top[0] > score_thr
    return top[0][kept], label[0][kept], prior[0][kept]


# ---- training: which priors an image has -------------------------------------------------------------
def valid_prior_flags(
    prior_generator: Any,
    featmap_sizes: Sequence[Sequence[int]],
    sample: DataSample,
    device: torch.device | str = "cpu",
) -> torch.Tensor | None:
    """(P,) bool: the priors of all levels that lie on one image's padded region (MMDetection's valid flags).

    The region is the sample's ``image_pad_shape`` (its image rounded up to the preprocessor's
    divisor, :class:`~.data_preprocessor.DetDataPreprocessor`), else its ``pad_shape``. On each
    level a position (y, x) is valid when ``y < min(ceil(pad_h / stride_h), H)`` and
    ``x < min(ceil(pad_w / stride_w), W)``; every prior at a valid position is valid. MMDetection's
    RetinaNet (AnchorHead), RPN and RTMDet leave the other priors out of assignment and out of the
    loss; FCOS does not use the rule.

    Args:
        prior_generator: the head's generator (``strides`` per level ``(stride_w, stride_h)`` and
            ``num_base_priors`` per level).
        featmap_sizes: per level ``(H, W)``.
        sample: the image's data sample.
        device: device of the result.

    Returns:
        The flags in the order of ``torch.cat(grid_priors(featmap_sizes))``, or None when the sample
        has no pad shape (every prior counts).
    """
    meta = sample.metainfo
    shape = meta.get("image_pad_shape", meta.get("pad_shape"))
    if shape is None:
        return None
    pad_h, pad_w = int(shape[0]), int(shape[1])
    flags = []
    for level, (height, width) in enumerate(featmap_sizes):
        stride_w, stride_h = prior_generator.strides[level]
        valid_h = min(math.ceil(pad_h / stride_h), int(height))
        valid_w = min(math.ceil(pad_w / stride_w), int(width))
        rows = torch.arange(int(height), device=device) < valid_h
        cols = torch.arange(int(width), device=device) < valid_w
        position = (rows[:, None] & cols[None, :]).reshape(-1)
        flags.append(position.repeat_interleave(prior_generator.num_base_priors[level]))
    return torch.cat(flags)


def bbox_post_process(
    bboxes: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    sample: DataSample,
    cfg: DetTestConfig,
    rescale: bool = True,
) -> InstanceData:
    """Rescale one image's candidates to the original image, drop tiny boxes, per-class NMS, cap.

    Args:
        bboxes: (K, 4) xyxy candidates in the network-input (resized image) frame.
        scores: (K,) their scores (already multiplied by any score factor, e.g. FCOS centerness).
        labels: (K,) their classes.
        sample: the image's data sample; ``scale_factor`` (w, h) metainfo maps back to the original.
        cfg: the test settings (``min_bbox_size`` >= 0 drops boxes not wider and taller than it,
            so 0 drops empty boxes, as MMDetection's dense heads; negative keeps all).
        rescale: divide the boxes by ``scale_factor``.

    Returns:
        InstanceData with ``bboxes`` (M, 4), ``scores`` (M,), ``labels`` (M,), M <= ``max_per_img``.
    """
    if bboxes.shape[0] == 0:
        return empty_instances(bboxes.device)
    _, scale_factor = image_metainfo(sample, rescale, bboxes.device)
    candidates = DenseCandidates(
        bboxes[None], scores[None], labels[None], torch.ones_like(labels[None], dtype=bool)
    )
    dets, kept_labels = detections_from_candidates(
        candidates,
        scale_factor,
        int(labels.max()) + 1,
        cfg.nms_iou_thr,
        cfg.max_per_img if cfg.max_per_img > 0 else bboxes.shape[0],
        cfg.min_bbox_size if cfg.min_bbox_size >= 0 else None,
    )
    return instances_from_detections(dets[0], kept_labels[0])
