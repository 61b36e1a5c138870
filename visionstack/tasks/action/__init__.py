"""Action recognition (MMAction2's scope): video, raw-frame and skeleton datasets decoded with PyAV, clip
sampling and clip-wide augmentation, TSN / TSM / R(2+1)D / ST-GCN, top-k and mean class accuracy, a synthetic
set whose classes need time, windowed inference over videos, and the temporal analysis of a trained model."""

from ...utils.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(
    __name__,
    (
        "sampling",
        "windows",
        "datasets",
        "transforms",
        "skeleton_transforms",
        "multiscale_crop",
        "synthetic",
        "synthetic_skeleton",
        "models",
        "metrics",
        "results",
        "records",
        "drawing",
        "runtime",
        "analysis",
    ),
)
