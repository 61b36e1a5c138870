"""Dataset formats shared by tasks: classification folders and lists, and the bundled digits."""

from .classification import IMG_EXTENSIONS, ImageFolder, ImageList, read_image_list, scan_image_folder
from .digits import Digits, write_digits

__all__ = [
    "IMG_EXTENSIONS",
    "ImageFolder",
    "ImageList",
    "read_image_list",
    "scan_image_folder",
    "Digits",
    "write_digits",
]
