"""SingleStageDetector: backbone -> neck -> dense head, the frame of RetinaNet, FCOS, RTMDet ...

The detector itself holds no detection logic: the head owns anchors/points, target assignment, losses
and post-processing. The head contract (as in MMDetection 3.x):

- ``bbox_head(feats)`` -> raw outputs (a tuple of per-level lists, e.g. ``(cls_scores, bbox_preds)``);
- ``bbox_head.loss(feats, data_samples)`` -> dict of named losses;
- ``bbox_head.predict(feats, data_samples, rescale=True)`` -> list of InstanceData (one per image)
  with ``bboxes`` (K, 4) xyxy, ``scores`` (K,), ``labels`` (K,) int64, in original image coordinates
  when ``rescale`` is True.

The module also holds the small pieces every dense head shares: reading the ground truth of a sample
(:func:`unpack_gt_instances`), MMDetection's per-level candidate selection
(:func:`filter_scores_and_topk`) and the final rescale + NMS (:func:`bbox_post_process`, configured by
:class:`DenseTestConfig`).

Export (ONNX): :meth:`SingleStageDetector.export_forward` maps ``(inputs, img_shape, scale_factor)``
tensors to fixed-size ``(dets, labels)`` through the head's ``export_predict``, which computes the same
detections as ``predict(rescale=True)`` with graph-friendly ops only: per-level candidates by
:func:`export_topk_pairs` (``topk`` instead of a score mask) and :func:`export_post_process` (rescale,
size filter and per-class NMS by :func:`~visionstack.export.ops.nms_topk` to ``max_per_img`` rows).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any

import torch
from torch import nn

from ....models.base_model import BaseModel
from ....models.ops import batched_nms
from ....registry import MODELS
from ....structures import DataSample, InstanceData
from .data_preprocessor import DetDataPreprocessor

EXPORT_OUTPUT_NAMES = ("dets", "labels")
"""Outputs of a detector's ``export_forward``: (B, K, 5) ``[x1, y1, x2, y2, score]`` and (B, K) labels."""

DROPPED_SCORE = -1.0
"""Score of an export candidate that eager post-processing would drop, and of an empty output row."""


@MODELS.register()
class SingleStageDetector(BaseModel):
    """A dense (single-stage) detector: ``bbox_head(neck(backbone(images)))``.

    Args:
        backbone: module mapping (N, 3, H, W) images to a tuple of feature maps.
        neck: optional module mapping that tuple to another tuple (e.g. FPN); None passes the
            backbone features straight to the head.
        bbox_head: dense head following the contract in the module docstring.
        data_preprocessor: a built preprocessor; a plain dict (no ``type``) is taken as
            :class:`DetDataPreprocessor` keyword arguments; None gives ``DetDataPreprocessor()``.

    Modes:
        ``"loss"`` -> ``bbox_head.loss``; ``"predict"`` -> the input data samples with
        ``pred_instances`` set; ``"tensor"`` -> ``bbox_head(feats)``.
    """

    def __init__(
        self,
        backbone: nn.Module,
        bbox_head: nn.Module,
        neck: nn.Module | None = None,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
    ) -> None:
        if data_preprocessor is None:
            data_preprocessor = DetDataPreprocessor()
        elif isinstance(data_preprocessor, Mapping):
            data_preprocessor = DetDataPreprocessor(**data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor)
        for name, module in (("backbone", backbone), ("bbox_head", bbox_head)):
            if not isinstance(module, nn.Module):
                raise TypeError(
                    f"{type(self).__name__}: {name} must be a built nn.Module (a config dict with 'type' "
                    f"is built by the registry), got {type(module).__name__}"
                )
        self.backbone = backbone
        self.neck = neck
        self.bbox_head = bbox_head

    @property
    def with_neck(self) -> bool:
        return self.neck is not None

    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Multi-level features (N, C_l, H_l, W_l) of a preprocessed (N, 3, H, W) batch."""
        feats = self.backbone(inputs)
        if isinstance(feats, torch.Tensor):
            feats = (feats,)
        if self.neck is not None:
            feats = self.neck(tuple(feats))
        return tuple(feats)

    def loss(self, inputs: torch.Tensor, data_samples: list[DataSample]) -> dict[str, Any]:
        """Losses of the head on a batch whose samples carry ``gt_instances``."""
        if data_samples is None:
            raise ValueError(f"{type(self).__name__}.loss needs data_samples with gt_instances")
        return self.bbox_head.loss(self.extract_feat(inputs), data_samples)

    def predict(
        self, inputs: torch.Tensor, data_samples: list[DataSample] | None = None, rescale: bool = True
    ) -> list[DataSample]:
        """Detections per image, written to ``pred_instances`` of each data sample.

        Without data samples, samples are made from the batch shape (no rescaling possible).
        """
        if data_samples is None:
            shape = tuple(inputs.shape[-2:])
            data_samples = [
                DataSample(metainfo=dict(img_shape=shape, ori_shape=shape, batch_input_shape=shape))
                for _ in range(inputs.shape[0])
            ]
        results = self.bbox_head.predict(self.extract_feat(inputs), data_samples, rescale=rescale)
        return self.add_pred_to_datasample(data_samples, results)

    def export_forward(
        self, inputs: torch.Tensor, img_shape: torch.Tensor, scale_factor: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Detections of a preprocessed batch as fixed-size tensors (the ONNX export graph).

        Computes what ``predict(inputs, data_samples, rescale=True)`` computes, with the metainfo
        given as tensors and only ops that ``torch.export`` keeps shape-generic (see the head's
        ``export_predict``).

        Args:
            inputs: (B, 3, H, W) float32 output of the data preprocessor (normalised, padded).
            img_shape: (B, 2) float32 ``[height, width]`` of each resized image before padding.
            scale_factor: (B, 2) float32 ``[w_factor, h_factor]``; boxes are divided by it.

        Returns:
            ``dets`` (B, K, 5) float32 ``[x1, y1, x2, y2, score]`` in original-image pixels, in
            decreasing score, and ``labels`` (B, K) int64, with K = ``test_cfg.max_per_img``; rows past
            the last detection have score -1, label -1 and a zero box.

        Raises:
            TypeError: when the head has no ``export_predict``.
            ValueError: on inputs of the wrong rank or width.
        """
        export_predict = getattr(self.bbox_head, "export_predict", None)
        if export_predict is None:
            raise TypeError(
                f"{type(self).__name__}.export_forward: the head {type(self.bbox_head).__name__} has no "
                "export_predict(), so this detector cannot be exported yet"
            )
        if inputs.ndim != 4:
            raise ValueError(f"export_forward: inputs must be (B, 3, H, W), got shape {tuple(inputs.shape)}")
        for name, value in (("img_shape", img_shape), ("scale_factor", scale_factor)):
            if value.ndim != 2 or value.shape[1] != 2:
                raise ValueError(f"export_forward: {name} must be (B, 2), got shape {tuple(value.shape)}")
        outputs = self.bbox_head(self.extract_feat(inputs))
        return export_predict(*outputs, img_shape=img_shape, scale_factor=scale_factor)

    @property
    def export_output_names(self) -> tuple[str, ...]:
        """Names of the :meth:`export_forward` outputs, in order."""
        return EXPORT_OUTPUT_NAMES

    def forward_tensor(self, inputs: torch.Tensor, data_samples: list[DataSample] | None = None) -> Any:
        """Raw head outputs (per-level tensors), what export traces."""
        return self.bbox_head(self.extract_feat(inputs))

    @staticmethod
    def add_pred_to_datasample(
        data_samples: list[DataSample], results: list[InstanceData]
    ) -> list[DataSample]:
        """Set ``pred_instances`` of each sample to the matching head result."""
        if len(results) != len(data_samples):
            raise RuntimeError(f"the head returned {len(results)} results for {len(data_samples)} images")
        for sample, instances in zip(data_samples, results):
            sample.pred_instances = instances
        return data_samples


@dataclass
class DenseTestConfig:
    """Test-time settings of a dense head (MMDetection's ``test_cfg``).

    Attributes:
        nms_pre: candidates kept per level before NMS (top scores); <= 0 keeps all.
        score_thr: candidates need a class score strictly above this.
        nms_iou_thr: IoU threshold of the per-class NMS.
        max_per_img: detections kept per image after NMS.
        min_bbox_size: boxes with a side not above this (in original pixels) are dropped; <= 0 keeps all.
    """

    nms_pre: int = 1000
    score_thr: float = 0.05
    nms_iou_thr: float = 0.5
    max_per_img: int = 100
    min_bbox_size: float = 0.0

    @classmethod
    def from_value(cls, value: DenseTestConfig | Mapping[str, Any] | None, owner: str) -> DenseTestConfig:
        """Accept a config, None (defaults) or a dict; ``nms=dict(iou_threshold=...)`` (MMDetection's
        spelling, without ``type``) is read as ``nms_iou_thr``."""
        if value is None:
            return cls()
        if isinstance(value, cls):
            return value
        if not isinstance(value, Mapping):
            raise TypeError(
                f"{owner}: test_cfg must be a dict or DenseTestConfig, got {type(value).__name__}"
            )
        fields = dict(value)
        nms = fields.pop("nms", None)
        if nms is not None:
            if not isinstance(nms, Mapping) or "iou_threshold" not in nms:
                raise ValueError(f"{owner}: test_cfg.nms must be dict(iou_threshold=...), got {nms!r}")
            fields["nms_iou_thr"] = nms["iou_threshold"]
        known = set(cls.__dataclass_fields__)
        unknown = sorted(set(fields) - known)
        if unknown:
            raise ValueError(f"{owner}: unknown test_cfg keys {unknown}; known keys: {sorted(known)} and nms")
        return cls(**fields)


def unpack_gt_instances(
    sample: DataSample, device: torch.device
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """``(gt_boxes (G, 4) float xyxy, gt_labels (G,) int64, ignored_boxes (I, 4))`` of one sample.

    Raises:
        ValueError: when the sample has no ``gt_instances`` (the pipeline must end with PackDetInputs).
    """
    instances = sample.get("gt_instances")
    if instances is None or "bboxes" not in instances or "labels" not in instances:
        raise ValueError(
            "dense head loss: a data sample has no gt_instances with bboxes and labels; the training pipeline "
            "must load annotations (LoadAnnotations) and end with PackDetInputs"
        )
    boxes = torch.as_tensor(instances.bboxes, dtype=torch.float32, device=device).reshape(-1, 4)
    labels = torch.as_tensor(instances.labels, dtype=torch.long, device=device).reshape(-1)
    ignored = sample.get("ignored_instances")
    if ignored is not None and "bboxes" in ignored and len(ignored) > 0:
        ignored_boxes = torch.as_tensor(ignored.bboxes, dtype=torch.float32, device=device).reshape(-1, 4)
    else:
        ignored_boxes = boxes.new_zeros(0, 4)
    return boxes, labels, ignored_boxes


def filter_scores_and_topk(
    scores: torch.Tensor, score_thr: float, topk: int
) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """Keep the ``topk`` highest (prior, class) pairs whose score exceeds ``score_thr``.

    Args:
        scores: (N, C) per-prior class scores.
        score_thr: threshold (strict).
        topk: most pairs kept; <= 0 keeps every pair above the threshold.

    Returns:
        ``(scores (K,), labels (K,), prior_inds (K,))`` in decreasing score (equal scores in
        (prior, class) order).
    """
    valid = scores > score_thr
    kept_scores = scores[valid]
    pairs = torch.nonzero(valid)  # (K, 2): prior, class
    # stable: equal scores keep the (prior, class) order, the tie rule of ONNX TopK in the exported graph
    order = torch.sort(kept_scores, descending=True, stable=True).indices
    if topk > 0:
        order = order[:topk]
    return kept_scores[order], pairs[order, 1], pairs[order, 0]


def empty_instances(device: torch.device) -> InstanceData:
    """An image without detections."""
    return InstanceData(
        bboxes=torch.zeros(0, 4, device=device),
        scores=torch.zeros(0, device=device),
        labels=torch.zeros(0, dtype=torch.long, device=device),
    )


def bbox_post_process(
    bboxes: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    sample: DataSample,
    cfg: DenseTestConfig,
    rescale: bool = True,
) -> InstanceData:
    """Rescale to the original image, drop tiny boxes, run per-class NMS and keep the best.

    Args:
        bboxes: (K, 4) xyxy candidates in the network-input (resized image) frame.
        scores: (K,) their scores (already multiplied by any score factor, e.g. FCOS centerness).
        labels: (K,) their classes.
        sample: the image's data sample; ``scale_factor`` (w, h) metainfo maps back to the original.
        cfg: the test settings.
        rescale: divide the boxes by ``scale_factor``.

    Returns:
        InstanceData with ``bboxes`` (M, 4), ``scores`` (M,), ``labels`` (M,), M <= ``max_per_img``.
    """
    if rescale:
        bboxes = rescale_boxes(bboxes, sample.metainfo.get("scale_factor"))
    if cfg.min_bbox_size > 0:
        wide = (bboxes[:, 2] - bboxes[:, 0] > cfg.min_bbox_size) & (
            bboxes[:, 3] - bboxes[:, 1] > cfg.min_bbox_size
        )
        bboxes, scores, labels = bboxes[wide], scores[wide], labels[wide]
    if bboxes.numel() == 0:
        return empty_instances(bboxes.device)
    keep = batched_nms(bboxes, scores, labels, cfg.nms_iou_thr)
    if cfg.max_per_img > 0:
        keep = keep[: cfg.max_per_img]
    return InstanceData(bboxes=bboxes[keep], scores=scores[keep], labels=labels[keep])


def rescale_boxes(bboxes: torch.Tensor, scale_factor: Sequence[float] | None) -> torch.Tensor:
    """Map (K, 4) xyxy boxes of the resized image back to the original: divide by ``(w, h)`` factors."""
    if scale_factor is None:
        return bboxes
    factors = torch.as_tensor(scale_factor, dtype=torch.float64).flatten()
    if factors.numel() == 1:  # one factor for both sides
        factors = factors.repeat(2)
    factor_w, factor_h = float(factors[0]), float(factors[1])
    return bboxes / bboxes.new_tensor([factor_w, factor_h, factor_w, factor_h])


def export_topk_pairs(scores: torch.Tensor, nms_pre: int) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The ``nms_pre`` best (prior, class) pairs of each image, without a score threshold (export form).

    The graph form of :func:`filter_scores_and_topk`: ``topk`` over every pair with K =
    ``min(nms_pre, P * C)``, a size known from the shapes alone. Whenever more than ``nms_pre`` pairs
    pass the threshold these are exactly the pairs eager keeps; otherwise they include them, and the
    caller marks the pairs at or below the threshold as dropped. Equal scores: ONNX ``TopK`` puts the
    lower index first, as the (stable) eager selection does; eager ``torch.topk`` leaves their order
    unspecified, so only exact ties can make this differ from eager when run in PyTorch.

    Args:
        scores: (B, P, C) per-prior class scores.
        nms_pre: pairs kept per image; <= 0 keeps all ``P * C``.

    Returns:
        ``(scores (B, K), prior_inds (B, K), labels (B, K))`` in decreasing score.
    """
    batch, _, num_classes = scores.shape
    flat = scores.reshape(batch, -1)
    count = flat.shape[1]
    top, index = flat.topk(count if nms_pre <= 0 else torch.sym_min(nms_pre, count), dim=1)
    prior = torch.div(index, num_classes, rounding_mode="floor")
    return top, prior, index - prior * num_classes


def gather_rows(values: torch.Tensor, index: torch.Tensor) -> torch.Tensor:
    """Rows ``index`` of per-image (B, P, D) values, or of shared (P, D) values -> (B, K, D)."""
    if values.ndim == 2:
        return values[index]
    return values.gather(1, index[..., None].expand(-1, -1, values.shape[-1]))


def export_post_process(
    bboxes: torch.Tensor,
    scores: torch.Tensor,
    labels: torch.Tensor,
    valid: torch.Tensor,
    scale_factor: torch.Tensor,
    num_classes: int,
    iou_threshold: float,
    max_per_img: int,
    min_bbox_size: float | None,
) -> tuple[torch.Tensor, torch.Tensor]:
    """The graph form of :func:`bbox_post_process` (with ``rescale``): fixed-size detections per image.

    Boxes are divided by ``scale_factor`` first, as eager does, so that the NMS decisions agree;
    candidates eager would drop (``~valid``, or a side not above ``min_bbox_size``) get the score
    :data:`DROPPED_SCORE` instead of being removed.

    Args:
        bboxes: (B, N, 4) xyxy candidates in the resized-image frame.
        scores: (B, N) their final scores (>= 0).
        labels: (B, N) int64 classes.
        valid: (B, N) bool, the candidates that passed the score threshold.
        scale_factor: (B, 2) ``[w_factor, h_factor]`` of each image.
        num_classes: number of classes of the per-class NMS.
        iou_threshold: NMS IoU threshold.
        max_per_img: detections per image (K), > 0.
        min_bbox_size: drop boxes whose width or height (original pixels) is not above this; None
            keeps all.

    Returns:
        ``dets`` (B, K, 5) ``[x1, y1, x2, y2, score]`` in decreasing score and ``labels`` (B, K) int64;
        rows past the last detection have score -1, label -1 and a zero box.

    Raises:
        ValueError: when ``max_per_img`` is not positive (the output needs a fixed size).
    """
    if max_per_img <= 0:
        raise ValueError(
            f"export: test_cfg.max_per_img must be > 0 to fix the number of output rows, got {max_per_img}"
        )
    from ....export.ops import nms_topk  # here: the export extra (onnxscript) is optional for eager use

    bboxes = bboxes / scale_factor.to(bboxes.dtype).repeat(1, 2)[:, None, :]
    if min_bbox_size is not None:
        valid = (
            valid
            & (bboxes[..., 2] - bboxes[..., 0] > min_bbox_size)
            & (bboxes[..., 3] - bboxes[..., 1] > min_bbox_size)
        )
    scores = torch.where(valid, scores, DROPPED_SCORE)
    kept_scores, kept = nms_topk(
        bboxes, scores, labels, num_classes, iou_threshold, DROPPED_SCORE / 2, max_per_img
    )
    found = kept_scores > DROPPED_SCORE / 2
    kept_boxes = torch.where(found[..., None], gather_rows(bboxes, kept), 0.0)
    kept_labels = torch.where(found, labels.gather(1, kept), -1)
    return torch.cat([kept_boxes, kept_scores[..., None]], dim=-1), kept_labels
