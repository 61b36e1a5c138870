"""Hook base: priorities, overridden points, interval helpers; the scheduler and sampler hooks."""

from __future__ import annotations

import pytest

from visionstack.engine import DistSamplerSeedHook, Hook, IterTimerHook, Priority, Runner, get_priority
from visionstack.registry import ConfigError
from visionstack.testing import toy_runner_config


def test_get_priority():
    assert get_priority("very_low") == Priority.VERY_LOW == 90
    assert get_priority(Priority.HIGHEST) == 0 and get_priority(42) == 42
    with pytest.raises(ConfigError, match="unknown hook priority 'urgent'"):
        get_priority("urgent")
    with pytest.raises(ConfigError, match="must be in \\[0, 100\\]"):
        get_priority(101)


def test_overrides_reports_only_implemented_points():
    hook = IterTimerHook()
    assert hook.overrides("after_train_iter") and not hook.overrides("after_val_epoch")
    assert not Hook().overrides("before_run")


class _OrderRecorder(Hook):
    def __init__(self) -> None:
        self.orders: list[list[int]] = []

    def before_train_epoch(self, runner) -> None:
        self.orders.append([])

    def before_train_iter(self, runner, batch_idx, data_batch=None) -> None:
        self.orders[-1] += [sample.sample_idx for sample in data_batch["data_samples"]]


@pytest.mark.parametrize("with_seed_hook", [True, False])
def test_sampler_seed_hook_reshuffles_every_epoch(tmp_path, with_seed_hook):
    recorder = _OrderRecorder()
    hooks = {} if with_seed_hook else {"sampler_seed": None}
    cfg = toy_runner_config(tmp_path, max_epochs=3, custom_hooks=[recorder], default_hooks=hooks)
    runner = Runner.from_cfg(cfg)
    names = [type(h).__name__ for h in runner.hooks]
    assert ("DistSamplerSeedHook" in names) == with_seed_hook
    runner.train()
    first, second, third = recorder.orders
    assert sorted(first) == sorted(second) == list(range(32))
    assert (first != second and second != third) == with_seed_hook
    if with_seed_hook:
        assert isinstance(runner.hooks[names.index("DistSamplerSeedHook")], DistSamplerSeedHook)


def test_param_scheduler_hook_steps_per_iteration_and_per_epoch(tmp_path):
    lrs = []

    class LrRecorder(Hook):
        priority = "HIGHEST"  # before the scheduler hook steps: the lr the iteration used

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
            lrs.append(runner.optim_wrapper.param_groups[0]["lr"])

    Runner.from_cfg(toy_runner_config(tmp_path, max_epochs=2, custom_hooks=[LrRecorder()])).train()
    warmup = [0.1 + 0.9 * min(t, 3) / 3 for t in range(16)]  # LinearLR over iterations 0..3
    decay = [1.0] * 8 + [0.5] * 8  # MultiStepLR at epoch 1
    assert lrs == pytest.approx([0.1 * w * d for w, d in zip(warmup, decay)])
