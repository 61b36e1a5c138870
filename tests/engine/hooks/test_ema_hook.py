"""ExponentialMovingAverage math and EMAHook (swap for evaluation, checkpoint contents)."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from visionstack.engine import EMAHook, ExponentialMovingAverage, Runner, read_checkpoint
from visionstack.testing import toy_runner_config


def _net() -> nn.Module:
    torch.manual_seed(0)
    return nn.Sequential(nn.Linear(3, 4), nn.BatchNorm1d(4))


def test_ema_matches_the_recurrence_for_parameters_and_buffers():
    model = _net()
    ema = ExponentialMovingAverage(model, momentum=0.2)
    expected = {k: v.clone().double() for k, v in model.state_dict().items() if v.dtype.is_floating_point}
    for step in range(5):
        with torch.no_grad():
            for value in model.state_dict().values():
                if value.dtype.is_floating_point:
                    value.add_(torch.randn_like(value))
            model[1].num_batches_tracked += 1
        ema.update_parameters(model)
        for key, value in model.state_dict().items():
            if key in expected:  # first update copies, then avg = (1 - m) * avg + m * new
                expected[key] = value.double() if step == 0 else 0.8 * expected[key] + 0.2 * value.double()
    averaged = ema.module.state_dict()
    for key, value in expected.items():
        torch.testing.assert_close(averaged[key].double(), value, rtol=1e-6, atol=1e-6)
    assert averaged["1.num_batches_tracked"] == model[1].num_batches_tracked  # integer buffers are copied
    assert ema.steps == 5


def test_ema_interval_and_buffers_copied_when_not_averaged():
    model = _net()
    ema = ExponentialMovingAverage(model, momentum=0.5, interval=2, update_buffers=False)
    ema.update_parameters(model)
    start = model[0].weight.detach().clone()
    with torch.no_grad():
        model[0].weight.add_(1.0)
        model[1].running_mean.add_(3.0)
    ema.update_parameters(model)  # step 1: not a multiple of the interval, parameters unchanged
    assert torch.equal(ema.module[0].weight, start)
    assert torch.equal(ema.module[1].running_mean, model[1].running_mean)
    ema.update_parameters(model)
    torch.testing.assert_close(ema.module[0].weight, start + 0.5)


def test_ema_state_includes_its_step_count():
    model = _net()
    ema = ExponentialMovingAverage(model)
    ema.update_parameters(model)
    other = ExponentialMovingAverage(model)
    other.load_state_dict(ema.state_dict())
    assert other.steps == 1


def test_ema_hook_swaps_for_validation_and_stores_both_weight_sets(tmp_path):
    cfg = toy_runner_config(tmp_path, max_epochs=2, custom_hooks=[dict(type="EMAHook", momentum=0.3)])
    runner = Runner.from_cfg(cfg)
    runner.train()
    hook = next(h for h in runner.hooks if isinstance(h, EMAHook))
    checkpoint = read_checkpoint(tmp_path / "latest.pth")
    training = {k: v.clone() for k, v in runner.model.state_dict().items()}
    for key, value in hook.ema.module.state_dict().items():
        assert torch.equal(checkpoint["state_dict"][key], value)
        assert torch.equal(checkpoint["hooks"]["EMAHook"]["model_state_dict"][key], training[key])
    assert not torch.equal(checkpoint["state_dict"]["head.weight"], training["head.weight"])
    hook.before_val_epoch(runner)
    assert torch.equal(runner.model.head.weight, checkpoint["state_dict"]["head.weight"])
    hook.after_val_epoch(runner)
    assert torch.equal(runner.model.head.weight, training["head.weight"])


def test_ema_hook_arguments_are_its_fields():
    hook = EMAHook(momentum=0.5, begin_iter=3)
    assert (hook.momentum, hook.interval, hook.begin_iter, hook.strict_load) == (0.5, 1, 3, True)
    assert hook.ema is None and hook != EMAHook(momentum=0.5, begin_iter=3)  # identity, not field equality
    with pytest.raises(TypeError):
        EMAHook(ema=None)  # the average is state, not an argument
