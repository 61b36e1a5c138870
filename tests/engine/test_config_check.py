"""validate_runner_config: the checks that run before anything is built."""

from __future__ import annotations

import pytest

from visionstack.engine import validate_runner_config
from visionstack.registry import ConfigError
from visionstack.testing import toy_runner_config


def test_a_valid_config_passes():
    assert validate_runner_config(toy_runner_config("work_dirs/x")) is None


@pytest.mark.parametrize(
    "change, message",
    [
        (dict(work_dirs="x"), None),  # work_dir is present, so work_dirs is a user variable
        (dict(val_cfgs=dict()), None),  # val_cfg is present, so val_cfgs is a user variable
        (dict(optim_wraper=dict()), None),  # optim_wrapper is present
        (
            dict(env_cfg=dict(cudnn_bench=True)),
            "env_cfg.cudnn_bench: unknown option. Did you mean: 'cudnn_benchmark'",
        ),
        (dict(launcher="slurm"), "launcher: 'slurm' is not one of"),
        (dict(custom_hooks=[dict(momentum=0.1)]), "custom_hooks.0: a hook needs a `type`"),
        (dict(param_scheduler=[dict(milestones=[1])]), "param_scheduler.0: a scheduler needs a `type`"),
        (
            dict(val_evaluator=[dict(type="ToyMetric"), dict(type="ToyMetric", prefx="b")]),
            "val_evaluator.1.prefx: .*'prefix'",
        ),
        (dict(model=None), "model: the config has no 'model'"),
    ],
)
def test_config_problems(change, message):
    cfg = toy_runner_config("work_dirs/x")
    cfg.update(change)
    if message is None:
        validate_runner_config(cfg)
    else:
        with pytest.raises(ConfigError, match=message):
            validate_runner_config(cfg)


@pytest.mark.parametrize(
    "key, typo",
    [("optim_wrapper", "optim_wraper"), ("work_dir", "work_dirs"), ("val_evaluator", "val_evaluater")],
)
def test_missing_runner_key_with_close_user_key(key, typo):
    cfg = toy_runner_config("work_dirs/x")
    cfg[typo] = cfg.pop(key)
    with pytest.raises(ConfigError, match=f"{typo}: unknown top-level key; did you mean '{key}'"):
        validate_runner_config(cfg)


def test_param_scheduler_needs_an_optim_wrapper():
    cfg = toy_runner_config("work_dirs/x", val=False)
    for key in ("train_dataloader", "train_cfg", "optim_wrapper"):
        cfg.pop(key)
    with pytest.raises(ConfigError, match="param_scheduler: needs an optim_wrapper"):
        validate_runner_config(cfg)
