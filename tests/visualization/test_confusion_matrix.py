"""plot_confusion_matrix writes a readable PNG."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from visionstack.visualization import plot_confusion_matrix


def load_gray(path) -> np.ndarray:
    return np.asarray(Image.open(path).convert("L"), dtype=np.float64)


@pytest.mark.parametrize("normalize", [False, True])
def test_writes_a_non_trivial_png(tmp_path, normalize):
    counts = torch.tensor([[50, 3, 0], [4, 40, 6], [0, 10, 30]])
    path = plot_confusion_matrix(
        counts, ["cat", "dog", "bird"], tmp_path / "nested" / "cm.png", normalize=normalize
    )
    assert path.is_file() and path.stat().st_size > 5_000
    pixels = load_gray(path)
    assert pixels.std() > 10 and (pixels < 60).any() and (pixels > 240).any()


def test_darker_cells_for_larger_counts(tmp_path):
    """The heat map encodes the counts: a matrix with a heavy diagonal is darker along it."""
    diagonal = plot_confusion_matrix(np.diag([100, 100]), None, tmp_path / "diag.png")
    off_diagonal = plot_confusion_matrix(np.array([[0, 100], [100, 0]]), None, tmp_path / "off.png")
    a, b = load_gray(diagonal), load_gray(off_diagonal)
    assert a.shape == b.shape
    h, w = a.shape
    top_left = (slice(int(0.2 * h), int(0.4 * h)), slice(int(0.15 * w), int(0.35 * w)))
    assert a[top_left].mean() < b[top_left].mean() - 50


def test_many_classes_and_errors(tmp_path):
    big = np.random.default_rng(0).integers(0, 5, size=(60, 60))
    assert plot_confusion_matrix(big, None, tmp_path / "big.png").is_file()
    with pytest.raises(ValueError, match="3x3 but 2 class names"):
        plot_confusion_matrix(np.eye(3), ["a", "b"], tmp_path / "x.png")
    with pytest.raises(ValueError, match=r"expected a \(C, C\) matrix"):
        plot_confusion_matrix(np.ones((2, 3)), None, tmp_path / "x.png")
