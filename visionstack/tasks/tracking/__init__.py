"""Multi-object tracking (MMTracking's MOT scope): the MOT Challenge layout and PyAV video reading, a synthetic
MOT writer, Kalman filters and association costs, SORT / DeepSORT / ByteTrack / OC-SORT with camera-motion
compensation and timestamp-aware prediction, a re-identification net, HOTA/CLEAR/Identity metrics through
trackeval, and an error gallery of id switches and fragmentations."""

from ...utils.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(
    __name__,
    (
        "metainfo",
        "mot_format",
        "video",
        "synthetic",
        "box_formats",
        "kalman_xyah",
        "kalman_xysr",
        "assignment",
        "costs",
        "camera_motion",
        "interpolation",
        "evaluation",
        "metrics",
        "error_gallery",
        "trackers",
        "models",
        "datasets",
        "reid",
    ),
)
