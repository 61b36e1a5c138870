"""2D -> 3D human pose lifting (VideoPose3D's temporal convolutions, the simple-baseline MLP) on keypoint
sequences: the sequence file format, synthetic multi-camera motion data, datasets of receptive-field windows,
the lifter models, MPJPE / P-MPJPE / N-MPJPE / MPJVE metrics, drawings and the ``pose3d`` task adapter."""

from ....utils.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(
    __name__,
    (
        "camera",
        "sequences",
        "synthetic",
        "datasets",
        "transforms",
        "preprocessor",
        "temporal_conv",
        "simple_baseline",
        "lifter",
        "metrics",
        "results",
        "records",
        "drawing",
        "runtime",
        "h36m",
    ),
)
