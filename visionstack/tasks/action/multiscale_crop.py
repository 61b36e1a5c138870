"""TSN's multi-scale corner cropping (the training crop of MMAction2's TSN/TSM configs), for clips and images.

The crop side lengths are ``scales`` times the short side of the frame; a (width, height) pair is drawn among the
pairs whose scale indices differ by at most ``max_wh_scale_gap`` (so the aspect ratio stays moderate), then the
window is placed at a random position (``random_crop``) or at one of the fixed positions of TSN: the four corners
and the centre (``num_fixed_crops=5``), plus the middles of the four sides and the four quarter centres (13). The
same window is cut from every frame of a clip (the shared geometric kernels). A ``Resize`` to the network size
follows in the configs, as in MMAction2.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ...data.transforms.annotation_kernels import image_size
from ...data.transforms.base import BaseTransform
from ...data.transforms.geometric import crop_results
from ...registry import TRANSFORMS

__all__ = ["MultiScaleCrop", "fixed_crop_offsets"]


def fixed_crop_offsets(width: int, height: int, crop_w: int, crop_h: int, num_fixed_crops: int = 5) -> list:
    """The ``(x, y)`` offsets of TSN's fixed crops (5 or 13) of a ``crop_w`` x ``crop_h`` window."""
    w_step, h_step = (width - crop_w) // 4, (height - crop_h) // 4
    offsets = [(0, 0), (4 * w_step, 0), (0, 4 * h_step), (4 * w_step, 4 * h_step), (2 * w_step, 2 * h_step)]
    if num_fixed_crops == 13:
        offsets += [
            (0, 2 * h_step),
            (4 * w_step, 2 * h_step),
            (2 * w_step, 4 * h_step),
            (2 * w_step, 0),
            (w_step, h_step),
            (3 * w_step, h_step),
            (w_step, 3 * h_step),
            (3 * w_step, 3 * h_step),
        ]
    return offsets


@TRANSFORMS.register()
class MultiScaleCrop(BaseTransform):
    """Crop a window of a random scale and aspect at a random or a fixed position (see the module docstring).

    Sets ``crop_bbox`` (x1, y1, x2, y2) and moves ``img``/``imgs`` (and any registered annotation).

    Args:
        input_size: the network input ``(w, h)`` (an int means square); recorded for the ``Resize`` after it.
        scales: crop sides as fractions of the short side.
        max_wh_scale_gap: the largest difference between the width's and the height's scale index.
        random_crop: place the window uniformly at random instead of at the fixed positions.
        num_fixed_crops: 5 or 13 fixed positions.
    """

    def __init__(
        self,
        input_size: int | Sequence[int],
        scales: Sequence[float] = (1.0,),
        max_wh_scale_gap: int = 1,
        random_crop: bool = False,
        num_fixed_crops: int = 5,
    ) -> None:
        size = (input_size, input_size) if isinstance(input_size, int) else tuple(int(v) for v in input_size)
        if len(size) != 2 or min(size) <= 0:
            raise ValueError(f"MultiScaleCrop: input_size must be an int or (w, h), got {input_size!r}")
        if not scales or any(not 0 < float(s) <= 1 for s in scales):
            raise ValueError(f"MultiScaleCrop: scales must be fractions in (0, 1], got {scales!r}")
        if num_fixed_crops not in (5, 13):
            raise ValueError(f"MultiScaleCrop: num_fixed_crops must be 5 or 13, got {num_fixed_crops}")
        self.input_size = size
        self.scales = tuple(float(s) for s in scales)
        self.max_wh_scale_gap = int(max_wh_scale_gap)
        self.random_crop = bool(random_crop)
        self.num_fixed_crops = int(num_fixed_crops)

    def transform(self, results: dict) -> dict:
        width, height = image_size(results)
        base = min(width, height)
        sides = [int(base * scale) for scale in self.scales]
        pairs = [
            (sides[i], sides[j])
            for i in range(len(sides))
            for j in range(len(sides))
            if abs(i - j) <= self.max_wh_scale_gap
        ]
        crop_w, crop_h = pairs[np.random.randint(len(pairs))]
        if self.random_crop:
            x = int(np.random.randint(0, width - crop_w + 1))
            y = int(np.random.randint(0, height - crop_h + 1))
        else:
            offsets = fixed_crop_offsets(width, height, crop_w, crop_h, self.num_fixed_crops)
            x, y = offsets[np.random.randint(len(offsets))]
        results["crop_bbox"] = np.array((x, y, x + crop_w, y + crop_h), dtype=np.int64)
        results["input_size"] = self.input_size
        return crop_results(results, x, y, x + crop_w, y + crop_h)
