"""Shared helpers of the action tests."""

from __future__ import annotations

import numpy as np
import pytest
import torch


def onnx_and_eager_scores(model, batches, tmp_path) -> list[tuple[np.ndarray, np.ndarray]]:
    """Export ``model.export_forward`` with the package's exporter (batch axis free, traced on ``batches[0]``) and
    return ``(onnxruntime scores, eager scores)`` for each batch."""
    ort = pytest.importorskip("onnxruntime")
    from visionstack.export.onnx_export import ExportForward, export_onnx

    model = model.eval()
    path = export_onnx(
        ExportForward(model),
        (batches[0],),
        tmp_path / "model.onnx",
        ["inputs"],
        ["scores"],
        {"inputs": {0: "batch"}},
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    pairs = []
    for batch in batches:
        with torch.no_grad():
            eager = model.export_forward(batch).numpy()
        (onnx_scores,) = session.run(None, {"inputs": batch.numpy()})
        pairs.append((onnx_scores, eager))
    return pairs
