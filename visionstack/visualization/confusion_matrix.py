"""Draw a confusion matrix as a PNG heat map with the values written in the cells."""

from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

import numpy as np
import torch

__all__ = ["plot_confusion_matrix"]

MAX_CLASSES_WITH_VALUES = 40  # beyond this the cells are too small for legible numbers


def plot_confusion_matrix(
    matrix: torch.Tensor | np.ndarray,
    class_names: Sequence[str] | None,
    out_path: str | Path,
    normalize: bool = False,
) -> Path:
    """Write ``matrix`` as a heat map (matplotlib, Agg) with a colour bar.

    Args:
        matrix: (C, C) counts; row = ground-truth class, column = predicted class.
        class_names: C names for the axes; None numbers the classes 0..C-1.
        out_path: the PNG to write (parent folders are created).
        normalize: show each row as percentages of its ground-truth class (rows without samples
            stay 0) instead of counts.

    Returns:
        ``out_path`` as a Path. Cells hold their value when C <= 40.
    """
    counts = _as_square_array(matrix)
    num_classes = counts.shape[0]
    names = [str(i) for i in range(num_classes)] if class_names is None else [str(n) for n in class_names]
    if len(names) != num_classes:
        raise ValueError(
            f"plot_confusion_matrix: the matrix is {num_classes}x{num_classes} but {len(names)} class names were given"
        )
    values = _row_percentages(counts) if normalize else counts.astype(np.float64)
    figure = _draw(values, counts, names, normalize)
    out_path = Path(out_path)
    out_path.parent.mkdir(parents=True, exist_ok=True)
    figure.savefig(out_path, dpi=110, bbox_inches="tight")
    return out_path


def _as_square_array(matrix: torch.Tensor | np.ndarray) -> np.ndarray:
    array = matrix.detach().cpu().numpy() if isinstance(matrix, torch.Tensor) else np.asarray(matrix)
    if array.ndim != 2 or array.shape[0] != array.shape[1] or array.shape[0] == 0:
        raise ValueError(f"plot_confusion_matrix: expected a (C, C) matrix, got shape {array.shape}")
    return array


def _row_percentages(counts: np.ndarray) -> np.ndarray:
    totals = counts.sum(axis=1, keepdims=True).astype(np.float64)
    return np.divide(counts * 100.0, totals, out=np.zeros(counts.shape, dtype=np.float64), where=totals > 0)


def _draw(values: np.ndarray, counts: np.ndarray, names: list[str], normalize: bool):
    from matplotlib.figure import Figure  # imported here: `import visionstack` stays light

    num_classes = len(names)
    side = min(30.0, max(4.5, 0.5 * num_classes + 2.5))
    figure = Figure(figsize=(side + 1.2, side))
    axes = figure.add_subplot()
    image = axes.imshow(values, cmap="Blues", vmin=0.0, vmax=100.0 if normalize else max(values.max(), 1.0))
    colorbar = figure.colorbar(image, ax=axes, fraction=0.046, pad=0.04)
    colorbar.set_label("% of the true class" if normalize else "number of samples")
    ticks = np.arange(num_classes)
    axes.set_xticks(ticks, labels=names, rotation=45, ha="right", rotation_mode="anchor")
    axes.set_yticks(ticks, labels=names)
    axes.set_xlabel("predicted label")
    axes.set_ylabel("ground-truth label")
    title = "Confusion matrix" + (" (row-normalized, %)" if normalize else "")
    axes.set_title(f"{title}, {int(counts.sum())} samples")
    if num_classes <= MAX_CLASSES_WITH_VALUES:
        cell_points = 72.0 * 0.75 * side / num_classes  # the heat map spans about 3/4 of the figure
        _write_cell_values(
            axes, values, normalize, image.norm.vmax, font_size=min(11.0, max(5.0, 0.3 * cell_points))
        )
    return figure


def _write_cell_values(axes, values: np.ndarray, normalize: bool, vmax: float, font_size: float) -> None:
    num_classes = values.shape[0]
    for row in range(num_classes):
        for column in range(num_classes):
            value = values[row, column]
            text = f"{value:.1f}" if normalize else f"{int(round(value))}"
            # White on dark cells, black on light ones, so every number stays readable.
            colour = "white" if value > 0.55 * vmax else "black"
            axes.text(column, row, text, ha="center", va="center", color=colour, fontsize=font_size)
