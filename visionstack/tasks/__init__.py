"""Task libraries: what is special to one task (models, heads, datasets, metrics)."""

from . import classification, detection, segmentation  # noqa: F401
