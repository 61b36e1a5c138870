"""RandomAffine: a random rotation, scaling, shear and translation of the sample (MMDetection / YOLOX).

The warp moves every annotation the sample holds through the kernels of :mod:`.annotation_kernels`:
the image is resampled, boxes become the box enclosing their four warped corners (clipped to the
image), masks and maps are warped with nearest neighbour, keypoints are warped and those leaving the
image become invisible, polygons are warped and clipped.
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import numpy as np

from ...registry import TRANSFORMS
from . import image_ops
from .annotation_kernels import image_size, keep_instances
from .base import BaseTransform
from .coordinate_kernels import boxes_inside
from .geometric import warp_results

__all__ = ["RandomAffine", "affine_matrix"]


def affine_matrix(
    rotate_degree: float = 0.0,
    scale: float = 1.0,
    shear_degrees: tuple[float, float] = (0.0, 0.0),
    translate: tuple[float, float] = (0.0, 0.0),
    in_center: tuple[float, float] = (0.0, 0.0),
    out_center: tuple[float, float] = (0.0, 0.0),
) -> np.ndarray:
    """The (3, 3) float64 matrix ``T(out_center + translate) @ Shear @ Rotate @ Scale @ T(-in_center)``.

    Rotation, scaling and shear (MMDetection's matrices) act about ``in_center``, which lands on
    ``out_center`` moved by ``translate``; all in continuous pixel coordinates (x right, y down), so
    a positive ``rotate_degree`` turns the content clockwise on screen. ``shear_degrees = (x, y)``
    maps (x, y) to ``(x + tan(sx) * y, y + tan(sy) * x)``.
    """
    radians = math.radians(rotate_degree)
    rotation = np.array(
        [[math.cos(radians), -math.sin(radians), 0.0], [math.sin(radians), math.cos(radians), 0.0], [0, 0, 1]]
    )
    scaling = np.diag([float(scale), float(scale), 1.0])
    shear_x, shear_y = (math.tan(math.radians(d)) for d in shear_degrees)
    shear = np.array([[1.0, shear_x, 0.0], [shear_y, 1.0, 0.0], [0.0, 0.0, 1.0]])
    to_origin = np.array([[1.0, 0.0, -in_center[0]], [0.0, 1.0, -in_center[1]], [0.0, 0.0, 1.0]])
    out_x, out_y = out_center[0] + translate[0], out_center[1] + translate[1]
    to_output = np.array([[1.0, 0.0, out_x], [0.0, 1.0, out_y], [0.0, 0.0, 1.0]])
    return to_output @ shear @ rotation @ scaling @ to_origin


@TRANSFORMS.register()
class RandomAffine(BaseTransform):
    """Random rotation, scaling, shear and translation (MMDetection's ``RandomAffine``, YOLOX Sec. 2.2).

    Each call draws, in this order and uniformly, a rotation in ``[-max_rotate_degree,
    max_rotate_degree]``, a scale in ``scaling_ratio_range``, x and y shears in
    ``[-max_shear_degree, max_shear_degree]`` and x and y translations in ``[-max_translate_ratio,
    max_translate_ratio]`` times the output width and height. The output is the input enlarged by
    ``border = (bx, by)`` on each side (negative values shrink it, as after a 2x2 ``Mosaic``).
    Unlike MMDetection's, which turns about the top-left corner, rotation, scaling and shear act
    about the image centre and map it to the output centre (as YOLOv5's ``random_perspective``), so
    a lone image stays in view.

    Boxes are filtered afterwards (MMDetection 2's rules): an instance is kept when its clipped
    box overlaps the output, its width and height exceed ``min_bbox_size``, its area exceeds
    ``min_area_ratio`` of the original box's area times the scale squared, and its aspect ratio
    (long side over short side) is below ``max_aspect_ratio``. Every per-instance key (labels,
    flags, masks, keypoints ...) follows the filter. ``min_bbox_size=0``, ``min_area_ratio=0`` and
    ``max_aspect_ratio=inf`` keep every box that overlaps the output.

    Args:
        max_rotate_degree: the largest rotation, degrees (positive turns clockwise on screen).
        max_translate_ratio: the largest translation, as a fraction of the output size.
        scaling_ratio_range: the range of the scale factor.
        max_shear_degree: the largest shear angle, degrees.
        border: ``(bx, by)`` pixels added to each side of the output.
        border_val: the image's fill value (a scalar or one per channel).
        min_bbox_size: the smallest width and height of a kept box, pixels.
        min_area_ratio: the smallest kept area relative to the scaled original box.
        max_aspect_ratio: the largest kept aspect ratio.
        interpolation: the image's interpolation (``nearest, bilinear, bicubic, area, lanczos``).
    """

    def __init__(
        self,
        max_rotate_degree: float = 10.0,
        max_translate_ratio: float = 0.1,
        scaling_ratio_range: tuple[float, float] = (0.5, 1.5),
        max_shear_degree: float = 2.0,
        border: tuple[int, int] = (0, 0),
        border_val: float | Sequence[float] = (114, 114, 114),
        min_bbox_size: float = 2.0,
        min_area_ratio: float = 0.2,
        max_aspect_ratio: float = 20.0,
        interpolation: str = "bilinear",
    ) -> None:
        if not 0 <= max_translate_ratio <= 1:
            raise ValueError(
                f"RandomAffine: max_translate_ratio must be in [0, 1], got {max_translate_ratio}"
            )
        if not 0 < scaling_ratio_range[0] <= scaling_ratio_range[1]:
            raise ValueError(
                f"RandomAffine: need 0 < min <= max in scaling_ratio_range={scaling_ratio_range}"
            )
        if not 0 <= max_shear_degree < 90:
            raise ValueError(f"RandomAffine: max_shear_degree must be in [0, 90), got {max_shear_degree}")
        if max_rotate_degree < 0:
            raise ValueError(f"RandomAffine: max_rotate_degree must be >= 0, got {max_rotate_degree}")
        image_ops.interpolation_flag(interpolation)
        self.max_rotate_degree = float(max_rotate_degree)
        self.max_translate_ratio = float(max_translate_ratio)
        self.scaling_ratio_range = tuple(scaling_ratio_range)
        self.max_shear_degree = float(max_shear_degree)
        self.border = (int(border[0]), int(border[1]))
        self.border_val = border_val
        self.min_bbox_size = float(min_bbox_size)
        self.min_area_ratio = float(min_area_ratio)
        self.max_aspect_ratio = float(max_aspect_ratio)
        self.interpolation = interpolation

    def sample_matrix(self, width: int, height: int) -> tuple[np.ndarray, float, tuple[int, int]]:
        """Draw the warp of a ``width`` x ``height`` input: the (3, 3) matrix, its scale and the output (w, h)."""
        out_width, out_height = width + 2 * self.border[0], height + 2 * self.border[1]
        if out_width <= 0 or out_height <= 0:
            raise ValueError(
                f"RandomAffine: border {self.border} leaves no output for a {width}x{height} image"
            )
        rotate = np.random.uniform(-self.max_rotate_degree, self.max_rotate_degree)
        scale = float(np.random.uniform(*self.scaling_ratio_range))
        shear = (
            np.random.uniform(-self.max_shear_degree, self.max_shear_degree),
            np.random.uniform(-self.max_shear_degree, self.max_shear_degree),
        )
        translate = (
            np.random.uniform(-self.max_translate_ratio, self.max_translate_ratio) * out_width,
            np.random.uniform(-self.max_translate_ratio, self.max_translate_ratio) * out_height,
        )
        matrix = affine_matrix(
            rotate, scale, shear, translate, (width / 2, height / 2), (out_width / 2, out_height / 2)
        )
        return matrix, scale, (out_width, out_height)

    def box_filter(
        self, original: np.ndarray, warped: np.ndarray, scale: float, size: tuple[int, int]
    ) -> np.ndarray:
        """(N,) bool: which warped boxes to keep (see the class docstring); boxes are (N, 4) x1 y1 x2 y2."""
        original = np.asarray(original, dtype=np.float64).reshape(-1, 4)
        warped_64 = np.asarray(warped, dtype=np.float64).reshape(-1, 4)
        original_area = (original[:, 2] - original[:, 0]) * (original[:, 3] - original[:, 1]) * scale**2
        width, height = warped_64[:, 2] - warped_64[:, 0], warped_64[:, 3] - warped_64[:, 1]
        aspect = np.maximum(width / (height + 1e-16), height / (width + 1e-16))
        return (
            boxes_inside(warped, *size)
            & (width > self.min_bbox_size)
            & (height > self.min_bbox_size)
            & (width * height / (original_area + 1e-16) > self.min_area_ratio)
            & (aspect < self.max_aspect_ratio)
        )

    def transform(self, results: dict) -> dict:
        matrix, scale, size = self.sample_matrix(*image_size(results))
        original = results.get("gt_bboxes")
        warp_results(results, matrix, size, self.interpolation, {"img": self.border_val})
        if original is not None:
            keep_instances(results, self.box_filter(original, results["gt_bboxes"], scale, size))
        return results
