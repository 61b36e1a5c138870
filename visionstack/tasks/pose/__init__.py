"""Pose estimation (MMPose's scope): COCO-keypoints data and the top-down instance view, keypoint codecs
(MSRA/DARK and UDP heatmaps, SimCC), SimpleBaseline and RTMPose, OKS/PCK metrics, and 2D -> 3D lifting
(``lifting``: VideoPose3D's temporal convolutions, the simple-baseline MLP, MPJPE metrics)."""

from ...utils.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(
    __name__,
    ("metainfo", "codecs", "losses", "datasets", "transforms", "models", "metrics", "synthetic", "drawing"),
)
