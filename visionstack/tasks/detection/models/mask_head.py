"""Mask R-CNN's mask branch (He et al., "Mask R-CNN", ICCV 2017, section 3 and figure 4).

A small fully convolutional network on 14x14 RoI features predicts one 28x28 mask per class; the
loss is a per-pixel binary cross-entropy on the channel of the RoI's ground-truth class only, so
classes do not compete. Targets are the ground-truth masks cropped to each positive RoI and
resampled to 28x28; at test time the predicted mask of the detected class is pasted back into the
image by bilinear interpolation and thresholded.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import torch
import torch.nn.functional as F
from torch import nn

from ....models.layers import check_num_classes, kaiming_init
from ....models.losses.bce_loss import BCEWithLogitsLoss
from ....models.ops import roi_align
from ....registry import MODELS
from ....structures import BitmapMasks, PolygonMasks

__all__ = ["FCNMaskHead", "mask_targets", "paste_masks_in_image"]

MaskLike = BitmapMasks | PolygonMasks | torch.Tensor


def _masks_as_tensor(masks: MaskLike, device: torch.device) -> torch.Tensor:
    """(G, H, W) float 0/1 tensor from BitmapMasks, PolygonMasks (rasterised) or a tensor."""
    if isinstance(masks, PolygonMasks):
        masks = masks.to_bitmap()
    if isinstance(masks, BitmapMasks):
        return masks.to_tensor(dtype=torch.float32, device=device)
    if isinstance(masks, torch.Tensor):
        return masks.to(device=device, dtype=torch.float32)
    raise TypeError(
        f"mask_targets: gt_instances.masks must be BitmapMasks, PolygonMasks or a (G, H, W) tensor, "
        f"got {type(masks).__name__}; load the annotations with LoadAnnotations(with_mask=True)"
    )


def mask_targets(
    pos_boxes: torch.Tensor, pos_gt_indices: torch.Tensor, gt_masks: MaskLike, mask_size: int = 28
) -> torch.Tensor:
    """Binary mask targets of the positive RoIs of one image.

    Each RoI's ground-truth mask is sampled on a ``mask_size`` x ``mask_size`` grid over the RoI by
    RoIAlign (half-pixel aligned, adaptive sampling) and binarised at 0.5, as MMDetection's
    ``BitmapMasks.crop_and_resize``.

    Args:
        pos_boxes: (P, 4) xyxy positive RoIs in image pixels.
        pos_gt_indices: (P,) int64 index of each RoI's ground truth in ``gt_masks``.
        gt_masks: the image's G ground-truth masks (height and width those of the image).
        mask_size: side of the targets.

    Returns:
        (P, mask_size, mask_size) float 0/1.
    """
    if pos_boxes.shape[0] == 0:
        return pos_boxes.new_zeros(0, mask_size, mask_size)
    masks = _masks_as_tensor(gt_masks, pos_boxes.device)[:, None]  # (G, 1, H, W)
    # the mask index plays the role of RoIAlign's batch index, so no (P, H, W) copy is made
    rois = torch.cat([pos_gt_indices.to(pos_boxes)[:, None], pos_boxes.detach()], dim=1)
    with torch.autocast(device_type=masks.device.type, enabled=False):  # targets are exact float32
        sampled = roi_align(masks, rois.float(), mask_size, spatial_scale=1.0, sampling_ratio=0, aligned=True)
    return (sampled[:, 0] >= 0.5).to(pos_boxes.dtype)


def paste_masks_in_image(
    masks: torch.Tensor, boxes: torch.Tensor, image_shape: Sequence[int], threshold: float | None = 0.5
) -> torch.Tensor:
    """Paste RoI masks into a full image by bilinear interpolation.

    Pixel (x, y) of the image (center ``x + 0.5``) falls on mask coordinate
    ``(x + 0.5 - x1) / (x2 - x1) * M - 0.5`` (mask pixel centers at integers, M = mask side), and
    takes the bilinear value there, with zeros outside the mask (``grid_sample``,
    ``align_corners=False``, zero padding). Only a window around each box (the box plus one mask
    pixel and one image pixel) is computed; outside it the value is exactly zero.

    Args:
        masks: (K, M, M) mask probabilities (after sigmoid).
        boxes: (K, 4) xyxy boxes in the pixels of the target image.
        image_shape: ``(height, width)`` of the target image.
        threshold: values ``>= threshold`` become True; None returns the float values instead.

    Returns:
        (K, height, width) bool masks (or float with ``threshold=None``).
    """
    height, width = int(image_shape[0]), int(image_shape[1])
    dtype = torch.float32 if threshold is None else torch.bool
    pasted = torch.zeros(masks.shape[0], height, width, dtype=dtype, device=masks.device)
    side_y, side_x = masks.shape[-2:]
    for index, (mask, box) in enumerate(zip(masks, boxes.to(masks.dtype))):
        x1, y1, x2, y2 = box.tolist()
        box_w, box_h = max(x2 - x1, 1e-6), max(y2 - y1, 1e-6)
        x_lo, x_hi = _window(x1, x2, box_w / side_x, width)
        y_lo, y_hi = _window(y1, y2, box_h / side_y, height)
        if x_hi <= x_lo or y_hi <= y_lo:
            continue
        grid_x = (torch.arange(x_lo, x_hi, device=masks.device, dtype=masks.dtype) + 0.5 - x1) / box_w * 2 - 1
        grid_y = (torch.arange(y_lo, y_hi, device=masks.device, dtype=masks.dtype) + 0.5 - y1) / box_h * 2 - 1
        grid = torch.stack(torch.meshgrid(grid_y, grid_x, indexing="ij")[::-1], dim=-1)  # (h, w, 2) as (x, y)
        values = F.grid_sample(mask[None, None], grid[None], mode="bilinear", align_corners=False)[0, 0]
        pasted[index, y_lo:y_hi, x_lo:x_hi] = values if threshold is None else values >= threshold
    return pasted


def _window(start: float, end: float, mask_pixel: float, limit: int) -> tuple[int, int]:
    """Integer pixel range covering ``[start, end]`` plus one mask pixel and one image pixel each side."""
    margin = mask_pixel + 1.0
    return max(int(math.floor(start - margin)), 0), min(int(math.ceil(end + margin)), limit)


@MODELS.register()
class FCNMaskHead(nn.Module):
    """Four 3x3 convolutions, a 2x transposed convolution and a 1x1 per-class mask predictor.

    Args:
        num_classes: object classes (one output mask each unless ``class_agnostic``).
        in_channels: channels of the pooled RoI features.
        conv_out_channels: channels of the convolutions.
        num_convs: number of 3x3 convolutions (4 in Mask R-CNN's FPN head).
        roi_feat_size: side of the pooled features (14); the masks have twice this side.
        class_agnostic: predict a single mask per RoI.
        loss_mask: per-pixel loss ``(logits, targets)`` with mean reduction (default: BCE on logits).

    Shapes:
        ``forward(roi_feats (K, in_channels, S, S))`` -> (K, num_classes, 2S, 2S) logits.
    """

    def __init__(
        self,
        num_classes: int,
        in_channels: int = 256,
        conv_out_channels: int = 256,
        num_convs: int = 4,
        roi_feat_size: int = 14,
        class_agnostic: bool = False,
        loss_mask: nn.Module | None = None,
    ) -> None:
        super().__init__()
        self.num_classes = check_num_classes(num_classes, "FCNMaskHead")
        self.class_agnostic = class_agnostic
        self.mask_size = 2 * roi_feat_size
        self.loss_mask = loss_mask or BCEWithLogitsLoss()
        channels = [in_channels] + [conv_out_channels] * num_convs
        self.convs = nn.ModuleList(
            nn.Conv2d(channels[i], channels[i + 1], 3, padding=1) for i in range(num_convs)
        )
        self.upsample = nn.ConvTranspose2d(channels[-1], conv_out_channels, 2, stride=2)
        self.conv_logits = nn.Conv2d(conv_out_channels, 1 if class_agnostic else num_classes, 1)
        # He initialisation (fan_out, ReLU) as MMDetection's ConvModule and FCNMaskHead.init_weights
        for module in [*self.convs, self.upsample, self.conv_logits]:
            kaiming_init(module, mode="fan_out", nonlinearity="relu")

    def forward(self, roi_feats: torch.Tensor) -> torch.Tensor:
        hidden = roi_feats
        for conv in self.convs:
            hidden = torch.relu(conv(hidden))
        return self.conv_logits(torch.relu(self.upsample(hidden)))

    def _class_logits(self, mask_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(K, C, M, M) -> (K, M, M): the channel of each RoI's class."""
        if self.class_agnostic:
            return mask_logits[:, 0]
        return mask_logits[torch.arange(mask_logits.shape[0], device=mask_logits.device), labels]

    def loss(
        self, mask_logits: torch.Tensor, targets: torch.Tensor, labels: torch.Tensor
    ) -> dict[str, torch.Tensor]:
        """``loss_mask``: mean per-pixel loss over the P positive RoIs.

        Args:
            mask_logits: (P, C, M, M) predictions.
            targets: (P, M, M) 0/1 targets from :func:`mask_targets`.
            labels: (P,) int64 ground-truth classes of the RoIs.
        """
        if mask_logits.shape[0] == 0:
            return {"loss_mask": mask_logits.sum() * 0.0}
        return {"loss_mask": self.loss_mask(self._class_logits(mask_logits, labels).float(), targets)}

    def export_masks(self, mask_logits: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
        """(K, C, M, M) logits -> (K, M, M) sigmoid probabilities of each RoI's class: the exported
        masks, and those :meth:`predict_masks` pastes. Labels < 0 (padding rows) read class 0."""
        if self.class_agnostic:
            logits = mask_logits[:, 0]
        else:
            side_y, side_x = mask_logits.shape[-2:]
            index = labels.clamp(min=0).reshape(-1, 1, 1, 1).expand(-1, 1, side_y, side_x)
            logits = mask_logits.gather(1, index)[:, 0]
        return logits.float().sigmoid()

    @torch.no_grad()
    def predict_masks(
        self,
        mask_logits: torch.Tensor,
        boxes: torch.Tensor,
        labels: torch.Tensor,
        image_shape: Sequence[int],
        threshold: float = 0.5,
    ) -> torch.Tensor:
        """(K, C, M, M) logits of K detections -> (K, H, W) bool masks of their classes pasted into
        an image of ``image_shape = (H, W)``; ``boxes`` (K, 4) xyxy are in that image's pixels."""
        return paste_masks_in_image(self.export_masks(mask_logits, labels), boxes, image_shape, threshold)
