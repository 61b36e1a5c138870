"""Pasting exported Mask R-CNN masks into the image, with NumPy only (no torch at deploy time).

An exported two-stage detector returns, per detection, the (S, S) sigmoid mask of its class over
its box (``masks`` of ``export_forward``). :func:`paste_masks` resamples them into the original
image exactly as the eager ``paste_masks_in_image`` of
``visionstack.tasks.detection.models.mask_head`` does: pixel (x, y) (center ``x + 0.5``) reads the
mask bilinearly at ``(x + 0.5 - x1) / (x2 - x1) * S - 0.5`` (mask pixel centers at integers) with
zeros outside the mask, only in a window of the box widened by one mask pixel and one image pixel;
values at or above the threshold are foreground. The arithmetic is float32 in the order PyTorch's
``grid_sample`` uses, so the binary masks match the eager ones bit for bit in practice.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

__all__ = ["paste_masks"]


def paste_masks(
    masks: np.ndarray, boxes: np.ndarray, image_shape: Sequence[int], threshold: float = 0.5
) -> np.ndarray:
    """Paste per-box mask probabilities into a full image.

    Args:
        masks: (K, S, S) float mask probabilities (after sigmoid), one per box (a non-square
            (K, S_y, S_x) works too).
        boxes: (K, 4) xyxy boxes in the pixels of the target image (the original image for an
            exported detector's ``dets``).
        image_shape: ``(height, width)`` of the target image.
        threshold: probabilities ``>= threshold`` become True.

    Returns:
        (K, height, width) bool masks.
    """
    masks = np.asarray(masks, dtype=np.float32)
    boxes = np.asarray(boxes, dtype=np.float32)
    if masks.ndim != 3:
        raise ValueError(f"paste_masks: masks must be (K, S, S), got shape {masks.shape}")
    if boxes.shape != (masks.shape[0], 4):
        raise ValueError(f"paste_masks: boxes must be ({masks.shape[0]}, 4) xyxy, got shape {boxes.shape}")
    if len(image_shape) < 2:
        raise ValueError(f"paste_masks: image_shape must be (height, width), got {tuple(image_shape)}")
    height, width = int(image_shape[0]), int(image_shape[1])
    side_y, side_x = masks.shape[1:]
    pasted = np.zeros((masks.shape[0], height, width), dtype=bool)
    for index, (mask, box) in enumerate(zip(masks, boxes)):
        x1, y1, x2, y2 = (float(value) for value in box)
        box_w, box_h = max(x2 - x1, 1e-6), max(y2 - y1, 1e-6)
        x_lo, x_hi = _window(x1, x2, box_w / side_x, width)
        y_lo, y_hi = _window(y1, y2, box_h / side_y, height)
        if x_hi <= x_lo or y_hi <= y_lo:
            continue
        x_index, x_weight = _axis_samples(x_lo, x_hi, x1, box_w, side_x)
        y_index, y_weight = _axis_samples(y_lo, y_hi, y1, box_h, side_y)
        # zeros outside the mask: two zero rows/columns around it hold every neighbour off the mask
        padded = np.zeros((side_y + 4, side_x + 4), dtype=np.float32)
        padded[2:-2, 2:-2] = mask
        north, west = y_index[:, None] + 2, x_index[None, :] + 2
        # grid_sample's names: distances to the north/south row and the west/east column
        to_north, to_south = y_weight[:, None, 1], y_weight[:, None, 0]
        to_west, to_east = x_weight[None, :, 1], x_weight[None, :, 0]
        # grid_sample's weights (nw = s * e, ne = s * w, sw = n * e, se = n * w), summed in its order
        values = padded[north, west] * (to_south * to_east)
        values = values + padded[north, west + 1] * (to_south * to_west)
        values = values + padded[north + 1, west] * (to_north * to_east)
        values = values + padded[north + 1, west + 1] * (to_north * to_west)
        pasted[index, y_lo:y_hi, x_lo:x_hi] = values >= np.float32(threshold)
    return pasted


def _window(start: float, end: float, mask_pixel: float, limit: int) -> tuple[int, int]:
    """Integer pixel range covering ``[start, end]`` plus one mask pixel and one image pixel each side."""
    margin = mask_pixel + 1.0
    return max(int(math.floor(start - margin)), 0), min(int(math.ceil(end + margin)), limit)


def _axis_samples(lo: int, hi: int, start: float, size: float, side: int) -> tuple[np.ndarray, np.ndarray]:
    """Mask coordinates of image pixels ``lo .. hi - 1`` along one axis, in float32 as grid_sample
    computes them.

    Returns:
        ``(index, weights)``: (n,) int64 floor of the coordinate, clipped into ``[-2, side]`` (both
        neighbours of a clipped one are off the mask, so read zeros either way) and (n, 2) float32
        ``[1 - frac, frac]``: the bilinear weights of the neighbours ``floor`` and ``floor + 1``.
    """
    pixels = np.arange(lo, hi, dtype=np.float32)
    # normalised grid coordinate in [-1, 1] over the box, then grid_sample's unnormalisation
    normalised = (pixels + np.float32(0.5) - np.float32(start)) / np.float32(size) * np.float32(
        2
    ) - np.float32(1)
    coords = (normalised + np.float32(1)) * np.float32(side / 2) - np.float32(0.5)
    floor = np.floor(coords)
    fraction = coords - floor
    index = np.clip(floor, -2, side).astype(np.int64)
    return index, np.stack([np.float32(1) - fraction, fraction], axis=1)
