"""Necks: map a backbone's tuple of features to a tuple of features."""

from .global_average_pooling import GlobalAveragePooling

__all__ = ["GlobalAveragePooling"]
