"""Detection and instance segmentation (MMDetection's scope): VOC and mixing datasets, transforms,
detectors and heads, COCO/VOC metrics, the synthetic shapes, drawing and the task adapter."""

from ...utils.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(
    __name__, ("datasets", "mix_dataset", "transforms", "models", "metrics", "synthetic", "drawing")
)
