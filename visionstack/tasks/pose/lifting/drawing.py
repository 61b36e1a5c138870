"""Pictures of lifted poses: the 2D input of a few frames above their 3D skeletons (matplotlib, Agg).

The 3D panels show the root-relative camera-frame joints turned so that "up" in the image is up on the page
(camera y down -> plot z up) and depth goes into the page; the prediction is drawn in the H36M limb colours
(left green, right orange, centre blue), the ground truth, when known, in dashed grey.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np

from ..metainfo import H36M_KEYPOINTS

__all__ = ["draw_lifting"]


def _colour(rgb: Sequence[int]) -> tuple[float, float, float]:
    return tuple(channel / 255 for channel in rgb)  # type: ignore[return-value]


def _frames_to_show(count: int, wanted: int) -> list[int]:
    return sorted({int(round(value)) for value in np.linspace(0, count - 1, min(wanted, count))})


def draw_lifting(
    keypoints_3d: np.ndarray,
    ground_truth: np.ndarray | None = None,
    keypoints_2d: np.ndarray | None = None,
    image_size: tuple[int, int] | None = None,
    num_frames: int = 4,
    title: str | None = None,
) -> np.ndarray:
    """A (H, W, 3) uint8 BGR picture of up to ``num_frames`` frames spread over the sequence.

    Args:
        keypoints_3d: (F, 17, 3) predicted root-relative joints, camera frame, mm.
        ground_truth: (F, 17, 3) the true joints (same frame), or None.
        keypoints_2d: (F, 17, 2) the 2D inputs in pixels, drawn above the 3D panels, or None.
        image_size: (w, h) of the camera image the 2D keypoints are in (named in the 2D panels' titles).
        num_frames: how many frames to show.
        title: a line above the picture (e.g. the sequence's name).
    """
    from matplotlib.backends.backend_agg import FigureCanvasAgg
    from matplotlib.figure import Figure

    predicted = np.asarray(keypoints_3d, dtype=np.float64)
    if predicted.ndim != 3 or predicted.shape[-1] != 3:
        raise ValueError(
            f"draw_lifting: keypoints_3d must be (frames, joints, 3), got shape {predicted.shape}"
        )
    frames = _frames_to_show(len(predicted), num_frames)
    rows = 2 if keypoints_2d is not None else 1
    figure = Figure(figsize=(3.2 * len(frames), 3.6 * rows), dpi=80)
    FigureCanvasAgg(figure)
    grid = figure.add_gridspec(rows, len(frames), height_ratios=[1.0, 1.25][-rows:] if rows == 2 else [1.0])
    limbs, colours = H36M_KEYPOINTS["skeleton"], [_colour(c) for c in H36M_KEYPOINTS["skeleton_colors"]]
    shown = [predicted[frames]] + (
        [] if ground_truth is None else [np.asarray(ground_truth, np.float64)[frames]]
    )
    extent = max(1.0, max(float(np.abs(joints).max()) for joints in shown)) * 1.05
    window = None if keypoints_2d is None else _window_2d(np.asarray(keypoints_2d, np.float64)[frames])
    for column, frame in enumerate(frames):
        if keypoints_2d is not None:
            axes = figure.add_subplot(grid[0, column])
            points = np.asarray(keypoints_2d, dtype=np.float64)[frame]
            for (a, b), colour in zip(limbs, colours):
                axes.plot(points[[a, b], 0], points[[a, b], 1], color=colour, linewidth=2)
            axes.set_xlim(window[0], window[2])
            axes.set_ylim(window[3], window[1])
            axes.set_aspect("equal")
            size = f" of {image_size[0]}x{image_size[1]}" if image_size else ""
            axes.set_title(f"2D input (px{size}), frame {frame}", fontsize=9)
            axes.tick_params(labelsize=6)
        axes = figure.add_subplot(grid[rows - 1, column], projection="3d")
        _skeleton_3d(axes, predicted[frame], limbs, colours, "-")
        if ground_truth is not None:
            grey = [(0.5, 0.5, 0.5)] * len(limbs)
            _skeleton_3d(axes, np.asarray(ground_truth, dtype=np.float64)[frame], limbs, grey, "--")
        for setter in (axes.set_xlim, axes.set_ylim, axes.set_zlim):
            setter(-extent, extent)
        axes.set_box_aspect((1, 1, 1))
        axes.view_init(elev=15, azim=-70)
        truth = " - truth dashed" if ground_truth is not None else ""
        axes.set_title(f"3D (mm), frame {frame}{truth}", fontsize=9)
        axes.tick_params(labelsize=6)
    if title:
        figure.suptitle(title, fontsize=10)
    figure.tight_layout()
    figure.canvas.draw()
    rgba = np.asarray(figure.canvas.buffer_rgba())
    return np.ascontiguousarray(rgba[..., 2::-1])  # RGBA -> BGR


def _window_2d(points: np.ndarray) -> tuple[float, float, float, float]:
    """(x1, y1, x2, y2) pixels: the square around the shown keypoints, with a 25 % margin."""
    low, high = points.reshape(-1, 2).min(axis=0), points.reshape(-1, 2).max(axis=0)
    centre, half = (low + high) / 2, max(float((high - low).max()) * 0.625, 1.0)
    return centre[0] - half, centre[1] - half, centre[0] + half, centre[1] + half


def _skeleton_3d(axes, joints: np.ndarray, limbs, colours, style: str) -> None:
    """Camera frame (x right, y down, z depth) drawn with plot axes (x, depth, up) = (x, z, -y)."""
    shown = np.stack([joints[:, 0], joints[:, 2], -joints[:, 1]], axis=-1)
    for (a, b), colour in zip(limbs, colours):
        axes.plot(shown[[a, b], 0], shown[[a, b], 1], shown[[a, b], 2], style, color=colour, linewidth=2)
