"""TwoStageDetector: backbone -> neck -> RPN -> RoI head, the frame of Faster and Mask R-CNN
(Ren et al., NeurIPS 2015; He et al., ICCV 2017).

The detector holds no detection logic. Its parts keep these contracts:

- ``rpn_head.loss_and_predict(feats, data_samples)`` -> ``(losses, proposals)`` and
  ``rpn_head.predict(feats, data_samples)`` -> proposals: per image InstanceData with ``bboxes``
  (P, 4) xyxy in input pixels (detached) and ``scores`` (P,);
- ``roi_head.loss(feats, proposals, data_samples)`` -> dict of losses;
  ``roi_head.predict(feats, proposals, data_samples, rescale)`` -> per image InstanceData with
  ``bboxes``, ``scores``, ``labels`` (and ``masks``);
- ``rpn_head(feats)`` and ``roi_head(feats, proposals)`` -> raw outputs.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from ....registry import MODELS
from ....structures import DataSample, InstanceData
from .base_detector import BaseDetector

__all__ = ["FasterRCNN", "MaskRCNN", "TwoStageDetector"]


@MODELS.register()
class TwoStageDetector(BaseDetector):
    """Proposals from a region proposal network, refined and classified by a RoI head.

    Args:
        backbone: module mapping (N, 3, H, W) images to a tuple of feature maps.
        rpn_head: region proposal head (e.g. ``RPNHead``), see the module docstring.
        roi_head: second stage (e.g. ``StandardRoIHead``).
        neck: optional module mapping the backbone tuple to the pyramid (e.g. ``FPN``).
        data_preprocessor: a built preprocessor; a plain dict (no ``type``) is taken as
            :class:`DetDataPreprocessor` keyword arguments; None gives ``DetDataPreprocessor()``.

    Modes:
        ``"loss"``: ``loss_rpn_cls``, ``loss_rpn_bbox``, ``loss_cls``, ``loss_bbox``, ``acc``
        (and ``loss_mask``); ``"predict"``: the data samples with ``pred_instances`` in original
        image pixels; ``"tensor"``: ``(rpn_cls_scores, rpn_bbox_preds, *roi_outputs)`` where the
        RoI outputs are computed on the test-time proposals.
    """

    task = "detection"
    requires_mask: ClassVar[bool] = False
    """Whether the RoI head must have a mask branch (Mask R-CNN)."""

    def __init__(
        self,
        backbone: nn.Module,
        rpn_head: nn.Module,
        roi_head: nn.Module,
        neck: nn.Module | None = None,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__(data_preprocessor, backbone, neck, rpn_head=rpn_head, roi_head=roi_head)
        if self.requires_mask and not self.with_mask:
            raise ValueError(
                f"{type(self).__name__}: roi_head has no mask_head; give StandardRoIHead(mask_head=FCNMaskHead(...))"
            )

    @property
    def with_mask(self) -> bool:
        """Whether the RoI head predicts instance masks."""
        return bool(getattr(self.roi_head, "with_mask", False))

    def loss(self, inputs: torch.Tensor, data_samples: list[DataSample]) -> dict[str, Any]:
        """RPN and RoI-head losses of a batch whose samples carry ``gt_instances``."""
        if data_samples is None or any("gt_instances" not in sample for sample in data_samples):
            raise ValueError(f"{type(self).__name__}.loss needs data_samples with gt_instances")
        feats = self.extract_feat(inputs)
        losses, proposals = self.rpn_head.loss_and_predict(feats, data_samples)
        roi_losses = self.roi_head.loss(feats, proposals, data_samples)
        clash = set(losses) & set(roi_losses)
        if clash:
            raise KeyError(f"{type(self).__name__}: the RPN and RoI head both return {sorted(clash)}")
        losses.update(roi_losses)
        return losses

    def predict(
        self, inputs: torch.Tensor, data_samples: list[DataSample] | None = None, rescale: bool = True
    ) -> list[DataSample]:
        """Detections per image in ``pred_instances`` (original pixels when ``rescale``).

        Without data samples, samples are made from the batch shape (no rescaling possible).
        """
        data_samples = data_samples if data_samples is not None else self.samples_for_batch(inputs)
        feats = self.extract_feat(inputs)
        proposals = self.rpn_head.predict(feats, data_samples)
        results = self.roi_head.predict(feats, proposals, data_samples, rescale=rescale)
        return self.add_pred_to_datasample(data_samples, results)

    @property
    def export_output_names(self) -> tuple[str, ...]:
        """Names of :meth:`export_forward`'s outputs, in order."""
        return ("dets", "labels", "masks") if self.with_mask else ("dets", "labels")

    def export_forward(
        self, inputs: torch.Tensor, img_shape: torch.Tensor, scale_factor: torch.Tensor
    ) -> tuple[torch.Tensor, ...]:
        """:meth:`predict` (``rescale=True``) as plain tensors with fixed shapes, what ONNX export traces.

        Args:
            inputs: (B, 3, H, W) float32 preprocessed batch (normalised, padded), as ``predict`` takes.
            img_shape: (B, 2) float32 ``[height, width]`` of each resized image before padding.
            scale_factor: (B, 2) float32 ``[w_factor, h_factor]`` of each resize (boxes are divided by it).

        Returns:
            ``dets`` (B, K, 5) float32 ``[x1, y1, x2, y2, score]`` in original image pixels in
            decreasing score and ``labels`` (B, K) int64, ``K`` the RoI head's ``max_per_img``;
            rows past the last detection have score -1 and label -1. With a mask head also
            ``masks`` (B, K, M, M) float32: each detection's sigmoid mask of its class over its
            box (M = 28), to be pasted into the original image (``visionstack.tasks.detection.mask_paste``).
        """
        for name, method in (("rpn_head", "export_proposals"), ("roi_head", "export_predict")):
            if not hasattr(getattr(self, name), method):
                raise TypeError(
                    f"{type(self).__name__}: {name} ({type(getattr(self, name)).__name__}) has no {method}(), "
                    "so this detector cannot be exported"
                )
        self.check_export_inputs(inputs, img_shape, scale_factor)
        feats = self.extract_feat(inputs)
        rpn_cls_scores, rpn_bbox_preds = self.rpn_head(feats)
        proposals, proposal_scores = self.rpn_head.export_proposals(rpn_cls_scores, rpn_bbox_preds, img_shape)
        return self.roi_head.export_predict(feats, proposals, proposal_scores, img_shape, scale_factor)

    def forward_tensor(self, inputs: torch.Tensor, data_samples: list[DataSample] | None = None) -> tuple:
        """Raw outputs: RPN per-level lists, then the RoI head's outputs on the test proposals."""
        data_samples = data_samples if data_samples is not None else self.samples_for_batch(inputs)
        feats = self.extract_feat(inputs)
        rpn_cls_scores, rpn_bbox_preds = self.rpn_head(feats)
        proposals: list[InstanceData] = self.rpn_head.proposals_from_outputs(
            rpn_cls_scores, rpn_bbox_preds, data_samples, self.rpn_head.test_proposal_cfg
        )
        return (rpn_cls_scores, rpn_bbox_preds, *self.roi_head(feats, proposals))


@MODELS.register()
class FasterRCNN(TwoStageDetector):
    """Faster R-CNN (Ren et al., NeurIPS 2015): a :class:`TwoStageDetector` whose RoI head has
    only the box branch. The name exists so configs read as the published model."""


@MODELS.register()
class MaskRCNN(TwoStageDetector):
    """Mask R-CNN (He et al., ICCV 2017): a :class:`TwoStageDetector` whose RoI head has a mask
    branch; predictions carry ``masks`` (K, H, W) bool at the original image size."""

    requires_mask = True
