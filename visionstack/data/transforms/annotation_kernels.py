"""Annotation kernels: how each kind of annotation follows a geometric transform of the image.

A geometric transform (``Resize``, ``RandomFlip``, ``RandomCrop``, ``Pad``, ``RandomAffine`` ...)
describes what it does to the image once, as an *operation*: :class:`FlipOp`, :class:`ResizeOp`,
:class:`CropOp`, :class:`PadOp` or :class:`WarpOp`. :func:`apply_geometry` then hands the operation
to the *kernel* registered for every key the results dict holds, so one transform moves the image,
boxes, masks, maps, keypoints, polygons (and whatever a later task family registers) together.
Adding a kind of annotation is :func:`register_annotation_kernel`, never an edit of the transforms.

Coordinate convention of every kernel (the one of ``gt_bboxes`` and
:mod:`visionstack.structures.masks`): continuous pixel coordinates, pixel ``(row, col)`` covers
``[col, col + 1) x [row, row + 1)``, so an image of width W spans x in [0, W] and the centre of
pixel ``(row, col)`` is ``(col + 0.5, row + 0.5)``. In these coordinates

* a flip maps x to ``W - x`` (horizontal), y to ``H - y`` (vertical), or both (diagonal);
* a resize by ``scale = (sx, sy)`` maps (x, y) to ``(sx * x, sy * y)``;
* a crop of the window ``(x1, y1, x2, y2)`` maps (x, y) to ``(x - x1, y - y1)``;
* a pad that places the image at ``offset = (left, top)`` maps (x, y) to ``(x + left, y + top)``;
* a warp maps the homogeneous point ``(x, y, 1)`` through its (3, 3) matrix.

Raster kernels (images, maps, bitmap masks) convert to OpenCV's pixel-index coordinates (centres
at integers) themselves, so a point annotation at a pixel's centre stays on that pixel.

Built-in kernels (registered by :mod:`.raster_kernels` and :mod:`.coordinate_kernels`):

==========================  ==========================================================================
``img``                     (H, W) or (H, W, C) image; interpolated, padded with ``pad_val["img"]``
``gt_bboxes``               (N, 4) float32 x1 y1 x2 y2, absolute pixels, clipped to the image
``gt_masks``                :class:`~visionstack.structures.BitmapMasks` / ``PolygonMasks`` of N instances
``gt_seg_map``              (H, W) class indices; nearest neighbour, padded with ``pad_val["seg"]`` (255)
``gt_keypoints``            (N, K, 2) float32 x y with ``gt_keypoints_visible`` (N, K); a mirror swaps
                            left and right by the results' ``flip_indices``; points that leave the
                            image become invisible
``gt_polygons``             a list of N (P, 2) float arrays (text regions), clipped to the image
==========================  ==========================================================================
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any, NamedTuple

import numpy as np

__all__ = [
    "FLIP_DIRECTIONS",
    "PAD_VALUES",
    "INSTANCE_KEYS",
    "AnnotationKernel",
    "SequenceKernel",
    "FlipOp",
    "ResizeOp",
    "CropOp",
    "PadOp",
    "WarpOp",
    "GeometricOp",
    "register_annotation_kernel",
    "unregister_annotation_kernel",
    "annotation_kernels",
    "apply_geometry",
    "image_size",
    "keep_instances",
    "pad_value_keys",
]

FLIP_DIRECTIONS = ("horizontal", "vertical", "diagonal")

# Default fill of the pad and warp operations, by the kernels' ``pad_val_key``.
PAD_VALUES: Mapping[str, Any] = MappingProxyType({"img": 0, "seg": 255, "masks": 0})

# The per-instance keys of detection, always of one length and order (the labels and flags have no
# geometry, so they have no kernel; boxes and masks also have kernels).
INSTANCE_KEYS = ("gt_bboxes", "gt_bboxes_labels", "gt_ignore_flags", "gt_masks")


# ---- operations ---------------------------------------------------------------------------------
# Named tuples: a transform makes one per call, and they are several times cheaper to build than
# frozen dataclasses (the detection pipeline must not get slower for the indirection).
class FlipOp(NamedTuple):
    """Mirror in ``direction`` (``horizontal``, ``vertical`` or ``diagonal``); ``size`` is the image's (w, h)."""

    direction: str
    size: tuple[int, int]
    method = "flip"


class ResizeOp(NamedTuple):
    """Resize to ``size = (w, h)``; ``scale = (new_w / old_w, new_h / old_h)``.

    ``interpolation`` is the image's (``nearest, bilinear, bicubic, area, lanczos``); maps and
    masks always use nearest neighbour. ``clip_boxes``: boxes are clipped to the new image (False keeps
    whole-extent boxes of truncated objects, MMDetection's ``clip_object_border=False``).
    """

    size: tuple[int, int]
    scale: tuple[float, float]
    interpolation: str = "bilinear"
    clip_boxes: bool = True
    method = "resize"


class CropOp(NamedTuple):
    """Keep the integer window ``(x1, y1, x2, y2)`` (inside the image; x2 and y2 exclusive)."""

    window: tuple[int, int, int, int]
    method = "crop"

    @property
    def size(self) -> tuple[int, int]:
        """The cropped ``(w, h)``."""
        x1, y1, x2, y2 = self.window
        return x2 - x1, y2 - y1


class PadOp(NamedTuple):
    """Place the image at ``offset = (left, top)`` on a canvas of ``size = (w, h)``.

    ``pad_val`` maps a kernel's ``pad_val_key`` (``img``, ``seg``, ``masks`` ...) to its fill value.
    """

    size: tuple[int, int]
    offset: tuple[int, int] = (0, 0)
    pad_val: Mapping[str, Any] = PAD_VALUES
    method = "pad"


class WarpOp(NamedTuple):
    """Warp through ``matrix`` onto a canvas of ``size = (w, h)``.

    ``matrix`` is (3, 3) float64 and maps continuous input coordinates to continuous output
    coordinates (see the module docstring); an affine warp has the last row ``(0, 0, 1)``.
    ``interpolation`` and ``pad_val`` are as in :class:`ResizeOp` and :class:`PadOp`.
    """

    matrix: np.ndarray
    size: tuple[int, int]
    interpolation: str = "bilinear"
    pad_val: Mapping[str, Any] = PAD_VALUES
    method = "warp"

    @property
    def is_affine(self) -> bool:
        """Whether the last row is ``(0, 0, 1)`` (then OpenCV's ``warpAffine`` suffices)."""
        return bool(np.array_equal(self.matrix[2], (0.0, 0.0, 1.0)))

    def project(self, points: np.ndarray) -> np.ndarray:
        """Map (..., 2) continuous coordinates through the matrix; float64 (..., 2)."""
        points = np.asarray(points, dtype=np.float64)
        homogeneous = points @ self.matrix[:, :2].T + self.matrix[:, 2]
        return homogeneous[..., :2] / homogeneous[..., 2:3]

    def pixel_matrix(self) -> np.ndarray:
        """The matrix in OpenCV's pixel-index coordinates (centres at integers): ``T(-0.5) M T(0.5)``."""
        shift = np.array([[1.0, 0.0, 0.5], [0.0, 1.0, 0.5], [0.0, 0.0, 1.0]])
        unshift = np.array([[1.0, 0.0, -0.5], [0.0, 1.0, -0.5], [0.0, 0.0, 1.0]])
        return unshift @ self.matrix @ shift


GeometricOp = FlipOp | ResizeOp | CropOp | PadOp | WarpOp


# ---- the kernel contract -------------------------------------------------------------------------
class AnnotationKernel(abc.ABC):
    """Moves one kind of annotation with the image; one method per geometric operation.

    Every method takes ``(value, op, results)`` and returns the new value of the key it is registered
    under (``results`` is there to read what the operation needs besides the value, such as
    ``flip_indices``). Methods must not modify ``value`` in place (the results dict may share it
    with a cached record); they may write the kernel's ``companions`` keys of ``results`` (a
    keypoint kernel updates the visibility it owns). A malformed value raises ``ValueError`` or
    ``TypeError``; :func:`apply_geometry` prefixes the message with the key.

    Attributes:
        per_instance: the value's first axis (or list position) indexes instances, so
            :func:`keep_instances` selects from it (with :meth:`select`) when instances are dropped.
        companions: other results keys this kernel updates together with its own (indexed with it).
        pad_val_key: the key of ``PadOp.pad_val`` / ``WarpOp.pad_val`` holding this kind's fill
            value (``Pad(pad_val=...)`` accepts it); None when the kind has no fill.
    """

    per_instance: bool = False
    companions: tuple[str, ...] = ()
    pad_val_key: str | None = None

    @abc.abstractmethod
    def flip(self, value: Any, op: FlipOp, results: dict) -> Any:
        """Mirror ``value`` in ``op.direction`` within an image of ``op.size = (w, h)``."""

    @abc.abstractmethod
    def resize(self, value: Any, op: ResizeOp, results: dict) -> Any:
        """Scale ``value`` by ``op.scale`` onto an image of ``op.size``."""

    @abc.abstractmethod
    def crop(self, value: Any, op: CropOp, results: dict) -> Any:
        """Keep the part of ``value`` inside ``op.window``, shifted to its top-left corner."""

    @abc.abstractmethod
    def pad(self, value: Any, op: PadOp, results: dict) -> Any:
        """Place ``value`` at ``op.offset`` on a canvas of ``op.size``."""

    @abc.abstractmethod
    def warp(self, value: Any, op: WarpOp, results: dict) -> Any:
        """Map ``value`` through ``op.matrix`` onto a canvas of ``op.size``."""

    def select(self, value: Any, keep: np.ndarray, results: dict) -> Any:
        """The instances of ``value`` where ``keep`` ((N,) bool) is True (companions too)."""
        for companion in self.companions:
            if results.get(companion) is not None:
                results[companion] = np.asarray(results[companion])[keep]
        return np.asarray(value)[keep]


class SequenceKernel(AnnotationKernel):
    """A list of values of one kind, each moved by ``inner`` (e.g. a clip of frames under ``imgs``).

    ``register_annotation_kernel("imgs", SequenceKernel(ImageKernel()))`` makes every geometric
    transform move each frame of a clip exactly as it moves ``img``. The transforms read the
    image size from ``img`` or, for a sample without one, from ``img_shape``.

    Args:
        inner: the kernel applied to each element.
    """

    def __init__(self, inner: AnnotationKernel) -> None:
        self.inner = inner
        self.pad_val_key = inner.pad_val_key

    def _each(self, method: str, value: Any, op: GeometricOp, results: dict) -> list:
        if isinstance(value, (str, bytes, np.ndarray)) or not isinstance(value, Sequence):
            raise TypeError(f"expected a list of values, got {type(value).__name__}")
        apply = getattr(self.inner, method)
        return [apply(element, op, results) for element in value]

    def flip(self, value: Any, op: FlipOp, results: dict) -> list:
        return self._each("flip", value, op, results)

    def resize(self, value: Any, op: ResizeOp, results: dict) -> list:
        return self._each("resize", value, op, results)

    def crop(self, value: Any, op: CropOp, results: dict) -> list:
        return self._each("crop", value, op, results)

    def pad(self, value: Any, op: PadOp, results: dict) -> list:
        return self._each("pad", value, op, results)

    def warp(self, value: Any, op: WarpOp, results: dict) -> list:
        return self._each("warp", value, op, results)

    def __repr__(self) -> str:
        return f"SequenceKernel({self.inner!r})"


# ---- the registry ---------------------------------------------------------------------------------
_KERNELS: dict[str, AnnotationKernel] = {}


def register_annotation_kernel(
    key: str, kernel: AnnotationKernel, *, force: bool = False
) -> AnnotationKernel:
    """Make every geometric transform move ``results[key]`` with ``kernel``.

    A task family adds its kinds when its package is imported, for example a clip of frames
    (``register_annotation_kernel("imgs", SequenceKernel(ImageKernel()))``) or 3D boxes projected on
    the image (a subclass of :class:`AnnotationKernel` with its five operations).

    Kernels run in registration order and must not depend on it (each reads only its own key and
    companions). Returns the kernel.

    Raises:
        TypeError: ``kernel`` is not an :class:`AnnotationKernel`.
        KeyError: ``key`` already has a kernel and ``force`` is False.
    """
    if not isinstance(kernel, AnnotationKernel):
        raise TypeError(
            f"register_annotation_kernel({key!r}, ...): expected an AnnotationKernel, got {type(kernel).__name__}"
        )
    if key in _KERNELS and not force:
        raise KeyError(
            f"annotation key {key!r} already has the kernel {_KERNELS[key]!r}; pass force=True to replace it"
        )
    _KERNELS[key] = kernel
    return kernel


def unregister_annotation_kernel(key: str) -> AnnotationKernel:
    """Remove and return the kernel of ``key`` (a test that registered one cleans up with this).

    Raises:
        KeyError: ``key`` has no kernel.
    """
    if key not in _KERNELS:
        raise KeyError(f"annotation key {key!r} has no kernel; registered: {sorted(_KERNELS)}")
    return _KERNELS.pop(key)


def annotation_kernels() -> Mapping[str, AnnotationKernel]:
    """A read-only view of the registered kernels, by results key, in the order they run."""
    return MappingProxyType(_KERNELS)


def pad_value_keys() -> tuple[str, ...]:
    """The ``pad_val`` keys that the registered kernels read (``img``, ``seg``, ``masks`` ...)."""
    keys = dict.fromkeys(PAD_VALUES)
    keys.update(dict.fromkeys(k.pad_val_key for k in _KERNELS.values() if k.pad_val_key is not None))
    return tuple(keys)


# ---- applying an operation -------------------------------------------------------------------------
def _named(error: Exception, key: str) -> Exception:
    """``error`` with the results key in its message (kept as is when it already names the key)."""
    if key in str(error):
        return error
    try:
        return type(error)(f"{key}: {error}")
    except Exception:  # an exception type with another constructor signature
        return ValueError(f"{key}: {error}")


def apply_geometry(results: dict, op: GeometricOp) -> dict:
    """Apply ``op`` to every key of ``results`` that has a kernel and a value that is not None.

    Shape bookkeeping (``img_shape``, ``scale_factor`` ...) is the caller's (see
    :mod:`visionstack.data.transforms.geometric`).

    Raises:
        ValueError / TypeError / IndexError: a value is malformed; the message names its key.
    """
    method = op.method
    for key, kernel in _KERNELS.items():
        value = results.get(key)
        if value is None:
            continue
        try:
            results[key] = getattr(kernel, method)(value, op, results)
        except (ValueError, TypeError, IndexError) as error:
            named = _named(error, key)
            if named is error:
                raise
            raise named from error
    return results


def image_size(results: dict) -> tuple[int, int]:
    """The ``(w, h)`` of the sample's image: from ``img``, else from ``img_shape`` (a clip under ``imgs``).

    Raises:
        KeyError: the results have neither.
    """
    img = results.get("img")
    if img is not None:
        height, width = img.shape[:2]
        return int(width), int(height)
    shape = results.get("img_shape")
    if shape is None:
        raise KeyError(
            f"a geometric transform needs `img` or `img_shape` in the results (keys: {sorted(results)}); "
            "put LoadImage first"
        )
    return int(shape[1]), int(shape[0])


def keep_instances(results: dict, keep: np.ndarray) -> dict:
    """Keep the instances where ``keep`` ((N,) bool) is True, in every per-instance key.

    The keys are :data:`INSTANCE_KEYS` and those of the registered kernels with ``per_instance``
    (with their companions, such as ``gt_keypoints_visible``).
    """
    keep = np.asarray(keep, dtype=bool)
    for key in INSTANCE_KEYS:
        if results.get(key) is not None:
            results[key] = results[key][keep] if key == "gt_masks" else np.asarray(results[key])[keep]
    for key, kernel in _KERNELS.items():
        if kernel.per_instance and key not in INSTANCE_KEYS and results.get(key) is not None:
            results[key] = kernel.select(results[key], keep, results)
    return results
