"""Pictures shared by every task: drawing primitives, confusion matrices, training curves.

What a task draws (its predictions, its ground truth) lives in ``tasks/<task>/drawing.py``.
"""

from .confusion_matrix import plot_confusion_matrix
from .primitives import as_bgr, blend_canvas, class_color, draw_labels, text_color
from .training_curves import SCALARS_FILE, plot_logs, read_scalars

__all__ = [
    "SCALARS_FILE",
    "as_bgr",
    "blend_canvas",
    "class_color",
    "draw_labels",
    "plot_confusion_matrix",
    "plot_logs",
    "read_scalars",
    "text_color",
]
