"""Full-reference image metrics of image editing: PSNR, SSIM, MAE and MSE, with MMagic's names and options.

The functions take two images in 0..255 units (uint8 or float; NumPy arrays or tensors), ``HWC`` or
``CHW``, and compute in float64:

- **border crop**: ``crop_border`` pixels are removed from every edge first (SR papers crop the scale).
- **Y channel** (``convert_to="Y"``): the luma of MATLAB's ``rgb2ycbcr`` (:mod:`.color`), float, not
  rounded, computed from the channel order given (``channel_order="bgr"``: OpenCV images, as everywhere
  in visionstack). The conversion comes before the crop, as in MMagic.
- **PSNR** = ``10 log10(255^2 / MSE)``, the MSE over every pixel and channel left (or, with ``mask``, over
  the mask's pixels, all channels). Two identical images give ``float("inf")`` (as MMagic and
  scikit-image); the dataset average is then inf too.
- **SSIM** (Wang et al. 2004, the authors' MATLAB ``ssim_index``): local statistics under an 11 x 11
  Gaussian window of sigma 1.5 (the separable normalised kernel ``exp(-x^2 / 2 sigma^2)``, x = -5..5),
  ``C1 = (0.01 L)^2``, ``C2 = (0.03 L)^2``, ``L = 255``, population (co)variances
  ``E[xy] - E[x] E[y]`` (normalised by N, not N - 1); the SSIM map is kept where the window lies inside
  the image only (MATLAB's ``filter2(..., 'valid')``: the map is 10 pixels smaller in each dimension,
  no padding ever enters), averaged, then averaged over the channels. MMagic (``cv2.filter2D`` then
  ``[5:-5, 5:-5]``) gives the same. ``skimage.metrics.structural_similarity(gaussian_weights=True,
  sigma=1.5, use_sample_covariance=False, data_range=255)`` gives the same too: its window is truncated at
  3.5 sigma, radius ``int(3.5 * 1.5 + 0.5) = 5`` (11 taps, the same weights), and although it filters with
  reflected borders it averages the map after cropping ``(11 - 1) // 2 = 5`` pixels from each edge,
  exactly the values that never saw the padding. Images smaller than 11 x 11 (after the crop) are an
  error.
- **MAE** / **MSE** (MMagic's ``MAE`` / ``MSE``): on values scaled to 0..1 (``/ 255``), over every element,
  or with ``mask`` over the mask's pixels, all channels (the mean over the selected elements; note MMagic's
  masked ``MSE`` divides by the mask's pixel count without the channel count, C times our value, while
  its ``MAE`` divides by both, as we do for both).

A ``mask`` is (H, W) (or (1, H, W) / (H, W, 1)), non-zero = the pixels scored (for inpainting: the holes).

The metric classes (:class:`PSNR`, :class:`SSIM`, :class:`MAE`, :class:`MSE`, registered in ``METRICS``)
compare each sample's ``pred_img.data`` with ``gt_img.data`` (uint8 (C, H, W) BGR tensors), one value per
image, and report the mean over the images (MMagic averages the per-image PSNR; a dataset-level MSE would
weigh large images more). Keys: ``PSNR``, ``SSIM``, ``MAE``, ``MSE`` (``prefix/PSNR`` with a prefix).
"""

from __future__ import annotations

from abc import abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import cv2
import numpy as np

from visionstack.evaluation import BaseMetric
from visionstack.registry import METRICS
from visionstack.structures import BaseDataElement

from .color import bgr2ycbcr, rgb2ycbcr

__all__ = [
    "MAE",
    "BaseSampleWiseMetric",
    "MSE",
    "PSNR",
    "SSIM",
    "gaussian_window",
    "mae",
    "mse",
    "pixel_array",
    "prepare_image",
    "psnr",
    "ssim",
    "ssim_map",
]

INPUT_ORDERS = ("HWC", "CHW")
CHANNEL_ORDERS = ("bgr", "rgb")
DATA_RANGE = 255.0
SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1, SSIM_K2 = 0.01, 0.03


# ---- preparing images ---------------------------------------------------------------------------------
def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _check_options(crop_border: int, input_order: str, convert_to: str | None, channel_order: str) -> None:
    if input_order not in INPUT_ORDERS:
        raise ValueError(f"input_order must be one of {INPUT_ORDERS}, got {input_order!r}")
    if channel_order.lower() not in CHANNEL_ORDERS:
        raise ValueError(f"channel_order must be one of {CHANNEL_ORDERS}, got {channel_order!r}")
    if convert_to is not None and str(convert_to).upper() != "Y":
        raise ValueError(f"convert_to must be None or 'Y', got {convert_to!r}")
    if isinstance(crop_border, bool) or not isinstance(crop_border, (int, np.integer)) or crop_border < 0:
        raise ValueError(f"crop_border must be an integer >= 0, got {crop_border!r}")


def prepare_image(
    img: Any,
    crop_border: int = 0,
    input_order: str = "HWC",
    convert_to: str | None = None,
    channel_order: str = "bgr",
) -> np.ndarray:
    """The float64 (H', W', C') image the metrics compare: reordered to HWC, converted, border-cropped.

    Args:
        img: (H, W), (H, W, C) or (C, H, W) in 0..255 units (array or tensor).
        crop_border: pixels removed from each edge (after the conversion).
        input_order: ``"HWC"`` or ``"CHW"`` (an (H, W) image is either).
        convert_to: None, or ``"Y"`` (3-channel images only) for the BT.601 luma (C' = 1).
        channel_order: ``"bgr"`` or ``"rgb"``, for the Y conversion.

    Raises:
        ValueError: bad options, a Y conversion of a non-3-channel image, or a crop that leaves nothing.
    """
    _check_options(crop_border, input_order, convert_to, channel_order)
    array = _numpy(img)
    if array.ndim == 2:
        array = array[..., None]
    elif array.ndim != 3:
        raise ValueError(f"expected an (H, W) or 3-D {input_order} image, got shape {array.shape}")
    elif input_order == "CHW":
        array = array.transpose(1, 2, 0)
    array = array.astype(np.float64)
    if convert_to is not None:
        if array.shape[2] != 3:
            raise ValueError(
                f"convert_to='Y' needs a 3-channel colour image, got {array.shape[2]} channel(s) "
                f"(shape {array.shape} as HWC); use convert_to=None for grayscale images"
            )
        convert = bgr2ycbcr if channel_order.lower() == "bgr" else rgb2ycbcr
        array = convert(array, y_only=True)[..., None]
    if crop_border:
        height, width = array.shape[:2]
        if 2 * crop_border >= min(height, width):
            raise ValueError(f"crop_border {crop_border} leaves nothing of a {height} x {width} image")
        array = array[crop_border:-crop_border, crop_border:-crop_border]
    return array


def _prepare_mask(mask: Any, shape: tuple[int, ...], crop_border: int, input_order: str) -> np.ndarray:
    """A (H', W', 1) boolean mask (non-zero = scored), cropped as the images are."""
    array = _numpy(mask)
    if array.ndim == 3:
        if input_order == "CHW" and array.shape[0] == 1:
            array = array[0]
        elif array.shape[2] == 1:
            array = array[..., 0]
        elif array.shape[0] == 1:
            array = array[0]
    if array.ndim != 2:
        raise ValueError(f"mask must be (H, W), (1, H, W) or (H, W, 1), got shape {_numpy(mask).shape}")
    if crop_border:
        array = array[crop_border:-crop_border, crop_border:-crop_border]
    if array.shape != shape[:2]:
        raise ValueError(f"mask of size {array.shape} for images of size {shape[:2]} (after the crop)")
    selected = array != 0
    if not selected.any():
        raise ValueError("the mask selects no pixel: the masked metric is undefined")
    return selected[..., None]


def _pair(
    pred: Any, gt: Any, crop_border: int, input_order: str, convert_to: str | None, channel_order: str
) -> tuple[np.ndarray, np.ndarray]:
    pred_shape, gt_shape = tuple(_numpy(pred).shape), tuple(_numpy(gt).shape)
    if pred_shape != gt_shape:
        raise ValueError(f"the prediction has shape {pred_shape} but the ground truth {gt_shape}")
    options = (crop_border, input_order, convert_to, channel_order)
    return prepare_image(pred, *options), prepare_image(gt, *options)


def _masked_mean(values: np.ndarray, mask: np.ndarray | None) -> float:
    """The mean of (H, W, C) values over all elements, or over the mask's pixels (all channels)."""
    if mask is None:
        return float(values.mean())
    selected = np.broadcast_to(mask, values.shape)
    return float(values[selected].mean())


# ---- the metrics as functions -------------------------------------------------------------------------
def psnr(
    pred: Any,
    gt: Any,
    crop_border: int = 0,
    convert_to: str | None = None,
    input_order: str = "HWC",
    channel_order: str = "bgr",
    mask: Any = None,
) -> float:
    """Peak signal-to-noise ratio in dB, data range 255 (see the module docstring).

    Args:
        pred, gt: images of the same shape, 0..255 units.
        crop_border, convert_to, input_order, channel_order: see :func:`prepare_image`.
        mask: optional (H, W) mask, non-zero = the pixels scored.

    Returns:
        The PSNR, ``float("inf")`` when the (selected) pixels are equal.
    """
    pred64, gt64 = _pair(pred, gt, crop_border, input_order, convert_to, channel_order)
    selected = None if mask is None else _prepare_mask(mask, pred64.shape, crop_border, input_order)
    error = _masked_mean((pred64 - gt64) ** 2, selected)
    if error == 0:
        return float("inf")
    return float(10.0 * np.log10(DATA_RANGE**2 / error))


def mse(pred: Any, gt: Any, mask: Any = None, input_order: str = "HWC") -> float:
    """Mean squared error of the images scaled to 0..1 (MMagic's ``MSE``), optionally over a mask's pixels."""
    pred64, gt64 = _pair(pred, gt, 0, input_order, None, "bgr")
    selected = None if mask is None else _prepare_mask(mask, pred64.shape, 0, input_order)
    return _masked_mean(((pred64 - gt64) / DATA_RANGE) ** 2, selected)


def mae(pred: Any, gt: Any, mask: Any = None, input_order: str = "HWC") -> float:
    """Mean absolute error of the images scaled to 0..1 (MMagic's ``MAE``), optionally over a mask's pixels."""
    pred64, gt64 = _pair(pred, gt, 0, input_order, None, "bgr")
    selected = None if mask is None else _prepare_mask(mask, pred64.shape, 0, input_order)
    return _masked_mean(np.abs(pred64 - gt64) / DATA_RANGE, selected)


def gaussian_window(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    """The (size,) float64 normalised Gaussian ``exp(-x^2 / 2 sigma^2)``, x centred (``cv2.getGaussianKernel``)."""
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2
    weights = np.exp(-(offsets**2) / (2.0 * sigma**2))
    return weights / weights.sum()


def _valid_filter(channel: np.ndarray, kernel: np.ndarray) -> np.ndarray:
    """The separable correlation of a float64 (H, W) channel with ``kernel`` where it lies inside (no padding)."""
    radius = (kernel.size - 1) // 2
    # the border mode only fills what is cropped next: the kept values never touch it
    filtered = cv2.sepFilter2D(channel, cv2.CV_64F, kernel, kernel, borderType=cv2.BORDER_REFLECT)
    return filtered[radius:-radius, radius:-radius]


def ssim_map(pred: np.ndarray, gt: np.ndarray) -> np.ndarray:
    """The SSIM map of two float64 (H, W) channels in 0..255: (H - 10, W - 10), the 'valid' windows.

    Raises:
        ValueError: a channel smaller than the 11 x 11 window.
    """
    if min(pred.shape) < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW} x {SSIM_WINDOW}, got {pred.shape}")
    kernel = gaussian_window()
    c1, c2 = (SSIM_K1 * DATA_RANGE) ** 2, (SSIM_K2 * DATA_RANGE) ** 2
    mu_x, mu_y = _valid_filter(pred, kernel), _valid_filter(gt, kernel)
    var_x = _valid_filter(pred * pred, kernel) - mu_x**2
    var_y = _valid_filter(gt * gt, kernel) - mu_y**2
    cov_xy = _valid_filter(pred * gt, kernel) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov_xy + c2)
    return numerator / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))


def ssim(
    pred: Any,
    gt: Any,
    crop_border: int = 0,
    convert_to: str | None = None,
    input_order: str = "HWC",
    channel_order: str = "bgr",
) -> float:
    """Structural similarity (Wang et al. 2004; see the module docstring), averaged over the channels.

    Args:
        pred, gt: images of the same shape, 0..255 units.
        crop_border, convert_to, input_order, channel_order: see :func:`prepare_image`.
    """
    pred64, gt64 = _pair(pred, gt, crop_border, input_order, convert_to, channel_order)
    values = [ssim_map(pred64[..., c], gt64[..., c]).mean() for c in range(pred64.shape[2])]
    return float(np.mean(values))


# ---- the metrics as classes ---------------------------------------------------------------------------
def _pixels(sample: Any, key: str, index: int, owner: str) -> np.ndarray:
    """The array of ``sample[key]``: a PixelData's ``data`` (or a ``{"data": ...}`` dict, or the array)."""
    value = sample.get(key) if hasattr(sample, "get") else getattr(sample, key, None)
    if value is None:
        raise KeyError(
            f"{owner}: data_samples[{index}] has no {key}; the metric compares pred_img.data with "
            "gt_img.data (uint8 (C, H, W) BGR), as a restoration model's predict mode returns them"
        )
    array = pixel_array(value)
    if array is None:
        raise KeyError(f"{owner}: data_samples[{index}].{key} has no data")
    return array


def pixel_array(value: Any) -> np.ndarray | None:
    """The NumPy array of a sample field: a PixelData's ``data``, a ``{"data": ...}`` dict's, or the
    array / tensor itself (None when a PixelData or dict has no ``data``)."""
    if isinstance(value, (BaseDataElement, Mapping)):
        value = value.get("data")
    return None if value is None else _numpy(value)


class BaseSampleWiseMetric(BaseMetric):
    """One value per image (``score``), averaged over the images; MMagic's ``BaseSampleWiseMetric``."""

    metric = ""
    default_prefix = None

    def __init__(
        self,
        gt_key: str = "gt_img",
        pred_key: str = "pred_img",
        mask_key: str | None = None,
        input_order: str = "CHW",
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if input_order not in INPUT_ORDERS:
            raise ValueError(f"{type(self).__name__}: input_order must be one of {INPUT_ORDERS}")
        self.gt_key, self.pred_key, self.mask_key = gt_key, pred_key, mask_key
        self.input_order = input_order
        self.channel_order = "bgr"  # visionstack's images (and MMagic's metrics) are BGR

    @abstractmethod
    def score(self, pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None) -> float:
        """The metric of one image (arrays as the sample holds them, ``input_order``)."""

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        owner = type(self).__name__
        for index, sample in enumerate(data_samples):
            gt = _pixels(sample, self.gt_key, index, owner)
            pred = _pixels(sample, self.pred_key, index, owner)
            mask = None if self.mask_key is None else _pixels(sample, self.mask_key, index, owner)
            try:
                if gt.ndim == 4:  # a clip or a batch in one sample: the mean over its frames (MMagic)
                    frames = [
                        self.score(pred[i], gt[i], None if mask is None else mask[i]) for i in range(len(gt))
                    ]
                    value = float(np.mean(frames))
                else:
                    value = self.score(pred, gt, mask)
            except ValueError as error:
                path = (sample.get("gt_path") or sample.get("img_path")) if hasattr(sample, "get") else None
                raise ValueError(f"{owner}: data_samples[{index}] ({path or 'no path'}): {error}") from error
            self.results.append({self.metric: value})

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        return {self.metric: float(np.mean([record[self.metric] for record in results]))}


class _CroppedMetric(BaseSampleWiseMetric):
    def __init__(
        self,
        gt_key: str = "gt_img",
        pred_key: str = "pred_img",
        crop_border: int = 0,
        input_order: str = "CHW",
        convert_to: str | None = None,
        mask_key: str | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(gt_key, pred_key, mask_key, input_order, collect_device, prefix)
        _check_options(crop_border, input_order, convert_to, self.channel_order)
        self.crop_border, self.convert_to = int(crop_border), convert_to


@METRICS.register()
class PSNR(_CroppedMetric):
    """The mean over the images of :func:`psnr` (key ``PSNR``).

    Args:
        gt_key, pred_key: the sample fields compared (PixelData, ``.data`` uint8 (C, H, W) BGR).
        crop_border: pixels removed from each edge (SR: the scale).
        input_order: ``"CHW"`` (the data samples') or ``"HWC"``.
        convert_to: None (all channels) or ``"Y"`` (BT.601 luma, see :mod:`.color`).
        mask_key: None, or the field holding a (1, H, W) mask whose non-zero pixels alone are scored
            (``"mask"``: PSNR inside the inpainting holes).
        collect_device, prefix: see :class:`~visionstack.evaluation.BaseMetric`.
    """

    metric = "PSNR"

    def score(self, pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None) -> float:
        options = (self.crop_border, self.convert_to, self.input_order, self.channel_order)
        return psnr(pred, gt, *options, mask=mask)


@METRICS.register()
class SSIM(_CroppedMetric):
    """The mean over the images of :func:`ssim` (key ``SSIM``); arguments as :class:`PSNR` (no mask)."""

    metric = "SSIM"

    def __init__(
        self,
        gt_key: str = "gt_img",
        pred_key: str = "pred_img",
        crop_border: int = 0,
        input_order: str = "CHW",
        convert_to: str | None = None,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(gt_key, pred_key, crop_border, input_order, convert_to, None, collect_device, prefix)

    def score(self, pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None) -> float:
        return ssim(pred, gt, self.crop_border, self.convert_to, self.input_order, self.channel_order)


@METRICS.register()
class MAE(BaseSampleWiseMetric):
    """The mean over the images of :func:`mae` (0..1 scale; key ``MAE``).

    Args:
        gt_key, pred_key, mask_key, input_order, collect_device, prefix: as :class:`PSNR`.
    """

    metric = "MAE"

    def score(self, pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None) -> float:
        return mae(pred, gt, mask=mask, input_order=self.input_order)


@METRICS.register()
class MSE(BaseSampleWiseMetric):
    """The mean over the images of :func:`mse` (0..1 scale; key ``MSE``); arguments as :class:`MAE`."""

    metric = "MSE"

    def score(self, pred: np.ndarray, gt: np.ndarray, mask: np.ndarray | None) -> float:
        return mse(pred, gt, mask=mask, input_order=self.input_order)
