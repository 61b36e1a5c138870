"""Multi-object trackers (NumPy only): SORT, DeepSORT, ByteTrack and OC-SORT on one base class."""

from .base import BaseTracker, Detections, TrackOutput
from .bytetrack import ByteTracker
from .deepsort import DeepSortTracker
from .ocsort import OCSortTracker
from .sort import SortTracker

__all__ = [
    "BaseTracker",
    "ByteTracker",
    "DeepSortTracker",
    "Detections",
    "OCSortTracker",
    "SortTracker",
    "TrackOutput",
]
