"""A deterministic synthetic detection / instance-segmentation dataset in COCO format.

Each image (sides drawn between ``image_size[0]`` and ``image_size[1]`` pixels) has a textured
background (noise, a linear gradient, or stripes) and one to six flat-coloured shapes of five classes
(circle, square, triangle, star, cross), rotated, at sizes drawn per COCO's area buckets (small
< 32², medium < 96², large). Shapes are painted in order, so later ones occlude earlier ones, and may
reach past the border; the annotation is the *visible* mask. Visibility is the visible pixels over
the whole shape's area (occlusion and truncation both count): a shape less than 15% visible (or
under 10 pixels) is left out, and one less than half visible is annotated as a crowd region
(``iscrowd=1``): a corner of a square cannot be told from a corner of a star, so such instances are
ignored in training and evaluation, as VOC does with ``difficult`` objects and COCO with crowds. Masks are exact: each shape is rasterised once (COCO's polygon rasteriser, on vertices rounded
to 0.01 px) and its colour painted on exactly those pixels. Unoccluded polygonal shapes that lie
inside the image are annotated as polygons; circles, truncated and occluded shapes as compressed RLE.

Layout::

    <out>/annotations/instances_train.json   <out>/train/000000.png ...
    <out>/annotations/instances_val.json     <out>/val/000000.png ...

Use it with ``CocoDataset(data_root=out, ann_file="annotations/instances_train.json",
data_prefix=dict(img="train/"))``. The same seed gives byte-identical files.
"""

from __future__ import annotations

import json
import math
import os
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import pycocotools.mask as mask_utils

from ...data.synthetic_shapes import SHAPE_CLASSES, UNIT_AREAS, UNIT_OUTLINES
from ...data.synthetic_shapes import polygon_area as _area
from ...data.synthetic_shapes import textured_background as _background
from ...structures.masks import polygons_to_bitmap

__all__ = ["SHAPE_CLASSES", "Shape", "render_scene", "write_synthetic_detection", "synth_detection"]

MIN_VISIBLE_FRACTION = 0.15
MIN_VISIBLE_PIXELS = 10
HARD_VISIBLE_FRACTION = 0.5  # less visible than this: annotated iscrowd=1 (ignored)
# COCO's area buckets (pixels): small < 32², medium < 96², large above.
AREA_BUCKETS = ((8.0**2, 32.0**2), (32.0**2, 96.0**2), (96.0**2, 200.0**2))
BUCKET_PROBABILITIES = (0.4, 0.4, 0.2)


@dataclass
class Shape:
    """One painted shape: class index, BGR colour, outline (K, 2), full raster and visible raster (H, W)."""

    label: int
    color: tuple[int, int, int]
    outline: np.ndarray
    full_mask: np.ndarray
    visible_mask: np.ndarray | None = None

    @property
    def visible_fraction(self) -> float:
        """Visible pixels over the area of the whole outline (parts past the border count as hidden)."""
        return float(self.visible_mask.sum()) / max(_area(self.outline), 1.0)

    @property
    def inside_image(self) -> bool:
        height, width = self.full_mask.shape
        return bool(
            self.outline.min() >= 0
            and self.outline[:, 0].max() <= width
            and self.outline[:, 1].max() <= height
        )


def _draw_shape(rng: np.random.Generator, height: int, width: int) -> Shape:
    """A random shape: class, size by area bucket, rotation, position (may leave the image), colour."""
    label = int(rng.integers(len(SHAPE_CLASSES)))
    name = SHAPE_CLASSES[label]
    low, high = AREA_BUCKETS[int(rng.choice(3, p=BUCKET_PROBABILITIES))]
    high = min(high, 0.5 * height * width)
    area = rng.uniform(min(low, high * 0.5), high)
    radius = math.sqrt(area / UNIT_AREAS[name])
    angle = rng.uniform(0, 2 * math.pi)
    rotation = np.array([[math.cos(angle), -math.sin(angle)], [math.sin(angle), math.cos(angle)]])
    margin = 0.4 * radius
    center = rng.uniform(
        [-margin + radius * 0.6, -margin + radius * 0.6],
        [width + margin - radius * 0.6, height + margin - radius * 0.6],
    )
    outline = np.round(UNIT_OUTLINES[name] @ rotation.T * radius + center, 2)
    color = tuple(int(c) for c in rng.integers(0, 256, size=3))
    full_mask = polygons_to_bitmap([outline.ravel()], height, width).astype(bool)
    return Shape(label, color, outline, full_mask)


def render_scene(rng: np.random.Generator, height: int, width: int) -> tuple[np.ndarray, list[Shape]]:
    """Paint a background and shapes; return the (H, W, 3) uint8 image and the annotated shapes.

    Returned shapes have ``visible_mask`` set (the pixels showing their colour) and are the ones
    visible enough to annotate, in painting order.
    """
    img = _background(rng, height, width)
    shapes = [_draw_shape(rng, height, width) for _ in range(int(rng.integers(1, 7)))]
    covered = np.zeros((height, width), dtype=bool)
    for shape in reversed(shapes):  # later shapes are on top
        shape.visible_mask = shape.full_mask & ~covered
        covered |= shape.full_mask
    for shape in shapes:
        img[shape.full_mask] = shape.color
    kept = []
    for shape in shapes:
        if (
            int(shape.visible_mask.sum()) >= MIN_VISIBLE_PIXELS
            and shape.visible_fraction >= MIN_VISIBLE_FRACTION
        ):
            kept.append(shape)
    return img, kept


def _annotation(shape: Shape, annotation_id: int, image_id: int) -> dict:
    mask = shape.visible_mask
    ys, xs = np.nonzero(mask)
    x1, y1, x2, y2 = int(xs.min()), int(ys.min()), int(xs.max()) + 1, int(ys.max()) + 1
    exact_polygon = (
        SHAPE_CLASSES[shape.label] != "circle"
        and shape.inside_image
        and np.array_equal(mask, shape.full_mask)
    )
    if exact_polygon:
        segmentation: list | dict = [[float(v) for v in shape.outline.ravel()]]
    else:
        rle = mask_utils.encode(np.asfortranarray(mask.astype(np.uint8)))
        segmentation = {"size": [int(v) for v in rle["size"]], "counts": rle["counts"].decode("ascii")}
    return {
        "id": annotation_id,
        "image_id": image_id,
        "category_id": shape.label + 1,
        "bbox": [x1, y1, x2 - x1, y2 - y1],
        "area": int(mask.sum()),
        "iscrowd": int(shape.visible_fraction < HARD_VISIBLE_FRACTION),
        "segmentation": segmentation,
    }


def _write_split(
    out: Path, split: str, count: int, image_size: tuple[int, int], seed: int, split_code: int
) -> dict:
    (out / split).mkdir(parents=True, exist_ok=True)
    images, annotations = [], []
    for index in range(count):
        rng = np.random.default_rng([seed, split_code, index])
        height, width = (int(v) for v in rng.integers(image_size[0], image_size[1] + 1, size=2))
        img, shapes = render_scene(rng, height, width)
        file_name = f"{index:06d}.png"
        if not cv2.imwrite(str(out / split / file_name), img):
            raise OSError(f"could not write {out / split / file_name}")
        image_id = index + 1
        images.append({"id": image_id, "file_name": file_name, "height": height, "width": width})
        for shape in shapes:
            annotations.append(_annotation(shape, len(annotations) + 1, image_id))
    categories = [
        {"id": label + 1, "name": name, "supercategory": "shape"} for label, name in enumerate(SHAPE_CLASSES)
    ]
    content = {
        "info": {"description": f"visionstack synthetic shapes, {split} split, seed {seed}"},
        "images": images,
        "annotations": annotations,
        "categories": categories,
    }
    ann_file = out / "annotations" / f"instances_{split}.json"
    ann_file.parent.mkdir(parents=True, exist_ok=True)
    ann_file.write_text(json.dumps(content, separators=(",", ":")), encoding="utf-8")
    return {"ann_file": str(ann_file), "images": len(images), "instances": len(annotations)}


def write_synthetic_detection(
    out_dir: str | os.PathLike,
    num_train: int = 2000,
    num_val: int = 200,
    image_size: tuple[int, int] = (128, 256),
    seed: int = 0,
) -> dict[str, dict]:
    """Write the dataset (see the module docstring) and return per split its file and counts.

    Args:
        out_dir: the output folder (created).
        num_train: training images.
        num_val: validation images.
        image_size: the range (min, max) of each image side, in pixels.
        seed: the seed; image ``i`` of a split uses ``default_rng([seed, split, i])``.
    """
    if not 16 <= image_size[0] <= image_size[1]:
        raise ValueError(f"write_synthetic_detection: need 16 <= min <= max in image_size={image_size}")
    out = Path(out_dir)
    return {
        "train": _write_split(out, "train", num_train, image_size, seed, 0),
        "val": _write_split(out, "val", num_val, image_size, seed, 1),
    }


def synth_detection(out: Path, seed: int = 0, num_train: int = 2000, num_val: int = 200) -> dict[str, dict]:
    """The ``visionstack data synth detection --out DIR`` entry point: :func:`write_synthetic_detection`."""
    return write_synthetic_detection(out, num_train=num_train, num_val=num_val, seed=seed)
