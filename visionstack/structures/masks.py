"""Instance masks that follow the image through geometric transforms: bitmaps and polygons.

Coordinates are continuous pixel coordinates: pixel ``(row, col)`` covers ``[col, col + 1) x
[row, row + 1)``, so an image of width W spans x in [0, W] and a horizontal flip maps x to W - x
(the same convention as ``gt_bboxes``). A bitmap's tight box is therefore ``(min col, min row,
max col + 1, max row + 1)``.

Both classes hold N instances of one image of ``height`` x ``width`` pixels, support ``len``,
indexing (int, slice, bool or index arrays and tensors) and ``cat``, so an
:class:`~visionstack.structures.InstanceData` can carry them next to boxes and labels.
Sizes are ``(width, height)`` as in :mod:`visionstack.data.transforms.image_ops`; ``(h, w)`` only
where a shape is meant (``height``, ``width`` attributes).
"""

from __future__ import annotations

import warnings
from abc import ABC, abstractmethod
from collections.abc import Iterator, Sequence
from typing import Any, Self

import cv2
import numpy as np
import pycocotools.mask as mask_utils
import torch

__all__ = [
    "BitmapMasks",
    "PolygonMasks",
    "rle_to_bitmap",
    "polygons_to_bitmap",
    "bitmap_to_polygons",
    "clip_polygon",
]

IndexLike = int | slice | np.ndarray | torch.Tensor | Sequence[int] | Sequence[bool]


def _decode(rle: dict | list) -> np.ndarray:
    """pycocotools' decode, without its NumPy 2 ``__array__(copy=...)`` deprecation warning."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", DeprecationWarning)
        return mask_utils.decode(rle).astype(np.uint8)


def rle_to_bitmap(rle: dict, height: int, width: int) -> np.ndarray:
    """Decode a COCO RLE (``counts`` a string: compressed, or a list of ints: uncompressed) to (H, W) uint8."""
    if isinstance(rle.get("counts"), list):
        rle = mask_utils.frPyObjects(rle, height, width)
    elif isinstance(rle.get("counts"), str):
        rle = dict(size=rle["size"], counts=rle["counts"].encode("ascii"))
    if tuple(rle["size"]) != (height, width):
        raise ValueError(f"RLE of size {tuple(rle['size'])} does not match the image size {(height, width)}")
    return _decode(rle)


def polygons_to_bitmap(polygons: Sequence[np.ndarray], height: int, width: int) -> np.ndarray:
    """Rasterise one instance's polygons (flat ``x0, y0, x1, y1 ...`` arrays) as COCO does, (H, W) uint8."""
    usable = [np.asarray(p, dtype=np.float64).ravel().tolist() for p in polygons if len(p) >= 6]
    if not usable:
        return np.zeros((height, width), dtype=np.uint8)
    rles = mask_utils.frPyObjects(usable, height, width)
    return _decode(mask_utils.merge(rles))


def bitmap_to_polygons(bitmap: np.ndarray) -> list[np.ndarray]:
    """Outer contours of a (H, W) mask as flat float64 polygons through boundary pixel centres (+0.5)."""
    contours, _ = cv2.findContours(bitmap.astype(np.uint8), cv2.RETR_EXTERNAL, cv2.CHAIN_APPROX_SIMPLE)
    return [(c.reshape(-1, 2).astype(np.float64) + 0.5).ravel() for c in contours if len(c) >= 3]


def _index_array(index: IndexLike, length: int) -> np.ndarray | slice:
    """Normalise an index into a slice or an int64 position array."""
    if isinstance(index, slice):
        return index
    if isinstance(index, (int, np.integer)):
        if not -length <= int(index) < length:
            raise IndexError(f"index {index} out of range for {length} masks")
        return np.array([int(index) % length], dtype=np.int64)
    if isinstance(index, torch.Tensor):
        index = index.detach().cpu().numpy()
    array = np.asarray(index)
    if array.dtype == bool:
        if array.shape != (length,):
            raise IndexError(f"boolean index of shape {array.shape} for {length} masks")
        return np.flatnonzero(array)
    return array.astype(np.int64).reshape(-1)


class _InstanceMasks(ABC):
    """What both mask kinds share: a container of ``self.masks`` (one entry per instance) on an
    image of ``self.height`` x ``self.width`` pixels."""

    masks: Any
    height: int
    width: int

    def __len__(self) -> int:
        return len(self.masks)

    def __iter__(self) -> Iterator[Any]:
        return iter(self.masks)

    def __repr__(self) -> str:
        return f"{type(self).__name__}(num_masks={len(self)}, height={self.height}, width={self.width})"

    @classmethod
    def cat(cls, masks: Sequence[Self]) -> Self:
        """Concatenate mask sets of the same image size."""
        if not masks:
            raise ValueError(f"{cls.__name__}.cat needs at least one element")
        sizes = {(m.height, m.width) for m in masks}
        if len(sizes) != 1 or not all(isinstance(m, cls) for m in masks):
            raise ValueError(
                f"{cls.__name__}.cat needs {cls.__name__} of one size, got sizes {sorted(sizes)}"
            )
        return cls(cls._concatenate([m.masks for m in masks]), masks[0].height, masks[0].width)

    @staticmethod
    @abstractmethod
    def _concatenate(storages: list[Any]) -> Any:
        """The ``masks`` storages of several sets joined into one, in order."""

    @abstractmethod
    def resize(self, size: tuple[int, int]) -> Self:
        """The masks on an image of ``size = (w, h)``."""

    def rescale(self, factor: float) -> Self:
        """Scale both sides by ``factor`` (size rounded half up, as ``Resize(scale_factor=...)``)."""
        return self.resize((int(self.width * factor + 0.5), int(self.height * factor + 0.5)))


class BitmapMasks(_InstanceMasks):
    """N binary masks of one image, stored as an (N, H, W) uint8 array of 0/1.

    Args:
        masks: (N, H, W) array (bool or integer, non-zero means inside) or a list of (H, W) arrays.
        height: image height H (needed when N == 0).
        width: image width W (needed when N == 0).
    """

    def __init__(self, masks: np.ndarray | Sequence[np.ndarray], height: int, width: int) -> None:
        self.height, self.width = int(height), int(width)
        if len(masks) == 0:
            self.masks = np.zeros((0, self.height, self.width), dtype=np.uint8)
        else:
            self.masks = (np.stack([np.asarray(m) for m in masks]) != 0).astype(np.uint8)
        if self.masks.ndim != 3 or self.masks.shape[1:] != (self.height, self.width):
            raise ValueError(
                f"BitmapMasks: masks of shape {self.masks.shape} do not match (N, {self.height}, {self.width})"
            )

    # ---- container ----------------------------------------------------------------------------
    def __getitem__(self, index: IndexLike) -> BitmapMasks:
        return BitmapMasks(self.masks[_index_array(index, len(self))], self.height, self.width)

    @staticmethod
    def _concatenate(storages: list[np.ndarray]) -> np.ndarray:
        return np.concatenate(storages)

    # ---- geometry -----------------------------------------------------------------------------
    def resize(self, size: tuple[int, int]) -> BitmapMasks:
        """Resize every mask to ``size = (w, h)`` with nearest-neighbour sampling."""
        new_width, new_height = int(size[0]), int(size[1])
        if len(self) == 0:
            return BitmapMasks([], new_height, new_width)
        resized = [
            cv2.resize(m, (new_width, new_height), interpolation=cv2.INTER_NEAREST_EXACT) for m in self.masks
        ]
        return BitmapMasks(np.stack(resized), new_height, new_width)

    def flip(self, direction: str = "horizontal") -> BitmapMasks:
        """Mirror ``horizontal``, ``vertical`` or ``diagonal`` (both)."""
        axes = {"horizontal": (2,), "vertical": (1,), "diagonal": (1, 2)}
        if direction not in axes:
            raise ValueError(f"BitmapMasks.flip: unknown direction {direction!r}; choose from {sorted(axes)}")
        flipped = np.ascontiguousarray(np.flip(self.masks, axis=axes[direction]))
        return BitmapMasks(flipped, self.height, self.width)

    def crop(self, bbox: Sequence[int]) -> BitmapMasks:
        """Keep the region ``(x1, y1, x2, y2)`` (integers, clipped to the image)."""
        x1, y1, x2, y2 = _clip_window(bbox, self.width, self.height)
        return BitmapMasks(np.ascontiguousarray(self.masks[:, y1:y2, x1:x2]), y2 - y1, x2 - x1)

    def pad(self, size: tuple[int, int], pad_val: int = 0) -> BitmapMasks:
        """Pad at the bottom and right to ``size = (w, h)`` (at least the current size)."""
        return self.expand(size, (0, 0), pad_val)

    def expand(self, size: tuple[int, int], offset: tuple[int, int], pad_val: int = 0) -> BitmapMasks:
        """Place the masks at ``offset = (left, top)`` on a canvas of ``size = (w, h)`` filled with ``pad_val``."""
        new_width, new_height = int(size[0]), int(size[1])
        left, top = int(offset[0]), int(offset[1])
        if left < 0 or top < 0 or left + self.width > new_width or top + self.height > new_height:
            raise ValueError(
                f"BitmapMasks.expand: a {self.width}x{self.height} mask at offset {(left, top)} does not fit "
                f"a {new_width}x{new_height} canvas"
            )
        canvas = np.full((len(self), new_height, new_width), int(pad_val != 0), dtype=np.uint8)
        canvas[:, top : top + self.height, left : left + self.width] = self.masks
        return BitmapMasks(canvas, new_height, new_width)

    def translate(self, offset: float, direction: str = "horizontal") -> BitmapMasks:
        """Shift the content by ``offset`` pixels (rounded) right (horizontal) or down (vertical); fill 0."""
        shift = int(round(offset))
        moved = np.zeros_like(self.masks)
        axis = 2 if direction == "horizontal" else 1
        length = self.masks.shape[axis]
        if abs(shift) < length:
            source = [slice(None)] * 3
            target = [slice(None)] * 3
            source[axis] = slice(max(0, -shift), length - max(0, shift))
            target[axis] = slice(max(0, shift), length - max(0, -shift))
            moved[tuple(target)] = self.masks[tuple(source)]
        return BitmapMasks(moved, self.height, self.width)

    # ---- measures and conversions -------------------------------------------------------------
    @property
    def areas(self) -> np.ndarray:
        """(N,) float32 pixel counts."""
        return self.masks.reshape(len(self), -1).sum(axis=1).astype(np.float32)

    def get_bboxes(self) -> np.ndarray:
        """(N, 4) float32 tight boxes x1 y1 x2 y2 (x2 = last column + 1); all zero for an empty mask."""
        boxes = np.zeros((len(self), 4), dtype=np.float32)
        if len(self) == 0:
            return boxes
        columns = self.masks.any(axis=1)
        rows = self.masks.any(axis=2)
        for i in range(len(self)):
            xs, ys = np.flatnonzero(columns[i]), np.flatnonzero(rows[i])
            if len(xs):
                boxes[i] = (xs[0], ys[0], xs[-1] + 1, ys[-1] + 1)
        return boxes

    def to_ndarray(self) -> np.ndarray:
        """(N, H, W) uint8 0/1."""
        return self.masks

    def to_tensor(self, dtype: torch.dtype = torch.bool, device: str | torch.device = "cpu") -> torch.Tensor:
        """(N, H, W) tensor of ``dtype`` on ``device``."""
        return torch.from_numpy(self.masks).to(device=device, dtype=dtype)


class PolygonMasks(_InstanceMasks):
    """N instance masks as polygons: per instance a list of flat ``x0, y0, x1, y1, ...`` float64 arrays.

    Polygons transform exactly (no rasterisation loss) and rasterise with COCO's rules
    (:func:`polygons_to_bitmap`). An instance that loses every polygon (cropped away) stays as an
    empty list, so instance order and count never change.

    Args:
        masks: per instance, a list of polygons (each of even length >= 6).
        height: image height H.
        width: image width W.
    """

    def __init__(
        self, masks: Sequence[Sequence[np.ndarray | Sequence[float]]], height: int, width: int
    ) -> None:
        self.height, self.width = int(height), int(width)
        self.masks: list[list[np.ndarray]] = []
        for position, polygons in enumerate(masks):
            if isinstance(polygons, np.ndarray) or not isinstance(polygons, Sequence):
                raise TypeError(
                    f"PolygonMasks: instance {position} must be a list of polygons, got {type(polygons).__name__}"
                )
            converted = [np.asarray(p, dtype=np.float64).ravel() for p in polygons]
            for polygon in converted:
                if len(polygon) % 2:
                    raise ValueError(
                        f"PolygonMasks: instance {position} has a polygon of odd length {len(polygon)}"
                    )
            self.masks.append(converted)

    # ---- container ----------------------------------------------------------------------------
    def __getitem__(self, index: IndexLike) -> PolygonMasks:
        positions = _index_array(index, len(self))
        if isinstance(positions, slice):
            return PolygonMasks(self.masks[positions], self.height, self.width)
        return PolygonMasks([self.masks[int(i)] for i in positions], self.height, self.width)

    @staticmethod
    def _concatenate(storages: list[list[list[np.ndarray]]]) -> list[list[np.ndarray]]:
        return [polygons for storage in storages for polygons in storage]

    def _map(self, function, height: int, width: int) -> PolygonMasks:
        """Apply ``function((K, 2) points) -> (K', 2) points`` to every polygon; drop those under 3 points."""
        mapped = []
        for polygons in self.masks:
            kept = []
            for polygon in polygons:
                points = function(polygon.reshape(-1, 2).astype(np.float64))
                if len(points) >= 3:
                    kept.append(points.ravel())
            mapped.append(kept)
        return PolygonMasks(mapped, height, width)

    # ---- geometry -----------------------------------------------------------------------------
    def resize(self, size: tuple[int, int]) -> PolygonMasks:
        """Scale coordinates to an image of ``size = (w, h)``."""
        new_width, new_height = int(size[0]), int(size[1])
        scale = np.array([new_width / self.width, new_height / self.height])
        return self._map(lambda points: points * scale, new_height, new_width)

    def flip(self, direction: str = "horizontal") -> PolygonMasks:
        """Mirror ``horizontal`` (x -> W - x), ``vertical`` (y -> H - y) or ``diagonal`` (both)."""
        if direction not in ("horizontal", "vertical", "diagonal"):
            raise ValueError(f"PolygonMasks.flip: unknown direction {direction!r}")
        flip_x = direction in ("horizontal", "diagonal")
        flip_y = direction in ("vertical", "diagonal")

        def mirror(points: np.ndarray) -> np.ndarray:
            points = points.copy()
            if flip_x:
                points[:, 0] = self.width - points[:, 0]
            if flip_y:
                points[:, 1] = self.height - points[:, 1]
            return points

        return self._map(mirror, self.height, self.width)

    def crop(self, bbox: Sequence[int]) -> PolygonMasks:
        """Keep the region ``(x1, y1, x2, y2)``: shift, then clip each polygon to it (Sutherland-Hodgman)."""
        x1, y1, x2, y2 = _clip_window(bbox, self.width, self.height)
        width, height = x2 - x1, y2 - y1
        shift = np.array([x1, y1], dtype=np.float64)
        return self._map(lambda points: clip_polygon(points - shift, width, height), height, width)

    def pad(self, size: tuple[int, int], pad_val: int = 0) -> PolygonMasks:
        """Pad at the bottom and right to ``size = (w, h)``: coordinates stay, the canvas grows."""
        return PolygonMasks(self.masks, int(size[1]), int(size[0]))

    def expand(self, size: tuple[int, int], offset: tuple[int, int], pad_val: int = 0) -> PolygonMasks:
        """Place the masks at ``offset = (left, top)`` on a canvas of ``size = (w, h)``."""
        shift = np.array(offset, dtype=np.float64)
        return self._map(lambda points: points + shift, int(size[1]), int(size[0]))

    def translate(self, offset: float, direction: str = "horizontal") -> PolygonMasks:
        """Shift by ``offset`` pixels right (horizontal) or down (vertical), clipped to the image."""
        shift = np.array([offset, 0.0] if direction == "horizontal" else [0.0, offset])
        return self._map(
            lambda points: clip_polygon(points + shift, self.width, self.height), self.height, self.width
        )

    # ---- measures and conversions -------------------------------------------------------------
    @property
    def areas(self) -> np.ndarray:
        """(N,) float32 shoelace areas summed over each instance's polygons (overlaps count twice)."""
        areas = np.zeros(len(self), dtype=np.float32)
        for i, polygons in enumerate(self.masks):
            for polygon in polygons:
                x, y = polygon[0::2].astype(np.float64), polygon[1::2].astype(np.float64)
                areas[i] += 0.5 * abs(np.dot(x, np.roll(y, 1)) - np.dot(y, np.roll(x, 1)))
        return areas

    def get_bboxes(self) -> np.ndarray:
        """(N, 4) float32 boxes x1 y1 x2 y2 around each instance's vertices; zero for an empty instance."""
        boxes = np.zeros((len(self), 4), dtype=np.float32)
        for i, polygons in enumerate(self.masks):
            if polygons:
                points = np.concatenate(polygons).reshape(-1, 2)
                boxes[i] = (*points.min(axis=0), *points.max(axis=0))
        return boxes

    def to_bitmap(self) -> BitmapMasks:
        """Rasterise every instance (COCO's polygon rules)."""
        bitmaps = [polygons_to_bitmap(polygons, self.height, self.width) for polygons in self.masks]
        return BitmapMasks(bitmaps, self.height, self.width)

    def to_ndarray(self) -> np.ndarray:
        """(N, H, W) uint8 rasterised masks."""
        return self.to_bitmap().masks

    def to_tensor(self, dtype: torch.dtype = torch.bool, device: str | torch.device = "cpu") -> torch.Tensor:
        """(N, H, W) tensor of the rasterised masks."""
        return self.to_bitmap().to_tensor(dtype, device)


def _clip_window(bbox: Sequence[Any], width: int, height: int) -> tuple[int, int, int, int]:
    x1, y1, x2, y2 = (int(v) for v in bbox)
    x1, x2 = max(0, min(x1, width)), max(0, min(x2, width))
    y1, y2 = max(0, min(y1, height)), max(0, min(y2, height))
    if x2 <= x1 or y2 <= y1:
        raise ValueError(f"crop window {tuple(bbox)} is empty inside a {width}x{height} image")
    return x1, y1, x2, y2


def clip_polygon(points: np.ndarray, width: float, height: float) -> np.ndarray:
    """Clip a polygon ((K, 2) points) to the rectangle [0, width] x [0, height] (Sutherland-Hodgman, 1974).

    The clip window is convex, so the result is exact for convex polygons; a concave polygon that
    leaves and re-enters the window keeps zero-width bridges along the border, which rasterise to nothing.
    """
    # (axis, bound, keep_if_less_or_equal): the four half-planes of the window.
    for axis, bound, keep_below in ((0, 0.0, False), (0, width, True), (1, 0.0, False), (1, height, True)):
        if len(points) == 0:
            break
        previous = np.roll(points, 1, axis=0)
        inside = points[:, axis] <= bound if keep_below else points[:, axis] >= bound
        previous_inside = np.roll(inside, 1)
        crossing = inside != previous_inside
        denominator = points[:, axis] - previous[:, axis]
        t = np.divide(
            bound - previous[:, axis], denominator, out=np.zeros(len(points)), where=denominator != 0
        )
        intersections = previous + t[:, None] * (points - previous)
        intersections[:, axis] = bound  # exact on the border, whatever the rounding
        # Per edge (previous -> current): the crossing point first, then the current point if inside.
        candidates = np.stack([intersections, points], axis=1).reshape(-1, 2)
        keep = np.stack([crossing, inside], axis=1).reshape(-1)
        points = candidates[keep]
    return points
