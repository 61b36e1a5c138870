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
        ``(scores (K,), labels (K,), prior_inds (K,))`` in decreasing score.
    """
    valid = scores > score_thr
    kept_scores = scores[valid]
    pairs = torch.nonzero(valid)  # (K, 2): prior, class
    order = kept_scores.argsort(descending=True)
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
