"""Image classification (MMPretrain's scope): datasets (folders, lists, the bundled digits),
ImageClassifier and its heads, metrics, drawing and the task adapter."""

from ...utils.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(
    __name__,
    (
        "datasets",
        "digits",
        "classifier",
        "heads",
        "metrics",
        "drawing",
        "data_preprocessor",
        "batch_augments",
    ),
)
