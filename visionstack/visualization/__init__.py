"""Pictures: confusion matrices, training curves, predictions drawn on images."""

from .classification import draw_classification
from .confusion_matrix import plot_confusion_matrix
from .detection import draw_detections
from .segmentation import draw_sem_seg, seg_palette_bgr
from .training_curves import SCALARS_FILE, plot_logs, read_scalars

__all__ = [
    "SCALARS_FILE",
    "draw_classification",
    "draw_detections",
    "draw_sem_seg",
    "seg_palette_bgr",
    "plot_confusion_matrix",
    "plot_logs",
    "read_scalars",
]
