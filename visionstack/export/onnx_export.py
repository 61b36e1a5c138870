"""``torch.onnx.export`` (the ``torch.export``-based exporter) with this package's operators.

A model is exported through its ``export_forward`` method (plain tensors in, a tuple of tensors
out); :class:`ExportForward` makes that method the ``forward`` the exporter traces.
"""

from __future__ import annotations

import contextlib
import logging
import warnings
from collections.abc import Iterator, Mapping, Sequence
from pathlib import Path

import torch
from torch import nn

from ..models.ops.onnx_translations import ONNX_TRANSLATIONS

__all__ = ["ExportForward", "export_onnx", "quiet_exporter"]

OPSET = 18


class ExportForward(nn.Module):
    """``forward(*tensors) = model.export_forward(*tensors)``, the model's weights shared."""

    def __init__(self, model: nn.Module) -> None:
        super().__init__()
        if not hasattr(model, "export_forward"):
            raise TypeError(
                f"{type(model).__name__} has no export_forward(): this model type cannot be exported yet"
            )
        self.model = model

    def forward(
        self,
        inputs: torch.Tensor,
        img_shape: torch.Tensor | None = None,
        scale_factor: torch.Tensor | None = None,
    ) -> tuple[torch.Tensor, ...]:
        extra = [value for value in (img_shape, scale_factor) if value is not None]
        outputs = self.model.export_forward(inputs, *extra)
        return tuple(outputs) if isinstance(outputs, (tuple, list)) else (outputs,)


@contextlib.contextmanager
def quiet_exporter() -> Iterator[None]:
    """Silence the exporter's progress lines and its 'torchvision is not installed' notes."""
    names = ("torch.onnx._internal.exporter._registration", "torch.onnx", "onnxscript")
    loggers = [logging.getLogger(name) for name in names]
    levels = [logger.level for logger in loggers]
    for logger in loggers:
        logger.setLevel(logging.ERROR)
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            with contextlib.redirect_stdout(None):
                yield
    finally:
        for logger, level in zip(loggers, levels):
            logger.setLevel(level)


def export_onnx(
    module: nn.Module,
    args: Sequence[torch.Tensor],
    path: str | Path,
    input_names: Sequence[str],
    output_names: Sequence[str],
    dynamic_axes: Mapping[str, Mapping[int, str]] | None = None,
) -> Path:
    """Export ``module(*args)`` to an ONNX file.

    Args:
        module: a module in eval mode, e.g. :class:`ExportForward` around a model.
        args: sample inputs (their shapes fix every axis not named in ``dynamic_axes``).
        path: the ``.onnx`` file to write (one file: weights are embedded).
        input_names / output_names: graph input and output names, in order.
        dynamic_axes: per input name, ``{axis: symbolic name}`` of the axes left free; inputs
            sharing a symbolic name (e.g. the batch) must agree at run time.

    Returns:
        The path written.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    dynamic_axes = dict(dynamic_axes or {})
    unknown = set(dynamic_axes) - set(input_names)
    if unknown:
        raise KeyError(f"dynamic_axes names {sorted(unknown)}, not among the inputs {list(input_names)}")
    dims: dict[str, torch.export.Dim] = {}
    dynamic_shapes = []
    for name in input_names:
        axes = dynamic_axes.get(name) or {}
        dynamic_shapes.append(
            {axis: dims.setdefault(label, torch.export.Dim(label, min=1)) for axis, label in axes.items()}
            or None
        )
    module = module.eval()
    with quiet_exporter(), torch.no_grad():
        program = torch.onnx.export(
            module,
            tuple(args),
            dynamo=True,
            opset_version=OPSET,
            input_names=list(input_names),
            output_names=list(output_names),
            dynamic_shapes=tuple(dynamic_shapes) if dynamic_axes else None,
            custom_translation_table=dict(ONNX_TRANSLATIONS),
            external_data=False,
            verbose=False,
        )
    program.save(str(path), external_data=False)
    return path
