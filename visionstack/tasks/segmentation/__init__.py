"""Semantic segmentation (MMSegmentation's scope): datasets, PackSegInputs, EncoderDecoder and its
heads, the IoU metric, the synthetic scenes, drawing and the task adapter."""

from ...utils.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(
    __name__, ("datasets", "transforms", "models", "metrics", "synthetic", "drawing")
)
