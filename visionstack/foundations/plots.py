"""Pictures for the course: decision boundaries, training curves, the activation gallery.

Uses matplotlib's object-oriented API (``Figure`` rendered by the Agg canvas), so no
GUI backend and no global ``pyplot`` state is involved; every function writes one PNG.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path

import numpy as np
from matplotlib.axes import Axes
from matplotlib.figure import Figure

from .activations import ACTIVATION_NAMES, get_activation

ScoreFunction = Callable[[np.ndarray], np.ndarray]


@dataclass
class BoundaryPanel:
    """One 2-D classification problem to draw with a classifier's decision boundary.

    Attributes:
        title: Panel title.
        score: Maps points ``(m, 2)`` to scores ``(m,)``; the boundary is ``score == threshold``.
        points: Data points ``(n, 2)``.
        labels: Their labels in {0, 1}.
        threshold: Score level separating the classes (0.5 for probabilities, 0 for logits).
    """

    title: str
    score: ScoreFunction
    points: np.ndarray
    labels: np.ndarray
    threshold: float = 0.5


def _draw_boundary(axes: Axes, panel: BoundaryPanel, resolution: int = 200) -> None:
    """Shade the classifier's score over a grid, draw its boundary line and the data."""
    margin = 0.5
    low = panel.points.min(axis=0) - margin
    high = panel.points.max(axis=0) + margin
    grid_x, grid_y = np.meshgrid(
        np.linspace(low[0], high[0], resolution), np.linspace(low[1], high[1], resolution)
    )
    grid = np.column_stack([grid_x.ravel(), grid_y.ravel()])
    scores = np.asarray(panel.score(grid), dtype=np.float64).reshape(grid_x.shape)
    predicted_class = (scores >= panel.threshold).astype(float)
    axes.contourf(grid_x, grid_y, predicted_class, levels=[-0.5, 0.5, 1.5], colors=["#c6dbef", "#fdd0a2"])
    if scores.min() < panel.threshold < scores.max():
        axes.contour(grid_x, grid_y, scores, levels=[panel.threshold], colors="black", linewidths=1.5)
    for label, color, marker in ((0, "#2171b5", "o"), (1, "#d94801", "s")):
        members = panel.points[np.asarray(panel.labels).reshape(-1) == label]
        axes.scatter(
            members[:, 0],
            members[:, 1],
            c=color,
            marker=marker,
            s=24,
            edgecolors="white",
            linewidths=0.5,
            label=f"class {label}",
        )
    axes.set_title(panel.title)
    axes.set_xlim(low[0], high[0])
    axes.set_ylim(low[1], high[1])
    axes.legend(loc="upper right", fontsize=8)


def save_decision_boundaries(path: Path, panels: Sequence[BoundaryPanel], suptitle: str = "") -> Path:
    """Write one PNG with a decision-boundary panel per problem, side by side.

    Args:
        path: Output PNG path.
        panels: The problems and classifiers to draw.
        suptitle: Figure title.

    Returns:
        ``path``.
    """
    figure = Figure(figsize=(4.5 * len(panels), 4.2))
    for index, panel in enumerate(panels):
        _draw_boundary(figure.add_subplot(1, len(panels), index + 1), panel)
    if suptitle:
        figure.suptitle(suptitle)
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    return path


def save_curves(
    path: Path,
    curves: Mapping[str, Sequence[float]],
    title: str,
    ylabel: str,
    xlabel: str = "epoch",
    log_scale: bool = False,
) -> Path:
    """Write a PNG of one or more per-epoch curves (losses, mistakes, accuracies).

    Args:
        path: Output PNG path.
        curves: Curve label to values, one value per epoch.
        title: Plot title.
        ylabel: Y-axis label.
        xlabel: X-axis label.
        log_scale: Use a logarithmic y-axis.

    Returns:
        ``path``.
    """
    figure = Figure(figsize=(6.0, 4.0))
    axes = figure.add_subplot(1, 1, 1)
    for label, values in curves.items():
        axes.plot(
            np.arange(1, len(values) + 1), values, marker="." if len(values) < 30 else None, label=label
        )
    if log_scale:
        axes.set_yscale("log")
    axes.set_title(title)
    axes.set_xlabel(xlabel)
    axes.set_ylabel(ylabel)
    axes.grid(alpha=0.3)
    axes.legend()
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    return path


GALLERY_PARAMS: dict[str, dict[str, float]] = {"leaky_relu": {"negative_slope": 0.1}}
"""Hyper-parameters used in the gallery where the default would be invisible (slope 0.01)."""


def activation_curves(name: str, x: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Values and derivatives of an activation along ``x``, for plotting.

    Element-wise activations are evaluated directly. Softmax and log-softmax act on
    vectors, so they are shown on the two logits ``[x, 0]``: the first output and
    ``d output_0 / d x`` (the Jacobian's top-left entry).
    """
    activation = get_activation(name, **GALLERY_PARAMS.get(name, {}))
    if activation.elementwise:
        return activation(x), activation.gradient(x)
    logits = np.column_stack([x, np.zeros_like(x)])
    return activation(logits)[:, 0], activation.gradient(logits)[:, 0, 0]


def save_activation_gallery(path: Path) -> Path:
    """Write one PNG plotting every activation (solid) and its derivative (dashed) on [-4, 4].

    Returns:
        ``path``.
    """
    x = np.linspace(-4.0, 4.0, 801)
    columns = 4
    rows = -(-len(ACTIVATION_NAMES) // columns)
    figure = Figure(figsize=(4.0 * columns, 3.0 * rows))
    for index, name in enumerate(ACTIVATION_NAMES):
        axes = figure.add_subplot(rows, columns, index + 1)
        values, derivatives = activation_curves(name, x)
        axes.plot(x, values, color="#08519c", linewidth=2, label="f(x)")
        axes.plot(x, derivatives, color="#cb181d", linestyle="--", linewidth=1.5, label="f'(x)")
        axes.axhline(0.0, color="gray", linewidth=0.5)
        axes.axvline(0.0, color="gray", linewidth=0.5)
        details = [f"{key}={value}" for key, value in GALLERY_PARAMS.get(name, {}).items()]
        if not get_activation(name).elementwise:
            details.append("on [x, 0], output 0")
        axes.set_title(f"{name} ({', '.join(details)})" if details else name, fontsize=10)
        axes.grid(alpha=0.3)
        axes.legend(fontsize=8, loc="best")
    figure.suptitle("Activation functions (solid) and their derivatives (dashed)")
    figure.tight_layout()
    figure.savefig(path, dpi=80)
    return path


def save_digit_predictions(
    path: Path, images: np.ndarray, labels: np.ndarray, predictions: np.ndarray, count: int = 24
) -> Path:
    """Write a PNG grid of 8x8 digit images titled ``predicted (true)``, mistakes in red.

    Args:
        path: Output PNG path.
        images: Images of shape ``(n, 8, 8)`` (or flattened ``(n, 64)``).
        labels: True classes.
        predictions: Predicted classes.
        count: How many images to show (the first ones).

    Returns:
        ``path``.
    """
    count = min(count, len(images))
    columns = 8
    rows = -(-count // columns)
    figure = Figure(figsize=(1.4 * columns, 1.6 * rows))
    for index in range(count):
        axes = figure.add_subplot(rows, columns, index + 1)
        axes.imshow(np.asarray(images[index]).reshape(8, 8), cmap="gray_r")
        correct = predictions[index] == labels[index]
        axes.set_title(
            f"{predictions[index]} ({labels[index]})", color="black" if correct else "red", fontsize=9
        )
        axes.set_xticks([])
        axes.set_yticks([])
    figure.suptitle("Digits test set: predicted (true)")
    figure.tight_layout()
    figure.savefig(path, dpi=90)
    return path
