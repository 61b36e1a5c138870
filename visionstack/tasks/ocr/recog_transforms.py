"""OCR recognition transforms (MMOCR's names and semantics): packing word crops, rescaling and padding them,
and their augmentation (distortion, height crops, content jitter, pixel reversal).

Results keys: ``img`` (the word crop), ``gt_text`` (str), ``valid_ratio`` (set by :class:`PadToWidth`).
Randomness comes from ``numpy.random`` (seeded per worker by the runner).
"""

from __future__ import annotations

import math
from collections.abc import Sequence

import cv2
import numpy as np

from ...data.transforms import (
    BasePackInputs,
    crop_results,
    image_size,
    pad_results,
    resize_results,
)
from ...data.transforms.base import BaseTransform
from ...registry import TRANSFORMS
from ...structures import DataSample, LabelData

__all__ = [
    "CropHeight",
    "ImageContentJitter",
    "PackTextRecogInputs",
    "PadToWidth",
    "RescaleToHeight",
    "ReversePixels",
    "ShearJitter",
    "StrokeWidthJitter",
    "TextRecogGeneralAug",
    "mls_similarity_map",
]


@TRANSFORMS.register()
class PackTextRecogInputs(BasePackInputs):
    """``{"inputs": (C, H, W) uint8 tensor, "data_samples": DataSample}`` for text recognition.

    ``gt_text = LabelData(item=text)`` from ``gt_text`` (or the first of ``gt_texts``); the metainfo
    gets ``valid_ratio`` 1.0 and ``img_shape`` when no transform set them. A grayscale crop packs as
    (1, H, W). ``lexicon`` and ``pattern`` (the decoding constraints ``infer --lexicon/--pattern`` put on
    an input) are kept when present.

    Args:
        meta_keys: results keys copied into the metainfo (missing ones are skipped).
    """

    def __init__(
        self,
        meta_keys: Sequence[str] = (
            "img_path",
            "ori_shape",
            "img_shape",
            "scale_factor",
            "valid_ratio",
            "lexicon",
            "pattern",
        ),
    ) -> None:
        super().__init__(meta_keys)

    def pack_annotations(self, results: dict, sample: DataSample) -> None:
        defaults = {"img_shape": tuple(results["img"].shape[:2]), "valid_ratio": 1.0}
        sample.set_metainfo({k: v for k, v in defaults.items() if k in self.meta_keys and k not in sample})
        text = results.get("gt_text")
        if text is None and results.get("gt_texts"):
            text = results["gt_texts"][0]
        if text is not None:
            sample.gt_text = LabelData(item=str(text))


# ---- recognition ------------------------------------------------------------------------------------
@TRANSFORMS.register()
class RescaleToHeight(BaseTransform):
    """Resize a word crop to ``height``, keeping the aspect ratio unless the width limits bind (MMOCR).

    The width is ``ceil(height / h * w)``, clamped to ``[min_width, max_width]``, then rounded to the
    nearest multiple of ``width_divisor`` (MMOCR's rounding). ``img_shape`` and ``scale_factor`` follow.

    Args:
        height: the output height.
        min_width: the smallest output width.
        max_width: the largest output width.
        width_divisor: the output width is a multiple of it.
        interpolation: ``nearest, bilinear, bicubic, area, lanczos``.
    """

    def __init__(
        self,
        height: int,
        min_width: int | None = None,
        max_width: int | None = None,
        width_divisor: int = 1,
        interpolation: str = "bilinear",
    ) -> None:
        if height <= 0 or width_divisor <= 0:
            raise ValueError(
                f"RescaleToHeight: height and width_divisor must be positive, got {height}, {width_divisor}"
            )
        if min_width is not None and max_width is not None and min_width > max_width:
            raise ValueError(f"RescaleToHeight: min_width {min_width} > max_width {max_width}")
        self.height = int(height)
        self.min_width = min_width
        self.max_width = max_width
        self.width_divisor = int(width_divisor)
        self.interpolation = interpolation

    def target_width(self, width: int, height: int) -> int:
        """The output width for a ``width`` x ``height`` crop."""
        new_width = math.ceil(self.height / height * width)
        if self.min_width is not None:
            new_width = max(self.min_width, new_width)
        if self.max_width is not None:
            new_width = min(self.max_width, new_width)
        if new_width % self.width_divisor:
            new_width = round(new_width / self.width_divisor) * self.width_divisor
        return max(1, int(new_width))

    def transform(self, results: dict) -> dict:
        width, height = image_size(results)
        return resize_results(results, (self.target_width(width, height), self.height), self.interpolation)


@TRANSFORMS.register()
class PadToWidth(BaseTransform):
    """Pad a word crop on the right to ``width`` and set ``valid_ratio = min(1, w / width)`` (MMOCR).

    Args:
        width: the output width.
        pad_val: the image's fill value.

    Raises:
        ValueError: the crop is wider than ``width`` (use ``RescaleToHeight(max_width=width)`` first).
    """

    def __init__(self, width: int, pad_val: int | Sequence[int] = 0) -> None:
        if width <= 0:
            raise ValueError(f"PadToWidth: width must be positive, got {width}")
        self.width = int(width)
        self.pad_val = pad_val

    def transform(self, results: dict) -> dict:
        width, height = image_size(results)
        if width > self.width:
            raise ValueError(
                f"PadToWidth: the crop is {width} px wide, more than width={self.width}; "
                f"put RescaleToHeight(..., max_width={self.width}) before it"
            )
        pad_results(results, (self.width, height), pad_val={"img": self.pad_val})
        results["pad_shape"] = (height, self.width)
        results["valid_ratio"] = min(1.0, width / self.width)
        return results


def _mls_points(q: np.ndarray, p: np.ndarray, v: np.ndarray) -> np.ndarray:
    """Similarity MLS of the (N, 2) points ``v``: control points ``p`` (output) map to ``q`` (source)."""
    squared = ((v[:, None, :] - p[None]) ** 2).sum(-1)
    exact = squared == 0
    weights = np.where(exact, 0.0, 1.0 / np.where(exact, 1.0, squared))
    total = weights.sum(1, keepdims=True)
    p_star, q_star = weights @ p / total, weights @ q / total
    p_hat, q_hat = p[None] - p_star[:, None], q[None] - q_star[:, None]
    mu = (weights * (p_hat**2).sum(-1)).sum(1)
    c = v - p_star
    c_perp = np.stack([-c[:, 1], c[:, 0]], axis=1)
    p_perp = np.stack([-p_hat[..., 1], p_hat[..., 0]], axis=-1)
    a = (p_hat * c[:, None]).sum(-1)
    b = (p_perp * c[:, None]).sum(-1)
    a_perp = (p_hat * c_perp[:, None]).sum(-1)
    b_perp = (p_perp * c_perp[:, None]).sum(-1)
    fx = (weights * (a * q_hat[..., 0] - b * q_hat[..., 1])).sum(1) / mu + q_star[:, 0]
    fy = (weights * (-a_perp * q_hat[..., 0] + b_perp * q_hat[..., 1])).sum(1) / mu + q_star[:, 1]
    mapped = np.stack([fx, fy], axis=1)
    rows, points = np.nonzero(exact)
    mapped[rows] = q[points]
    return mapped


def _linear_weights(length: int, nodes: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """For positions 0 .. length - 1: the left and right node indices and the right node's weight."""
    positions = np.arange(length, dtype=np.float64)
    right = np.clip(np.searchsorted(nodes, positions, side="right"), 1, len(nodes) - 1)
    left = right - 1
    span = np.where(nodes[right] > nodes[left], nodes[right] - nodes[left], 1.0)
    return left, right, np.clip((positions - nodes[left]) / span, 0.0, 1.0)


def mls_similarity_map(
    src_points: np.ndarray, dst_points: np.ndarray, width: int, height: int, grid_size: int = 1
) -> tuple[np.ndarray, np.ndarray]:
    """The backward map of a moving-least-squares similarity deformation (Schaefer et al., SIGGRAPH 2006).

    Each output pixel ``v`` (pixel-index coordinates) is sent to the source point ``f(v)`` of the
    similarity MLS that maps the control points ``dst_points`` onto ``src_points`` with weights
    ``1 / |dst_i - v|^2``; a pixel on a control point maps exactly onto its source point. With
    ``grid_size > 1`` the deformation is evaluated every ``grid_size`` pixels (and on the last row and
    column) and interpolated bilinearly in between, as MMOCR does (with its grid of 100).

    Args:
        src_points: (K, 2) x y control points in the source image.
        dst_points: (K, 2) x y where they land in the output.
        width: the output width.
        height: the output height.
        grid_size: the spacing of the exactly evaluated pixels.

    Returns:
        ``(map_x, map_y)``, each (height, width) float32, for ``cv2.remap``.
    """
    q = np.asarray(src_points, dtype=np.float64).reshape(-1, 2)
    p = np.asarray(dst_points, dtype=np.float64).reshape(-1, 2)
    step = max(1, int(grid_size))
    nodes_x = np.unique(np.append(np.arange(0, width, step), width - 1)).astype(np.float64)
    nodes_y = np.unique(np.append(np.arange(0, height, step), height - 1)).astype(np.float64)
    grid_y, grid_x = np.meshgrid(nodes_y, nodes_x, indexing="ij")
    mapped = _mls_points(q, p, np.stack([grid_x.ravel(), grid_y.ravel()], axis=1))
    mapped = mapped.reshape(len(nodes_y), len(nodes_x), 2)
    if step > 1:
        # Elementwise bilinear interpolation (a BLAS product is slower here on a busy machine).
        top, bottom, t = _linear_weights(height, nodes_y)
        mapped = mapped[top] * (1 - t)[:, None, None] + mapped[bottom] * t[:, None, None]
        left, right, t = _linear_weights(width, nodes_x)
        mapped = mapped[:, left] * (1 - t)[None, :, None] + mapped[:, right] * t[None, :, None]
    return mapped[..., 0].astype(np.float32), mapped[..., 1].astype(np.float32)


def _mls_warp(img: np.ndarray, src_points: list, dst_points: list, grid_size: int) -> np.ndarray:
    height, width = img.shape[:2]
    map_x, map_y = mls_similarity_map(
        np.asarray(src_points), np.asarray(dst_points), width, height, grid_size
    )
    np.clip(map_x, 0, width - 1, out=map_x)  # MMOCR clamps the source points to the image
    np.clip(map_y, 0, height - 1, out=map_y)
    warped = cv2.remap(img, map_x, map_y, cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE)
    return warped.reshape(img.shape)


def _randint(high: int) -> int:
    return int(np.random.randint(max(1, int(high))))


@TRANSFORMS.register()
class TextRecogGeneralAug(BaseTransform):
    """Distort, stretch and warp the perspective of a word crop (MMOCR's ``TextRecogGeneralAug``, the
    "Learn to Augment" augmentation of Luo et al., CVPR 2020).

    A crop of at least 20x20 gets a distortion (3 to 6 segments along the width, every control point
    jittered by up to a third of a segment) then a stretch (the segment borders moved by up to 4/5
    of a segment); a crop of at least 5x5 then gets a perspective change (the corners' heights moved
    by up to half the height). Each is a moving-least-squares similarity warp of the control points
    (:func:`mls_similarity_map`). The crop keeps its size.

    Args:
        grid_size: the deformation is computed exactly every ``grid_size`` pixels and interpolated in
            between. MMOCR uses 100, which on a 32 px crop leaves only the corners (a bilinear warp
            that ignores the inner control points); 8 follows them and costs about 2 ms a crop.
    """

    def __init__(self, grid_size: int = 8) -> None:
        if grid_size < 1:
            raise ValueError(f"TextRecogGeneralAug: grid_size must be >= 1, got {grid_size}")
        self.grid_size = int(grid_size)

    @staticmethod
    def _corners(width: int, height: int) -> list[list[float]]:
        return [[0, 0], [width, 0], [width, height], [0, height]]

    def distort(self, img: np.ndarray, segment: int) -> np.ndarray:
        height, width = img.shape[:2]
        cut = width // segment
        thresh = cut // 3
        src = self._corners(width, height)
        dst = [
            [_randint(thresh), _randint(thresh)],
            [width - _randint(thresh), _randint(thresh)],
            [width - _randint(thresh), height - _randint(thresh)],
            [_randint(thresh), height - _randint(thresh)],
        ]
        half = thresh * 0.5
        for index in range(1, segment):
            src += [[cut * index, 0], [cut * index, height]]
            dst += [
                [cut * index + _randint(thresh) - half, _randint(thresh) - half],
                [cut * index + _randint(thresh) - half, height + _randint(thresh) - half],
            ]
        return _mls_warp(img, src, dst, self.grid_size)

    def stretch(self, img: np.ndarray, segment: int) -> np.ndarray:
        height, width = img.shape[:2]
        cut = width // segment
        thresh = cut * 4 // 5
        src = self._corners(width, height)
        dst = self._corners(width, height)
        half = thresh * 0.5
        for index in range(1, segment):
            move = _randint(thresh) - half
            src += [[cut * index, 0], [cut * index, height]]
            dst += [[cut * index + move, 0], [cut * index + move, height]]
        return _mls_warp(img, src, dst, self.grid_size)

    def perspective(self, img: np.ndarray) -> np.ndarray:
        height, width = img.shape[:2]
        thresh = height // 2
        src = self._corners(width, height)
        dst = [
            [0, _randint(thresh)],
            [width, _randint(thresh)],
            [width, height - _randint(thresh)],
            [0, height - _randint(thresh)],
        ]
        return _mls_warp(img, src, dst, self.grid_size)

    def transform(self, results: dict) -> dict:
        img = results["img"]
        height, width = img.shape[:2]
        if height >= 20 and width >= 20:
            img = self.distort(img, int(np.random.randint(3, 7)))
            img = self.stretch(img, int(np.random.randint(3, 7)))
        if height >= 5 and width >= 5:
            img = self.perspective(img)
        results["img"] = img
        results["img_shape"] = tuple(img.shape[:2])
        return results


@TRANSFORMS.register()
class CropHeight(BaseTransform):
    """Cut ``min_pixels`` to ``max_pixels`` rows (at least one row is kept) off the top or the bottom of a
    word crop, each side with probability 1/2 (MMOCR's ``CropHeight``, from PaddleOCR).

    Args:
        min_pixels: the fewest rows cut.
        max_pixels: the most rows cut.
    """

    def __init__(self, min_pixels: int = 1, max_pixels: int = 8) -> None:
        if not 0 <= min_pixels <= max_pixels:
            raise ValueError(
                f"CropHeight: need 0 <= min_pixels <= max_pixels, got {min_pixels}, {max_pixels}"
            )
        self.min_pixels = int(min_pixels)
        self.max_pixels = int(max_pixels)

    def transform(self, results: dict) -> dict:
        width, height = image_size(results)
        pixels = int(np.random.randint(self.min_pixels, self.max_pixels + 1))
        from_top = bool(np.random.randint(2))
        pixels = min(pixels, height - 1)
        if from_top:
            return crop_results(results, 0, pixels, width, height)
        return crop_results(results, 0, 0, width, height - pixels)


@TRANSFORMS.register()
class ImageContentJitter(BaseTransform):
    """Smear a word crop diagonally (MMOCR's ``ImageContentJitter``, from PaddleOCR).

    For a crop larger than 10x10, ``r = int(u * min(h, w) * jitter_ratio)`` with u ~ U(0, 1); the
    content is shifted one pixel right and down ``r`` times, each shift copied over the previous
    image (so the top-left rows and columns repeat). Crops of 32 px or less are never changed at the
    default ratio 0.01, as in MMOCR.

    Args:
        jitter_ratio: the strength, as a fraction of the short side.
    """

    def __init__(self, jitter_ratio: float = 0.01) -> None:
        self.jitter_ratio = float(jitter_ratio)

    def transform(self, results: dict) -> dict:
        img = results["img"]
        height, width = img.shape[:2]
        if height > 10 and width > 10:
            steps = int(np.random.random_sample() * min(height, width) * self.jitter_ratio)
            img = img.copy()
            for step in range(steps):
                img[step:, step:] = img[: height - step, : width - step].copy()
            results["img"] = img
        return results


@TRANSFORMS.register()
class ReversePixels(BaseTransform):
    """Invert the crop's intensities: ``255 - img`` (MMOCR's ``ReversePixels``; uint8 stays uint8)."""

    def __init__(self) -> None:
        pass

    def transform(self, results: dict) -> dict:
        img = results["img"]
        results["img"] = (255 - img) if img.dtype == np.uint8 else (255.0 - img.astype(np.float32))
        return results


@TRANSFORMS.register()
class StrokeWidthJitter(BaseTransform):
    """Thicken or thin the strokes of a crop: a grey-level dilation or erosion with a ``kernel_size`` square
    (one of the two, at random). Dilation widens bright strokes on dark ground and erosion dark strokes on
    bright ground, so either polarity gets both lighter and heavier weights: a font's weight varies without
    new fonts (a CPU recipe for fonts unseen in training; MMOCR has no such transform).

    Args:
        kernel_size: the side of the square structuring element (2: about one pixel of weight).
    """

    def __init__(self, kernel_size: int = 2) -> None:
        if kernel_size < 1:
            raise ValueError(f"StrokeWidthJitter: kernel_size must be >= 1, got {kernel_size}")
        self.kernel = np.ones((int(kernel_size), int(kernel_size)), np.uint8)

    def transform(self, results: dict) -> dict:
        morph = cv2.dilate if np.random.rand() < 0.5 else cv2.erode
        results["img"] = morph(results["img"], self.kernel)
        return results


@TRANSFORMS.register()
class ShearJitter(BaseTransform):
    """Slant a crop's text by a random horizontal shear in ``[-max_shear, max_shear]`` (x += s * (y - h/2)),
    widening the crop so nothing is cut and filling with the replicated border: upright fonts become italic
    and italic ones upright.

    Args:
        max_shear: the largest |s| (0.3 is about 17 degrees).
    """

    def __init__(self, max_shear: float = 0.3) -> None:
        self.max_shear = float(max_shear)

    def transform(self, results: dict) -> dict:
        img = results["img"]
        height, width = img.shape[:2]
        shear = float(np.random.uniform(-self.max_shear, self.max_shear))
        extra = int(math.ceil(abs(shear) * height / 2))
        matrix = np.array([[1.0, shear, extra - shear * height / 2], [0.0, 1.0, 0.0]], np.float32)
        results["img"] = cv2.warpAffine(
            img, matrix, (width + 2 * extra, height), flags=cv2.INTER_LINEAR, borderMode=cv2.BORDER_REPLICATE
        )
        results["img_shape"] = results["img"].shape[:2]
        return results
