"""Keypoint codecs: keypoints <-> training targets, MMPose-style (NumPy; ``decode_torch`` for export).

- :class:`MSRAHeatmap`: SimpleBaseline's Gaussian heatmaps; ``unbiased=True`` for DARK.
- :class:`UDPHeatmap`: unbiased data processing's heatmaps ((size - 1) scaling).
- :class:`SimCCLabel`: SimCC's 1-D bin labels (RTMPose).

Every codec has ``encode(keypoints (N, K, 2), keypoints_visible (N, K) | None) -> dict`` and
``decode(...) -> (keypoints (N, K, 2), scores (N, K))`` in input-image pixels, and a batched
``decode_torch`` that traces to ONNX. Codecs register in :data:`KEYPOINT_CODECS`;
:func:`build_codec` builds one from a config dict.
"""

from .base import KEYPOINT_CODECS, build_codec
from .heatmap_codec import HeatmapCodec, gaussian_heatmaps
from .msra_heatmap import MSRAHeatmap
from .simcc_label import SimCCLabel
from .udp_heatmap import UDPHeatmap

__all__ = [
    "KEYPOINT_CODECS",
    "HeatmapCodec",
    "MSRAHeatmap",
    "SimCCLabel",
    "UDPHeatmap",
    "build_codec",
    "gaussian_heatmaps",
]
