"""Helpers every backbone shares: ``out_indices`` checking and collecting, stage freezing, ``norm_eval``."""

from __future__ import annotations

from collections.abc import Callable, Container, Iterable, Sequence, Sized
from typing import Any

import torch
from torch import nn
from torch.nn.modules.batchnorm import _BatchNorm


def normalize_out_indices(out_indices: Sequence[int] | int, num_stages: int, owner: str) -> tuple[int, ...]:
    """Turn ``out_indices`` (negative counts from the end) into sorted non-negative indices.

    Raises:
        ValueError: naming ``owner`` when an index is outside ``[-num_stages, num_stages)``.
    """
    if isinstance(out_indices, int):
        out_indices = (out_indices,)
    if len(out_indices) == 0:
        raise ValueError(f"{owner}: out_indices must name at least one stage")
    normalized = []
    for index in out_indices:
        if not -num_stages <= index < num_stages:
            raise ValueError(
                f"{owner}: out_indices entry {index} is out of range; this backbone has {num_stages} "
                f"stages (valid: 0..{num_stages - 1} or -{num_stages}..-1)"
            )
        normalized.append(index % num_stages)
    return tuple(sorted(set(normalized)))


def run_stages(
    x: torch.Tensor,
    stages: Iterable[nn.Module],
    out_indices: Container[int],
    transform: Callable[[int, torch.Tensor], torch.Tensor] | None = None,
) -> tuple[torch.Tensor, ...]:
    """Run ``x`` through ``stages`` in order and return the outputs of the stages in ``out_indices``.

    Args:
        x: the input of the first stage, e.g. (N, C, H, W) after the stem.
        stages: the stages, each taking the previous one's output.
        out_indices: positions (in ``stages``) whose outputs are returned.
        transform: applied to a returned output as ``transform(index, output)`` (e.g. an output
            norm); the next stage still gets the untransformed output.

    Returns:
        The returned outputs in increasing stage order. The stages after the last one returned are not
        run (when ``out_indices`` has a length).
    """
    outs = []
    wanted = len(set(out_indices)) if isinstance(out_indices, Sized) else None
    for index, stage in enumerate(stages):
        x = stage(x)
        if index in out_indices:
            outs.append(x if transform is None else transform(index, x))
            if len(outs) == wanted:
                break
    return tuple(outs)


def freeze_modules(modules: Iterable[nn.Module]) -> None:
    """Put ``modules`` in eval mode and stop their parameters from receiving gradients."""
    for module in modules:
        module.eval()
        for parameter in module.parameters():
            parameter.requires_grad = False


def set_norm_eval(module: nn.Module) -> None:
    """Put every batch-norm layer under ``module`` in eval mode (running statistics frozen)."""
    for child in module.modules():
        if isinstance(child, _BatchNorm):
            child.eval()


class FreezingTrainMixin:
    """``train(mode)`` for backbones: frozen stages and, with ``norm_eval``, batch norms stay in eval mode.

    Put it before ``nn.Module`` in the bases. A backbone overrides :meth:`_freeze_stages` (freeze
    what ``frozen_stages`` names) and sets ``norm_eval``; both default to doing nothing.
    """

    norm_eval: bool = False

    def _freeze_stages(self) -> None:
        """Freeze the stages ``frozen_stages`` names (none by default)."""

    def train(self, mode: bool = True) -> Any:
        """Switch mode, keeping frozen stages (and all batch norms when ``norm_eval``) in eval mode."""
        super().train(mode)
        self._freeze_stages()
        if mode and self.norm_eval:
            set_norm_eval(self)
        return self
