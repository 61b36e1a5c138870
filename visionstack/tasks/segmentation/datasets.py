"""Semantic-segmentation datasets: image files paired with label maps by file name.

``BaseSegDataset`` pairs ``<img_dir>/<name><img_suffix>`` with ``<seg_map_dir>/<name><seg_map_suffix>``,
where ``<name>`` may contain sub-folders (Cityscapes' cities). The names come from a recursive,
sorted listing of ``img_dir`` or, with ``ann_file``, from a split file with one name per line (Pascal
VOC's ``ImageSets/Segmentation/<split>.txt``). Every record is::

    {"img_path", "seg_map_path", "reduce_zero_label", "seg_fields": [], ("label_map")}

and ``LoadAnnotations`` reads the map (palette PNGs give their indices). Layouts of the concrete
datasets (paths in ``data_prefix`` are relative to ``data_root``)::

    ADE20KDataset      images/training/*.jpg            annotations/training/*.png   (0 = other -> 255)
    CityscapesDataset  leftImg8bit/train/<city>/*_leftImg8bit.png
                       gtFine/train/<city>/*_gtFine_labelTrainIds.png                (19 train ids)
    PascalVOCDataset   JPEGImages/*.jpg  SegmentationClass/*.png  ImageSets/Segmentation/<split>.txt
    SynthSegDataset    img_dir/<split>/*.jpg            ann_dir/<split>/*.png

Choosing a subset of the classes (``metainfo=dict(classes=(...))``, a subset of the dataset's) maps
the others to 255 through the record's ``label_map`` and keeps their palette colours, as MMSegmentation.
"""

from __future__ import annotations

import json
import os
from collections.abc import Mapping, Sequence
from typing import Any, ClassVar

import numpy as np

from ...data.base_dataset import BaseDataset, DatasetError
from ...registry import DATASETS
from .synthetic import SEG_CLASSES, SEG_PALETTE

__all__ = [
    "ADE20K_CLASSES",
    "ADE20K_PALETTE",
    "CITYSCAPES_CLASSES",
    "CITYSCAPES_PALETTE",
    "VOC_SEG_CLASSES",
    "VOC_SEG_PALETTE",
    "BaseSegDataset",
    "ADE20KDataset",
    "CityscapesDataset",
    "PascalVOCDataset",
    "SynthSegDataset",
    "voc_colormap",
]

ADE20K_CLASSES = (
    "wall", "building", "sky", "floor", "tree", "ceiling", "road", "bed", "windowpane", "grass",
    "cabinet", "sidewalk", "person", "earth", "door", "table", "mountain", "plant", "curtain", "chair",
    "car", "water", "painting", "sofa", "shelf", "house", "sea", "mirror", "rug", "field",
    "armchair", "seat", "fence", "desk", "rock", "wardrobe", "lamp", "bathtub", "railing", "cushion",
    "base", "box", "column", "signboard", "chest of drawers", "counter", "sand", "sink", "skyscraper",
    "fireplace", "refrigerator", "grandstand", "path", "stairs", "runway", "case", "pool table",
    "pillow", "screen door", "stairway", "river", "bridge", "bookcase", "blind", "coffee table",
    "toilet", "flower", "book", "hill", "bench", "countertop", "stove", "palm", "kitchen island",
    "computer", "swivel chair", "boat", "bar", "arcade machine", "hovel", "bus", "towel", "light",
    "truck", "tower", "chandelier", "awning", "streetlight", "booth", "television receiver",
    "airplane", "dirt track", "apparel", "pole", "land", "bannister", "escalator", "ottoman",
    "bottle", "buffet", "poster", "stage", "van", "ship", "fountain", "conveyer belt", "canopy",
    "washer", "plaything", "swimming pool", "stool", "barrel", "basket", "waterfall", "tent", "bag",
    "minibike", "cradle", "oven", "ball", "food", "step", "tank", "trade name", "microwave", "pot",
    "animal", "bicycle", "lake", "dishwasher", "screen", "blanket", "sculpture", "hood", "sconce",
    "vase", "traffic light", "tray", "ashcan", "fan", "pier", "crt screen", "plate", "monitor",
    "bulletin board", "shower", "radiator", "glass", "clock", "flag",
)  # fmt: skip

# RGB, one per class of ADE20K_CLASSES (the colours of the ADE20K benchmark's visualisations).
ADE20K_PALETTE = [
    [120, 120, 120], [180, 120, 120], [6, 230, 230], [80, 50, 50], [4, 200, 3], [120, 120, 80],
    [140, 140, 140], [204, 5, 255], [230, 230, 230], [4, 250, 7], [224, 5, 255], [235, 255, 7],
    [150, 5, 61], [120, 120, 70], [8, 255, 51], [255, 6, 82], [143, 255, 140], [204, 255, 4],
    [255, 51, 7], [204, 70, 3], [0, 102, 200], [61, 230, 250], [255, 6, 51], [11, 102, 255],
    [255, 7, 71], [255, 9, 224], [9, 7, 230], [220, 220, 220], [255, 9, 92], [112, 9, 255],
    [8, 255, 214], [7, 255, 224], [255, 184, 6], [10, 255, 71], [255, 41, 10], [7, 255, 255],
    [224, 255, 8], [102, 8, 255], [255, 61, 6], [255, 194, 7], [255, 122, 8], [0, 255, 20],
    [255, 8, 41], [255, 5, 153], [6, 51, 255], [235, 12, 255], [160, 150, 20], [0, 163, 255],
    [140, 140, 140], [250, 10, 15], [20, 255, 0], [31, 255, 0], [255, 31, 0], [255, 224, 0],
    [153, 255, 0], [0, 0, 255], [255, 71, 0], [0, 235, 255], [0, 173, 255], [31, 0, 255],
    [11, 200, 200], [255, 82, 0], [0, 255, 245], [0, 61, 255], [0, 255, 112], [0, 255, 133],
    [255, 0, 0], [255, 163, 0], [255, 102, 0], [194, 255, 0], [0, 143, 255], [51, 255, 0],
    [0, 82, 255], [0, 255, 41], [0, 255, 173], [10, 0, 255], [173, 255, 0], [0, 255, 153],
    [255, 92, 0], [255, 0, 255], [255, 0, 245], [255, 0, 102], [255, 173, 0], [255, 0, 20],
    [255, 184, 184], [0, 31, 255], [0, 255, 61], [0, 71, 255], [255, 0, 204], [0, 255, 194],
    [0, 255, 82], [0, 10, 255], [0, 112, 255], [51, 0, 255], [0, 194, 255], [0, 122, 255],
    [0, 255, 163], [255, 153, 0], [0, 255, 10], [255, 112, 0], [143, 255, 0], [82, 0, 255],
    [163, 255, 0], [255, 235, 0], [8, 184, 170], [133, 0, 255], [0, 255, 92], [184, 0, 255],
    [255, 0, 31], [0, 184, 255], [0, 214, 255], [255, 0, 112], [92, 255, 0], [0, 224, 255],
    [112, 224, 255], [70, 184, 160], [163, 0, 255], [153, 0, 255], [71, 255, 0], [255, 0, 163],
    [255, 204, 0], [255, 0, 143], [0, 255, 235], [133, 255, 0], [255, 0, 235], [245, 0, 255],
    [255, 0, 122], [255, 245, 0], [10, 190, 212], [214, 255, 0], [0, 204, 255], [20, 0, 255],
    [255, 255, 0], [0, 153, 255], [0, 41, 255], [0, 255, 204], [41, 0, 255], [41, 255, 0],
    [173, 0, 255], [0, 245, 255], [71, 0, 255], [122, 0, 255], [0, 255, 184], [0, 92, 255],
    [184, 255, 0], [0, 133, 255], [255, 214, 0], [25, 194, 194], [102, 255, 0], [92, 0, 255],
]  # fmt: skip

CITYSCAPES_CLASSES = (
    "road", "sidewalk", "building", "wall", "fence", "pole", "traffic light", "traffic sign",
    "vegetation", "terrain", "sky", "person", "rider", "car", "truck", "bus", "train", "motorcycle",
    "bicycle",
)  # fmt: skip

# RGB of the 19 training ids (the Cityscapes benchmark's label colours).
CITYSCAPES_PALETTE = [
    [128, 64, 128], [244, 35, 232], [70, 70, 70], [102, 102, 156], [190, 153, 153], [153, 153, 153],
    [250, 170, 30], [220, 220, 0], [107, 142, 35], [152, 251, 152], [70, 130, 180], [220, 20, 60],
    [255, 0, 0], [0, 0, 142], [0, 0, 70], [0, 60, 100], [0, 80, 100], [0, 0, 230], [119, 11, 32],
]  # fmt: skip

VOC_SEG_CLASSES = (
    "background", "aeroplane", "bicycle", "bird", "boat", "bottle", "bus", "car", "cat", "chair", "cow",
    "diningtable", "dog", "horse", "motorbike", "person", "pottedplant", "sheep", "sofa", "train",
    "tvmonitor",
)  # fmt: skip


def voc_colormap(count: int = 256) -> list[list[int]]:
    """Pascal VOC's label colours (RGB): the bits of the index spread over R, G, B from the high bit down.

    Index ``i`` gets, for each of its bit triples ``(b0, b1, b2)`` at depth ``d``, ``b0`` in red,
    ``b1`` in green and ``b2`` in blue at bit ``7 - d``; so 1 is (128, 0, 0) and 255 (the VOC
    boundary / ignore value) is (224, 224, 192).
    """
    colors = []
    for index in range(count):
        rgb = [0, 0, 0]
        value = index
        for depth in range(8):
            for channel in range(3):
                rgb[channel] |= ((value >> channel) & 1) << (7 - depth)
            value >>= 3
        colors.append(rgb)
    return colors


VOC_SEG_PALETTE = voc_colormap(len(VOC_SEG_CLASSES))


def _random_palette(count: int) -> list[list[int]]:
    """A fixed pseudo-random palette for datasets that give none (the global RNG is left alone)."""
    return np.random.default_rng(42).integers(0, 255, size=(count, 3)).tolist()


@DATASETS.register()
class BaseSegDataset(BaseDataset):
    """Images paired with label maps by name (MMSegmentation's ``BaseSegDataset``).

    Args:
        data_root: root folder joined to relative ``ann_file`` and ``data_prefix`` paths.
        data_prefix: ``dict(img_path=<image folder>, seg_map_path=<map folder>)``; without
            ``seg_map_path`` the records have no map (inference on unlabelled images).
        img_suffix: the end of every image file name (listing keeps only these files).
        seg_map_suffix: replaces ``img_suffix`` to name the map.
        ann_file: optional split file of names (without suffix, relative to the image folder), one
            per line; blank lines are skipped. Without it, every image under the folder, recursively.
        reduce_zero_label: the maps use 0 for "not a class" and k for class k - 1 (ADE20K); stored
            in each record and the metainfo, applied by ``LoadAnnotations``.
        ignore_index: the label of ignored pixels (kept for metrics and for ``label_map``).
        metainfo: ``classes`` (names), ``palette`` (RGB per class); a subset of this dataset's
            classes maps the others to ``ignore_index``.
        **kwargs: the other :class:`~visionstack.data.BaseDataset` arguments.

    Raises:
        FileNotFoundError: the image folder or the split file does not exist.
        DatasetError: no image found, a listed image or a map is missing (naming the image), or
            the requested classes are not the dataset's.
    """

    METAINFO: ClassVar[dict] = {}

    def __init__(
        self,
        data_root: str = "",
        data_prefix: Mapping[str, str] | None = None,
        img_suffix: str = ".jpg",
        seg_map_suffix: str = ".png",
        ann_file: str = "",
        reduce_zero_label: bool = False,
        ignore_index: int = 255,
        metainfo: Mapping[str, Any] | None = None,
        **kwargs: Any,
    ) -> None:
        if not img_suffix or not seg_map_suffix:
            raise ValueError(f"{type(self).__name__}: img_suffix and seg_map_suffix must not be empty")
        self.img_suffix = img_suffix
        self.seg_map_suffix = seg_map_suffix
        self.reduce_zero_label = bool(reduce_zero_label)
        self.ignore_index = int(ignore_index)
        prefixes = dict(img_path="", seg_map_path="") if data_prefix is None else dict(data_prefix)
        self.label_map: dict[int, int] | None = None
        super().__init__(
            ann_file=ann_file or "", data_root=data_root, data_prefix=prefixes, metainfo=metainfo, **kwargs
        )

    # ---- metainfo -------------------------------------------------------------------------------
    def _merge_metainfo(self, metainfo: Mapping[str, Any] | None) -> dict:
        merged = super()._merge_metainfo(metainfo)
        self.label_map = self._class_subset_map(merged.get("classes"))
        palette = (metainfo or {}).get("palette")
        merged["palette"] = self._palette(merged.get("classes"), palette, merged.get("palette"))
        merged["reduce_zero_label"] = self.reduce_zero_label
        if self.label_map is not None:
            merged["label_map"] = dict(self.label_map)
        return merged

    def _class_subset_map(self, classes: Sequence[str] | None) -> dict[int, int] | None:
        """``{old label: new label or ignore_index}`` when ``classes`` differ from the class's own."""
        own = self.METAINFO.get("classes")
        if classes is None or own is None or list(classes) == list(own):
            return None
        unknown = [name for name in classes if name not in own]
        if unknown:
            raise DatasetError(
                f"{type(self).__name__}: classes {unknown} are not classes of this dataset "
                f"(it has {len(own)}: {list(own)[:8]}...); give a subset of them"
            )
        return {
            old: (list(classes).index(name) if name in classes else self.ignore_index)
            for old, name in enumerate(own)
        }

    def _palette(
        self, classes: Sequence[str] | None, given: Sequence | None, merged: Sequence | None
    ) -> list[list[int]] | None:
        """The palette matching ``classes``: as given, the subset of the class palette, or generated."""
        if classes is None:
            return [list(color) for color in merged] if merged is not None else None
        if given is not None:
            if len(given) != len(classes):
                raise DatasetError(
                    f"{type(self).__name__}: metainfo palette has {len(given)} colours for {len(classes)} classes"
                )
            return [list(color) for color in given]
        own = self.METAINFO.get("palette")
        if own is not None and self.label_map is not None:
            chosen = sorted((new, old) for old, new in self.label_map.items() if new != self.ignore_index)
            return [list(own[old]) for _, old in chosen]
        if own is not None and len(own) == len(classes):
            return [list(color) for color in own]
        return _random_palette(len(classes))

    # ---- records --------------------------------------------------------------------------------
    def source(self) -> str:
        if self.ann_file:
            return f"split file {self.ann_file!r}"
        return f"{type(self).__name__} folder {self.data_prefix.get('img_path') or self.data_root!r}"

    def _image_names(self, img_dir: str) -> list[tuple[int, str]]:
        """``(line or position, name without suffix)`` of every image, from the split file or the folder."""
        if self.ann_file:
            if not os.path.isfile(self.ann_file):
                raise FileNotFoundError(f"{type(self).__name__}: split file not found: {self.ann_file!r}")
            with open(self.ann_file, encoding="utf-8") as handle:
                lines = [(number, line.strip()) for number, line in enumerate(handle, start=1)]
            return [(number, name) for number, name in lines if name]
        if not os.path.isdir(img_dir):
            raise FileNotFoundError(f"{type(self).__name__}: image folder not found: {img_dir!r}")
        names = []
        for folder, subfolders, files in os.walk(img_dir):
            subfolders.sort()
            for file_name in files:
                if file_name.endswith(self.img_suffix):
                    relative = os.path.relpath(os.path.join(folder, file_name), img_dir)
                    names.append(relative[: -len(self.img_suffix)])
        if not names:
            raise DatasetError(
                f"{type(self).__name__}: no image ending with {self.img_suffix!r} under {img_dir!r}"
            )
        return list(enumerate(sorted(names)))

    def load_data_list(self) -> list[dict]:
        """One record per image (sorted by path without a split file, in file order with one)."""
        img_dir = self.data_prefix.get("img_path", "")
        seg_dir = self.data_prefix.get("seg_map_path")
        unit = "line" if self.ann_file else "image"
        records = []
        for number, name in self._image_names(img_dir):
            img_path = os.path.join(img_dir, name + self.img_suffix)
            record: dict[str, Any] = {"img_path": img_path}
            if self.ann_file and not os.path.isfile(img_path):
                self.report_bad_record(
                    number, f"image {img_path!r} (name {name!r}) does not exist", unit=unit
                )
                continue
            if seg_dir is not None:
                seg_map_path = os.path.join(seg_dir, name + self.seg_map_suffix)
                if not os.path.isfile(seg_map_path):
                    self.report_bad_record(
                        number,
                        f"the label map {seg_map_path!r} of image {img_path!r} does not exist",
                        unit=unit,
                    )
                    continue
                record["seg_map_path"] = seg_map_path
            record["reduce_zero_label"] = self.reduce_zero_label
            record["seg_fields"] = []
            if self.label_map is not None:
                record["label_map"] = dict(self.label_map)
            records.append(record)
        return records


@DATASETS.register()
class ADE20KDataset(BaseSegDataset):
    """ADE20K / SceneParsing (150 classes); 0 in the maps is "other", so ``reduce_zero_label=True``.

    Use ``data_prefix=dict(img_path="images/training", seg_map_path="annotations/training")`` under
    ``ADEChallengeData2016``.
    """

    METAINFO: ClassVar[dict] = {"classes": ADE20K_CLASSES, "palette": ADE20K_PALETTE}

    def __init__(self, reduce_zero_label: bool = True, **kwargs: Any) -> None:
        super().__init__(reduce_zero_label=reduce_zero_label, **kwargs)


@DATASETS.register()
class CityscapesDataset(BaseSegDataset):
    """Cityscapes fine annotations in the 19 training ids (255 = ignore), one sub-folder per city.

    The ``*_gtFine_labelTrainIds.png`` maps are made from Cityscapes' ``labelIds`` by its scripts
    (``createTrainIdLabelImgs``). Use ``data_prefix=dict(img_path="leftImg8bit/train",
    seg_map_path="gtFine/train")``.
    """

    METAINFO: ClassVar[dict] = {"classes": CITYSCAPES_CLASSES, "palette": CITYSCAPES_PALETTE}

    def __init__(
        self,
        img_suffix: str = "_leftImg8bit.png",
        seg_map_suffix: str = "_gtFine_labelTrainIds.png",
        **kwargs: Any,
    ) -> None:
        super().__init__(img_suffix=img_suffix, seg_map_suffix=seg_map_suffix, **kwargs)


@DATASETS.register()
class PascalVOCDataset(BaseSegDataset):
    """Pascal VOC 2012 segmentation (20 classes and background); maps are palette PNGs, 255 = boundary.

    Use ``data_root="VOCdevkit/VOC2012"``, ``ann_file="ImageSets/Segmentation/train.txt"`` (required).
    ``data_prefix`` defaults to ``dict(img_path="JPEGImages", seg_map_path="SegmentationClass")``.
    """

    METAINFO: ClassVar[dict] = {"classes": VOC_SEG_CLASSES, "palette": VOC_SEG_PALETTE}

    def __init__(
        self, ann_file: str = "", data_prefix: Mapping[str, str] | None = None, **kwargs: Any
    ) -> None:
        if not ann_file:
            raise ValueError(
                "PascalVOCDataset: pass ann_file= (a split list such as ImageSets/Segmentation/train.txt)"
            )
        prefixes = (
            dict(img_path="JPEGImages", seg_map_path="SegmentationClass")
            if data_prefix is None
            else data_prefix
        )
        super().__init__(ann_file=ann_file, data_prefix=prefixes, **kwargs)


@DATASETS.register()
class SynthSegDataset(BaseSegDataset):
    """The synthetic scenes of :func:`~visionstack.tasks.segmentation.synthetic.write_synthetic_segmentation`.

    Use ``data_prefix=dict(img_path="img_dir/train", seg_map_path="ann_dir/train")``. When ``data_root``
    holds the generator's ``meta.json``, its classes must be this dataset's (a folder written by another
    version of the generator is refused rather than mislabelled).
    """

    METAINFO: ClassVar[dict] = {"classes": SEG_CLASSES, "palette": SEG_PALETTE}

    def load_data_list(self) -> list[dict]:
        meta_file = os.path.join(self.data_root, "meta.json") if self.data_root else ""
        if meta_file and os.path.isfile(meta_file):
            try:
                with open(meta_file, encoding="utf-8") as handle:
                    classes = json.load(handle).get("classes")
            except (OSError, ValueError, AttributeError) as error:
                raise DatasetError(f"SynthSegDataset: cannot read {meta_file!r}: {error}") from error
            if classes is not None and tuple(classes) != SEG_CLASSES:
                raise DatasetError(
                    f"SynthSegDataset: {meta_file!r} lists classes {classes}, not {list(SEG_CLASSES)}; "
                    "regenerate the data with `visionstack data synth segmentation`"
                )
        return super().load_data_list()
