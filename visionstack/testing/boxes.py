"""Random boxes for tests."""

from __future__ import annotations

import torch

__all__ = ["random_boxes"]


def random_boxes(
    num: int,
    image_size: int | tuple[int, int],
    generator: torch.Generator | None = None,
    min_size: float = 1.0,
) -> torch.Tensor:
    """``num`` boxes inside an image, uniformly placed.

    Args:
        num: number of boxes.
        image_size: H (= W) or (H, W) in pixels.
        generator: source of randomness (None: the global generator).
        min_size: smallest width and height (must not exceed the image).

    Returns:
        (num, 4) float32 boxes (x1, y1, x2, y2), absolute pixels, with
        ``0 <= x1 < x2 <= W``, ``0 <= y1 < y2 <= H`` and sides >= ``min_size``.
    """
    height, width = (image_size, image_size) if isinstance(image_size, int) else image_size
    if not 0 < min_size <= min(height, width):
        raise ValueError(f"random_boxes: min_size {min_size} must be in (0, min(H, W)={min(height, width)}]")
    u = torch.rand(num, 4, generator=generator, dtype=torch.float64)
    box_w = min_size + (width - min_size) * u[:, 0]
    box_h = min_size + (height - min_size) * u[:, 1]
    x1 = (width - box_w) * u[:, 2]
    y1 = (height - box_h) * u[:, 3]
    boxes = torch.stack([x1, y1, (x1 + box_w).clamp(max=width), (y1 + box_h).clamp(max=height)], dim=1)
    return boxes.float()
