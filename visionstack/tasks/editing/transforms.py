"""Image-editing transforms (MMagic's names and semantics where they exist): loading ground truths and
masks, paired crops and flips, degradations on the fly, masks, and packing.

Results keys (see the editing spec): ``img`` the model's input (LQ, noisy, or the whole image for
inpainting), ``gt`` the ground truth, ``mask`` (H, W) uint8 with 1 = hole; ``img_shape`` / ``gt_shape``
the current (h, w) of ``img`` / ``gt``; ``img_path``, ``gt_path``, ``mask_path``, ``sample_idx`` from the
dataset record.

Randomness: the random transforms draw from the global ``numpy.random`` (seeded per worker by the
runner). :class:`GenerateMask` and :class:`AddGaussianNoise` with a ``seed`` draw from
``numpy.random.default_rng(seed + sample_idx)`` instead, so a validation sample gets the same mask or
noise at every evaluation, whatever the order or the number of workers.
"""

from __future__ import annotations

import os
from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ...data.transforms.base import BaseTransform
from ...data.transforms.formatting import BasePackInputs, image_to_tensor
from ...registry import TRANSFORMS
from ...structures import DataSample, PixelData
from ...utils.image_io import COLOR_TYPES, read_image
from .degradations import add_gaussian_noise, gaussian_blur, imresize, jpeg_compress, round_to_uint8
from .masks import MASK_MODES, random_mask
from .runtime import read_mask

__all__ = [
    "EDIT_META_KEYS",
    "AddGaussianNoise",
    "CopyValues",
    "EditFlip",
    "EditRandomCrop",
    "GenerateMask",
    "LoadEditAnnotations",
    "LoadMask",
    "MatlabDownsample",
    "ModCrop",
    "PackEditInputs",
    "PairedRandomCrop",
    "RandomBlur",
    "RandomJPEG",
    "RandomTransposeHW",
]

EDIT_META_KEYS = ("img_path", "gt_path", "mask_path", "ori_shape", "img_shape", "sample_idx", "tile")
_SHAPE_KEYS = {"img": "img_shape", "gt": "gt_shape"}


def _set_shape(results: dict, key: str) -> None:
    """Keep ``img_shape`` / ``gt_shape`` equal to the (h, w) of ``img`` / ``gt`` after a change."""
    if key in _SHAPE_KEYS:
        results[_SHAPE_KEYS[key]] = tuple(results[key].shape[:2])


def _require(results: dict, key: str, owner: str) -> np.ndarray:
    if key not in results:
        raise KeyError(f"{owner}: the results have no {key!r} (keys: {sorted(results)})")
    return results[key]


def _seeded_rng(seed: int | None, results: dict) -> np.random.Generator:
    """``default_rng(seed + sample_idx)`` with a seed; else a generator drawn from the global NumPy state."""
    if seed is None:
        return np.random.default_rng(np.random.randint(0, 2**31 - 1))
    return np.random.default_rng(int(seed) + int(results.get("sample_idx", 0)))


def _paths(results: dict) -> str:
    named = [f"{k}={results[k]!r}" for k in ("img_path", "gt_path") if results.get(k) is not None]
    return ", ".join(named) if named else "no paths"


# ---- loading -----------------------------------------------------------------------------------------
@TRANSFORMS.register()
class LoadEditAnnotations(BaseTransform):
    """Load the ground-truth image ``results["gt_path"]`` into ``gt`` and set ``gt_shape`` (h, w).

    Args:
        gt: load the ground truth (False: the transform does nothing, for configs that toggle it).
        color_type: ``color`` ((H, W, 3) uint8 BGR), ``grayscale`` ((H, W)) or ``unchanged``, as
            :class:`~visionstack.data.transforms.LoadImage`.
        to_float32: convert ``gt`` to float32 (values stay 0..255).

    Raises:
        KeyError: the record has no ``gt_path``.
        FileNotFoundError / ValueError: naming the file, when it is missing or cannot be decoded.
    """

    def __init__(self, gt: bool = True, color_type: str = "color", to_float32: bool = False) -> None:
        if color_type not in COLOR_TYPES:
            raise ValueError(
                f"LoadEditAnnotations: unknown color_type {color_type!r}; choose one of {sorted(COLOR_TYPES)}"
            )
        self.gt = gt
        self.color_type = color_type
        self.to_float32 = to_float32

    def transform(self, results: dict) -> dict:
        if not self.gt:
            return results
        path = results.get("gt_path")
        if path is None:
            raise KeyError(
                f"LoadEditAnnotations: the record has no `gt_path` ({_paths(results)}); a dataset with a "
                "`gt` folder sets it, or copy the input with CopyValues(src_keys=['img'], dst_keys=['gt'])"
            )
        gt = read_image(path, self.color_type)
        results["gt"] = gt.astype(np.float32) if self.to_float32 else gt
        _set_shape(results, "gt")
        return results


@TRANSFORMS.register()
class LoadMask(BaseTransform):
    """Load an inpainting mask file into ``mask``: (H, W) uint8, 1 = hole (any non-zero value), 0 = known.

    A PNG (any bit depth or channels: a pixel non-zero in any channel is a hole) or a ``.npy`` (H, W)
    array.

    Args:
        key: the results key holding the mask's path.

    Raises:
        FileNotFoundError: the file is missing (naming it).
        ValueError: the mask is not the size of ``img`` (naming the file and both sizes).
    """

    def __init__(self, key: str = "mask_path") -> None:
        self.key = key

    def transform(self, results: dict) -> dict:
        path = os.fspath(_require(results, self.key, "LoadMask"))
        mask = read_mask(path)
        img = results.get("img")
        if img is not None and tuple(img.shape[:2]) != mask.shape:
            raise ValueError(
                f"LoadMask: the mask {path!r} is {mask.shape} (h, w) but the image "
                f"{results.get('img_path')!r} is {tuple(img.shape[:2])}"
            )
        results["mask"] = mask
        return results


@TRANSFORMS.register()
class GenerateMask(BaseTransform):
    """Draw an inpainting mask the size of ``img`` into ``mask`` (see :func:`.masks.random_mask`).

    Args:
        mode: ``free_form``, ``bbox`` or ``mixed``.
        seed: None: a new mask at every call (training). An int: the mask of sample ``sample_idx`` is
            drawn from ``default_rng(seed + sample_idx)``, the same at every call (a fixed validation mask).
        hole_fraction: (min, max) fraction of hole pixels.
        bbox_options: box arguments (``max_bbox_shape``, ``margin``, ``max_bbox_delta``).
        mask_options: stroke arguments (``num_vertices``, ``max_angle``, ``length_range``,
            ``brush_width``, ``num_strokes``).
    """

    def __init__(
        self,
        mode: str = "mixed",
        seed: int | None = None,
        hole_fraction: Sequence[float] = (0.05, 0.5),
        bbox_options: dict | None = None,
        **mask_options: Any,
    ) -> None:
        if mode not in MASK_MODES:
            raise ValueError(f"GenerateMask: unknown mode {mode!r}; choose one of {list(MASK_MODES)}")
        self.mode = mode
        self.seed = seed
        self.hole_fraction = tuple(hole_fraction)
        self.bbox_options = dict(bbox_options or {})
        self.mask_options = mask_options

    def transform(self, results: dict) -> dict:
        shape = _require(results, "img", "GenerateMask").shape[:2]
        results["mask"] = random_mask(
            shape,
            _seeded_rng(self.seed, results),
            mode=self.mode,
            hole_fraction=self.hole_fraction,
            bbox_options=self.bbox_options,
            **self.mask_options,
        )
        return results


# ---- copying and geometry ---------------------------------------------------------------------------------
@TRANSFORMS.register()
class CopyValues(BaseTransform):
    """Copy ``results[src]`` into ``results[dst]`` for each pair (arrays are copied, not shared).

    Example: ``CopyValues(src_keys=["img"], dst_keys=["gt"])`` before degrading ``img``.
    """

    def __init__(self, src_keys: Sequence[str], dst_keys: Sequence[str]) -> None:
        if isinstance(src_keys, str) or isinstance(dst_keys, str):
            raise TypeError("CopyValues: src_keys and dst_keys are lists of keys, e.g. ['img']")
        if len(src_keys) != len(dst_keys):
            raise ValueError(f"CopyValues: {len(src_keys)} src_keys for {len(dst_keys)} dst_keys")
        self.src_keys = list(src_keys)
        self.dst_keys = list(dst_keys)

    def transform(self, results: dict) -> dict:
        for src, dst in zip(self.src_keys, self.dst_keys):
            value = _require(results, src, "CopyValues")
            results[dst] = value.copy() if isinstance(value, np.ndarray) else value
            _set_shape(results, dst)
        return results


def mod_crop(img: np.ndarray, scale: int) -> np.ndarray:
    """The top-left ``(h - h % scale, w - w % scale)`` of ``img`` (MMagic's ``ModCrop``)."""
    height, width = img.shape[:2]
    return img[: height - height % scale, : width - width % scale]


@TRANSFORMS.register()
class ModCrop(BaseTransform):
    """Crop ``results[key]`` to a multiple of ``scale`` on both axes, keeping the top-left corner.

    Args:
        scale: the super-resolution factor.
        key: the image to crop (``gt`` for a GT that an LQ was down-sampled from).
    """

    def __init__(self, scale: int, key: str = "gt") -> None:
        if int(scale) < 1:
            raise ValueError(f"ModCrop: scale must be >= 1, got {scale}")
        self.scale = int(scale)
        self.key = key

    def transform(self, results: dict) -> dict:
        results[self.key] = mod_crop(_require(results, self.key, "ModCrop"), self.scale)
        _set_shape(results, self.key)
        return results


@TRANSFORMS.register()
class PairedRandomCrop(BaseTransform):
    """Aligned random crops of an LQ image and its GT (MMagic's ``PairedRandomCrop``).

    The LQ patch is ``gt_patch_size // scale`` pixels at (top, left) in the LQ, drawn uniformly; the GT
    patch is ``gt_patch_size`` at (scale * top, scale * left). A ``mask`` of the GT's size (if any) is
    cropped with the GT.

    Args:
        gt_patch_size: GT patch size, a multiple of ``scale``.
        scale: GT size / LQ size.
        lq_key: the LQ image's key.
        gt_key: the GT image's key.

    Raises:
        ValueError: the GT is not exactly ``scale`` times the LQ, or the LQ is smaller than the patch
            (naming both paths and shapes).
    """

    def __init__(self, gt_patch_size: int, scale: int, lq_key: str = "img", gt_key: str = "gt") -> None:
        if gt_patch_size % scale:
            raise ValueError(
                f"PairedRandomCrop: gt_patch_size {gt_patch_size} is not a multiple of scale {scale}"
            )
        self.gt_patch_size = int(gt_patch_size)
        self.scale = int(scale)
        self.lq_key = lq_key
        self.gt_key = gt_key

    def transform(self, results: dict) -> dict:
        lq = _require(results, self.lq_key, "PairedRandomCrop")
        gt = _require(results, self.gt_key, "PairedRandomCrop")
        (lq_h, lq_w), (gt_h, gt_w) = lq.shape[:2], gt.shape[:2]
        if (gt_h, gt_w) != (lq_h * self.scale, lq_w * self.scale):
            raise ValueError(
                f"PairedRandomCrop: the GT {self.gt_key!r} is {(gt_h, gt_w)} but the LQ {self.lq_key!r} is "
                f"{(lq_h, lq_w)}; with scale {self.scale} the GT must be {(lq_h * self.scale, lq_w * self.scale)} "
                f"({_paths(results)})"
            )
        lq_patch = self.gt_patch_size // self.scale
        if lq_h < lq_patch or lq_w < lq_patch:
            raise ValueError(
                f"PairedRandomCrop: the LQ {(lq_h, lq_w)} is smaller than the LQ patch {lq_patch} "
                f"({_paths(results)})"
            )
        top = np.random.randint(0, lq_h - lq_patch + 1)
        left = np.random.randint(0, lq_w - lq_patch + 1)
        results[self.lq_key] = lq[top : top + lq_patch, left : left + lq_patch]
        gt_top, gt_left, size = top * self.scale, left * self.scale, self.gt_patch_size
        results[self.gt_key] = gt[gt_top : gt_top + size, gt_left : gt_left + size]
        mask = results.get("mask")
        if mask is not None and mask.shape[:2] == (gt_h, gt_w):
            results["mask"] = mask[gt_top : gt_top + size, gt_left : gt_left + size]
        _set_shape(results, self.lq_key)
        _set_shape(results, self.gt_key)
        return results


def _to_keys(keys: str | Sequence[str]) -> list[str]:
    return [keys] if isinstance(keys, str) else list(keys)


def _apply(value: Any, function) -> Any:
    """Apply ``function`` to an array or to each array of a list (MMagic's frame lists)."""
    if isinstance(value, (list, tuple)):
        return [function(v) for v in value]
    return function(value)


@TRANSFORMS.register()
class EditFlip(BaseTransform):
    """Flip all ``keys`` together with probability ``flip_ratio`` (MMagic's ``Flip``).

    Sets ``flip`` (bool) and ``flip_direction``.

    Args:
        keys: the images (and masks) to flip.
        flip_ratio: the probability of flipping.
        direction: ``horizontal`` (left-right) or ``vertical`` (up-down).
    """

    def __init__(
        self, keys: str | Sequence[str], flip_ratio: float = 0.5, direction: str = "horizontal"
    ) -> None:
        if direction not in ("horizontal", "vertical"):
            raise ValueError(f"EditFlip: direction must be 'horizontal' or 'vertical', got {direction!r}")
        self.keys = _to_keys(keys)
        self.flip_ratio = flip_ratio
        self.direction = direction

    def transform(self, results: dict) -> dict:
        flip = bool(np.random.rand() < self.flip_ratio)
        if flip:
            axis = 1 if self.direction == "horizontal" else 0
            for key in self.keys:
                results[key] = _apply(_require(results, key, "EditFlip"), lambda a: np.flip(a, axis=axis))
        results["flip"] = flip
        results["flip_direction"] = self.direction
        return results


@TRANSFORMS.register()
class RandomTransposeHW(BaseTransform):
    """Swap the height and width axes of all ``keys`` together with probability ``transpose_ratio``.

    Sets ``transpose`` (bool) and updates ``img_shape`` / ``gt_shape``.
    """

    def __init__(self, keys: str | Sequence[str], transpose_ratio: float = 0.5) -> None:
        self.keys = _to_keys(keys)
        self.transpose_ratio = transpose_ratio

    def transform(self, results: dict) -> dict:
        transpose = bool(np.random.rand() < self.transpose_ratio)
        if transpose:
            for key in self.keys:
                results[key] = _apply(
                    _require(results, key, "RandomTransposeHW"), lambda a: np.swapaxes(a, 0, 1)
                )
                _set_shape(results, key)
        results["transpose"] = transpose
        return results


@TRANSFORMS.register()
class EditRandomCrop(BaseTransform):
    """The same random window on all ``keys`` (e.g. ``img``, ``gt`` and ``mask``; MMagic's ``Crop`` with
    ``random_crop=True``; named apart from the detection ``RandomCrop``).

    Args:
        keys: the arrays to crop; all must have the same (H, W).
        crop_size: (h, w) or one value.

    Raises:
        ValueError: the arrays differ in size or are smaller than the crop (naming the paths).
    """

    def __init__(self, keys: str | Sequence[str], crop_size: int | Sequence[int]) -> None:
        self.keys = _to_keys(keys)
        self.crop_size = (
            (int(crop_size), int(crop_size)) if np.isscalar(crop_size) else tuple(map(int, crop_size))
        )

    def transform(self, results: dict) -> dict:
        shapes = {key: tuple(_require(results, key, "EditRandomCrop").shape[:2]) for key in self.keys}
        if len(set(shapes.values())) > 1:
            raise ValueError(f"EditRandomCrop: the keys differ in size {shapes} ({_paths(results)})")
        height, width = next(iter(shapes.values()))
        crop_h, crop_w = self.crop_size
        if height < crop_h or width < crop_w:
            raise ValueError(
                f"EditRandomCrop: the image {(height, width)} is smaller than the crop {self.crop_size} "
                f"({_paths(results)})"
            )
        top = np.random.randint(0, height - crop_h + 1)
        left = np.random.randint(0, width - crop_w + 1)
        for key in self.keys:
            results[key] = results[key][top : top + crop_h, left : left + crop_w]
            _set_shape(results, key)
        results["crop_bbox"] = (left, top, left + crop_w, top + crop_h)
        return results


# ---- degradations ----------------------------------------------------------------------------------------
@TRANSFORMS.register()
class MatlabDownsample(BaseTransform):
    """``results[key] = imresize(mod_crop(results[key], scale), 1 / scale)``: MATLAB-bicubic down-sampling
    (see :func:`.degradations.imresize`), of the top-left multiple of ``scale`` so that the LQ is exactly
    1/scale of a GT mod-cropped by :class:`ModCrop` (uint8 in -> uint8 out, rounded as MATLAB).

    Typical pipeline: ``CopyValues(["img"], ["gt"]), ModCrop(scale, key="gt"), MatlabDownsample(scale)``.
    """

    def __init__(self, scale: int, key: str = "img") -> None:
        if int(scale) < 1:
            raise ValueError(f"MatlabDownsample: scale must be >= 1, got {scale}")
        self.scale = int(scale)
        self.key = key

    def transform(self, results: dict) -> dict:
        img = mod_crop(_require(results, self.key, "MatlabDownsample"), self.scale)
        results[self.key] = imresize(img, 1.0 / self.scale)
        _set_shape(results, self.key)
        return results


def _draw(value: float | Sequence[float], rng: np.random.Generator) -> float:
    """One value, or uniform in a (low, high) range."""
    if np.isscalar(value):
        return float(value)
    low, high = value
    return float(rng.uniform(low, high))


@TRANSFORMS.register()
class AddGaussianNoise(BaseTransform):
    """``results[key] += sigma * N(0, 1)``, float32 in 0..255 units, not clipped nor rounded.

    Args:
        sigma: the noise level in grey levels (25 = the usual sigma 25 benchmark), or a (low, high)
            range drawn uniformly per sample (blind denoising).
        key: the image to degrade.
        seed: None: new noise at every call (training). An int: sample ``sample_idx``'s noise (and
            sigma) come from ``numpy.random.default_rng(seed + sample_idx)`` (fixed validation noise).
        quantize: round and clip the noisy image to 8 bits, as a noisy image saved to a PNG file is (the
            synthetic denoising test inputs are such files).
    """

    def __init__(
        self,
        sigma: float | Sequence[float],
        key: str = "img",
        seed: int | None = None,
        quantize: bool = False,
    ) -> None:
        self.sigma = sigma if np.isscalar(sigma) else tuple(sigma)
        self.key = key
        self.seed = seed
        self.quantize = quantize

    def transform(self, results: dict) -> dict:
        rng = _seeded_rng(self.seed, results)
        img = _require(results, self.key, "AddGaussianNoise")
        noisy = add_gaussian_noise(img, _draw(self.sigma, rng), rng)
        results[self.key] = round_to_uint8(noisy) if self.quantize else noisy
        return results


@TRANSFORMS.register()
class RandomBlur(BaseTransform):
    """Gaussian blur of ``results[key]`` with sigma uniform in ``sigma_range`` (reflect borders, see
    :func:`.degradations.gaussian_blur`; the dtype is kept)."""

    def __init__(self, sigma_range: Sequence[float] = (0.2, 3.0), key: str = "img") -> None:
        self.sigma_range = tuple(sigma_range)
        self.key = key

    def transform(self, results: dict) -> dict:
        sigma = float(np.random.uniform(*self.sigma_range))
        results[self.key] = gaussian_blur(_require(results, self.key, "RandomBlur"), sigma)
        results["blur_sigma"] = sigma
        return results


@TRANSFORMS.register()
class RandomJPEG(BaseTransform):
    """JPEG round trip of ``results[key]`` at an integer quality uniform in ``quality_range`` (both ends
    included); uint8 out."""

    def __init__(self, quality_range: Sequence[int] = (30, 95), key: str = "img") -> None:
        self.quality_range = tuple(int(q) for q in quality_range)
        self.key = key

    def transform(self, results: dict) -> dict:
        quality = int(np.random.randint(self.quality_range[0], self.quality_range[1] + 1))
        results[self.key] = jpeg_compress(_require(results, self.key, "RandomJPEG"), quality)
        results["jpeg_quality"] = quality
        return results


# ---- packing ------------------------------------------------------------------------------------------
def _uint8_tensor(img: np.ndarray) -> torch.Tensor:
    """(H, W[, C]) -> contiguous uint8 (C, H, W); float images are rounded (half away from zero) and clipped."""
    if img.dtype != np.uint8:
        img = round_to_uint8(img)
    return image_to_tensor(img).contiguous()


@TRANSFORMS.register()
class PackEditInputs(BasePackInputs):
    """``{"inputs": (C, H, W) tensor, "data_samples": DataSample}`` for image editing.

    ``inputs`` from ``img``: uint8 stays uint8, a float image becomes float32 (noisy images, unclipped);
    (H, W) images become (1, H, W). The sample gets ``gt_img = PixelData(data=(C, H, W) uint8)`` from
    ``gt`` and ``mask = PixelData(data=(1, H, W) uint8)`` from ``mask`` when present.

    Args:
        meta_keys: results keys copied into the metainfo (missing ones are skipped).
    """

    missing_img_advice = "put LoadImage first"

    def __init__(self, meta_keys: Sequence[str] = EDIT_META_KEYS) -> None:
        super().__init__(meta_keys)

    def transform(self, results: dict) -> dict:
        img = _require(results, "img", "PackEditInputs")
        if img.dtype != np.uint8 and img.dtype != np.float32:
            results = {**results, "img": img.astype(np.float32)}
        return super().transform(results)

    def pack_annotations(self, results: dict, sample: DataSample) -> None:
        if results.get("gt") is not None:
            sample.gt_img = PixelData(data=_uint8_tensor(results["gt"]))
        if results.get("mask") is not None:
            mask = np.asarray(results["mask"])
            if mask.ndim != 2:
                raise ValueError(
                    f"PackEditInputs: the mask must be (H, W), got {mask.shape} ({_paths(results)})"
                )
            sample.mask = PixelData(data=torch.from_numpy((mask != 0).astype(np.uint8)[None].copy()))
