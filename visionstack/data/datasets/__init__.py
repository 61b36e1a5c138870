"""Dataset formats shared by tasks: classification folders and lists, COCO, and the bundled digits."""

from .classification import IMG_EXTENSIONS, ImageFolder, ImageList, read_image_list, scan_image_folder
from .coco import CocoDataset, parse_coco_annotation
from .digits import Digits, write_digits

__all__ = [
    "CocoDataset",
    "IMG_EXTENSIONS",
    "parse_coco_annotation",
    "ImageFolder",
    "ImageList",
    "read_image_list",
    "scan_image_folder",
    "Digits",
    "write_digits",
]
