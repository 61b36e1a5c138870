"""BaseModel: the one model contract every task follows (see docs/contracts.md).

A model owns its data preprocessor and answers three modes of ``forward``:
``"loss"`` (dict of named loss tensors), ``"predict"`` (list of DataSample with ``pred_*`` fields) and
``"tensor"`` (raw outputs, what export traces). The engine only calls ``train_step``, ``val_step``
and ``test_step``.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar, Protocol

import torch
from torch import nn

from .data_preprocessor import DataPreprocessor

MODES = ("loss", "predict", "tensor")
_MODE_METHODS = {"loss": "loss", "predict": "predict", "tensor": "forward_tensor"}


class OptimWrapperLike(Protocol):
    """What ``train_step`` needs from the optimizer wrapper (visionstack.engine.OptimWrapper)."""

    def optim_context(self, model: nn.Module) -> Any: ...

    def update_params(self, loss: torch.Tensor) -> None: ...


class BaseModel(nn.Module):
    """Base of every task model.

    Subclasses implement the three modes as methods:

    - ``loss(inputs, data_samples) -> dict[str, Tensor | list[Tensor]]``
    - ``predict(inputs, data_samples) -> list[DataSample]``
    - ``forward_tensor(inputs, data_samples=None) -> Tensor | tuple``

    (or override :meth:`forward` entirely).

    Args:
        data_preprocessor: a built preprocessor module; a plain dict (without ``type``) is taken as
            :class:`DataPreprocessor` keyword arguments; None gives a ``DataPreprocessor()`` that
            casts to float, stacks and moves to the device, without normalisation.
    """

    task: ClassVar[str | None] = None  # the name of its TASKS adapter (visionstack.tasks.adapter)

    def __init__(self, data_preprocessor: nn.Module | Mapping[str, Any] | None = None) -> None:
        super().__init__()
        if data_preprocessor is None:
            data_preprocessor = DataPreprocessor()
        elif isinstance(data_preprocessor, Mapping):
            data_preprocessor = DataPreprocessor(**data_preprocessor)
        elif not callable(data_preprocessor):
            raise TypeError(
                f"{type(self).__name__}: data_preprocessor must be a module, a dict of DataPreprocessor "
                f"arguments or None, got {type(data_preprocessor).__name__}"
            )
        self.data_preprocessor = data_preprocessor

    def forward(self, inputs: torch.Tensor, data_samples: list | None = None, mode: str = "tensor") -> Any:
        """Run one of the modes ``"loss"``, ``"predict"``, ``"tensor"`` on a preprocessed batch.

        Args:
            inputs: (N, C, H, W) float batch from the data preprocessor.
            data_samples: one DataSample per image (``gt_*`` fields for ``"loss"``).
            mode: which output to produce.
        """
        if mode not in _MODE_METHODS:
            raise ValueError(
                f"{type(self).__name__}.forward: unknown mode {mode!r}; use one of {', '.join(map(repr, MODES))}"
            )
        method = getattr(self, _MODE_METHODS[mode], None)
        if method is None:
            raise TypeError(
                f"{type(self).__name__} does not support mode {mode!r}: it defines no "
                f"{_MODE_METHODS[mode]}(inputs, data_samples) method"
            )
        return method(inputs, data_samples)

    def extract_feat(self, inputs: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Multi-level features (N, C_l, H_l, W_l) of a preprocessed (N, 3, H, W) batch.

        The frame of the detectors and segmentors: ``self.backbone`` (a tensor or a sequence of
        them), then ``self.neck`` on that tuple when it is not None. Models of another frame
        override this.
        """
        feats = self.backbone(inputs)
        if isinstance(feats, torch.Tensor):
            feats = (feats,)
        if self.neck is not None:
            feats = self.neck(tuple(feats))
        return tuple(feats)

    def train_step(self, data: dict[str, Any], optim_wrapper: OptimWrapperLike) -> dict[str, float]:
        """One optimisation step on a collated batch; returns the logged loss values."""
        with optim_wrapper.optim_context(self):
            data = self.data_preprocessor(data, training=True)
            losses = self(**data, mode="loss")
        loss, log_vars = self.parse_losses(losses)
        optim_wrapper.update_params(loss)
        return log_vars

    def val_step(self, data: dict[str, Any]) -> list:
        """Predictions for a collated validation batch (call under ``torch.no_grad()``)."""
        data = self.data_preprocessor(data, training=False)
        return self(**data, mode="predict")

    def test_step(self, data: dict[str, Any]) -> list:
        """Predictions for a collated test batch (call under ``torch.no_grad()``)."""
        data = self.data_preprocessor(data, training=False)
        return self(**data, mode="predict")

    @staticmethod
    def parse_losses(losses: Mapping[str, Any]) -> tuple[torch.Tensor, dict[str, float]]:
        """Sum the entries whose name contains ``"loss"``.

        Args:
            losses: name -> tensor (averaged if not scalar) or list of tensors (summed).

        Returns:
            The total loss (a scalar tensor with graph) and ``log_vars``: ``{"loss": total, name:
            value, ...}`` as floats, the total first.
        """
        values: dict[str, torch.Tensor] = {}
        for name, value in losses.items():
            if isinstance(value, torch.Tensor):
                values[name] = value.mean()
            elif (
                isinstance(value, (list, tuple)) and value and all(isinstance(v, torch.Tensor) for v in value)
            ):
                values[name] = sum(v.mean() for v in value)
            else:
                raise TypeError(
                    f"parse_losses: {name!r} must be a tensor or a list of tensors, got {type(value)}"
                )
        loss_terms = [value for name, value in values.items() if "loss" in name]
        if not loss_terms:
            raise ValueError(
                f"parse_losses: no entry name contains 'loss' (got {sorted(values)}); nothing to optimise"
            )
        total = sum(loss_terms)
        log_vars = {"loss": total.item()}
        log_vars.update({name: value.item() for name, value in values.items() if name != "loss"})
        return total, log_vars
