"""SingleStageDetector: backbone -> neck -> dense head, the frame of RetinaNet, FCOS, RTMDet ...

The detector itself holds no detection logic: the head owns anchors/points, target assignment, losses
and post-processing. The head contract (as in MMDetection 3.x):

- ``bbox_head(feats)`` -> raw outputs (a tuple of per-level lists, e.g. ``(cls_scores, bbox_preds)``);
- ``bbox_head.loss(feats, data_samples)`` -> dict of named losses;
- ``bbox_head.predict(feats, data_samples, rescale=True)`` -> list of InstanceData (one per image)
  with ``bboxes`` (K, 4) xyxy, ``scores`` (K,), ``labels`` (K,) int64, in original image coordinates
  when ``rescale`` is True.

The module also holds reading the ground truth of a sample (:func:`unpack_gt_instances`); the
inference path the dense heads share (candidate selection, decoding, rescale + NMS, configured by
:class:`~visionstack.tasks.detection.models.test_config.DetTestConfig`) is
:mod:`~visionstack.tasks.detection.models.dense_inference`.

Export (ONNX): :meth:`SingleStageDetector.export_forward` maps ``(inputs, img_shape, scale_factor)``
tensors to fixed-size ``(dets, labels)`` through the head's ``export_predict``: the same code as eager
``predict(rescale=True)`` run on the whole batch, its padding rows kept.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import torch
from torch import nn

from ....registry import MODELS
from ....structures import DataSample
from .base_detector import BaseDetector

EXPORT_OUTPUT_NAMES = ("dets", "labels")
"""Outputs of a detector's ``export_forward``: (B, K, 5) ``[x1, y1, x2, y2, score]`` and (B, K) labels."""


@MODELS.register()
class SingleStageDetector(BaseDetector):
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

    task = "detection"

    def __init__(
        self,
        backbone: nn.Module,
        bbox_head: nn.Module,
        neck: nn.Module | None = None,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(data_preprocessor, backbone, neck, bbox_head=bbox_head)

    @property
    def with_neck(self) -> bool:
        return self.neck is not None

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
            data_samples = self.samples_for_batch(inputs)
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
        self.check_export_inputs(inputs, img_shape, scale_factor)
        outputs = self.bbox_head(self.extract_feat(inputs))
        return export_predict(*outputs, img_shape=img_shape, scale_factor=scale_factor)

    @property
    def export_output_names(self) -> tuple[str, ...]:
        """Names of the :meth:`export_forward` outputs, in order."""
        return EXPORT_OUTPUT_NAMES

    def forward_tensor(self, inputs: torch.Tensor, data_samples: list[DataSample] | None = None) -> Any:
        """Raw head outputs (per-level tensors), what export traces."""
        return self.bbox_head(self.extract_feat(inputs))


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
