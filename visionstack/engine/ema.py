"""Exponential moving average of a model's weights (Polyak averaging with an exponential window).

MMEngine's convention: ``average = (1 - momentum) * average + momentum * weight`` after every
``interval`` updates, with a small ``momentum`` such as 2e-4 (i.e. a decay of 0.9998).
"""

from __future__ import annotations

import copy

import torch
from torch import nn

__all__ = ["ExponentialMovingAverage"]


class ExponentialMovingAverage(nn.Module):
    """Keeps an averaged copy of ``model`` in ``self.module``.

    Args:
        model: the model being trained (copied; the copy never requires grad).
        momentum: weight of the new value in each update, in (0, 1).
        interval: update every ``interval`` calls of :meth:`update_parameters`.
        update_buffers: average floating-point buffers (BatchNorm statistics) too; when False they
            are copied from the model at each update. Integer buffers are always copied.
    """

    def __init__(
        self, model: nn.Module, momentum: float = 0.0002, interval: int = 1, update_buffers: bool = True
    ) -> None:
        super().__init__()
        if not 0.0 < momentum < 1.0:
            raise ValueError(f"EMA momentum must be in (0, 1), got {momentum}")
        self.module = copy.deepcopy(model).requires_grad_(False)
        self.momentum = momentum
        self.interval = interval
        self.update_buffers = update_buffers
        self.steps = 0  # a Python int (no device sync to read it); saved through get_extra_state

    def get_extra_state(self) -> dict[str, int]:
        return {"steps": self.steps}

    def set_extra_state(self, state: dict[str, int]) -> None:
        self.steps = int(state["steps"])

    def _pairs(
        self, model: nn.Module
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """(averaged, source) float tensors to average, then (averaged, source) tensors to copy."""
        averaged, sources, copied_avg, copied_src = [], [], [], []
        for avg, src in zip(self.module.parameters(), model.parameters()):
            averaged.append(avg.data)
            sources.append(src.data)
        for avg, src in zip(self.module.buffers(), model.buffers()):
            if self.update_buffers and avg.dtype.is_floating_point:
                averaged.append(avg.data)
                sources.append(src.data)
            else:
                copied_avg.append(avg.data)
                copied_src.append(src.data)
        return averaged, sources, copied_avg, copied_src

    @torch.no_grad()
    def update_parameters(self, model: nn.Module) -> None:
        """Fold ``model``'s current weights into the average (the first call copies them)."""
        averaged, sources, copied_avg, copied_src = self._pairs(model)
        if self.steps == 0:
            torch._foreach_copy_(averaged, sources)
        elif self.steps % self.interval == 0:
            torch._foreach_lerp_(averaged, sources, self.momentum)  # avg + m * (src - avg)
        if copied_avg:
            torch._foreach_copy_(copied_avg, copied_src)
        self.steps += 1

    @torch.no_grad()
    def copy_from(self, model: nn.Module) -> None:
        """Make the average equal to ``model`` (before averaging starts)."""
        averaged, sources, copied_avg, copied_src = self._pairs(model)
        torch._foreach_copy_(averaged + copied_avg, sources + copied_src)

    @torch.no_grad()
    def swap_with(self, model: nn.Module) -> None:
        """Exchange the averaged weights with ``model``'s (for evaluation with the average)."""
        averaged, sources, _, _ = self._pairs(model)
        for avg, src in zip(averaged, sources):
            held = avg.clone()
            avg.copy_(src)
            src.copy_(held)
