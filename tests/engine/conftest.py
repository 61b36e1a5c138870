"""Shared helpers of the engine tests: the toy registry entries and a hook that simulates a crash."""

from __future__ import annotations

import pytest
import torch

import visionstack  # noqa: F401  (registers everything)
import visionstack.testing  # noqa: F401  (ToyModel, ToyDataset, ToyMetric)
from visionstack.engine import Hook


class SimulatedCrash(Exception):
    """Raised by :class:`CrashHook` to stop a run the way a killed job would."""


class CrashHook(Hook):
    """Raises :class:`SimulatedCrash` after the given epoch or iteration (after checkpointing)."""

    priority = "LOWEST"

    def __init__(self, epoch: int | None = None, iteration: int | None = None) -> None:
        self.epoch, self.iteration = epoch, iteration

    def after_train_epoch(self, runner) -> None:
        if runner.epoch == self.epoch:
            raise SimulatedCrash(f"crash after epoch {runner.epoch}")

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        if runner.iter == self.iteration:
            raise SimulatedCrash(f"crash after iteration {runner.iter}")


def state_of(module: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {key: value.detach().clone() for key, value in module.state_dict().items()}


def assert_states_equal(first: dict[str, torch.Tensor], second: dict[str, torch.Tensor]) -> None:
    assert first.keys() == second.keys()
    different = [key for key in first if not torch.equal(first[key], second[key])]
    assert not different, f"tensors differ: {different}"


@pytest.fixture(autouse=True)
def _release_log_handlers():
    yield
    from visionstack.engine.logger import release_logger

    release_logger()
