"""Optimizer construction: registry of torch optimizers, paramwise rules, --amp helper."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from visionstack.engine import AmpOptimWrapper, OptimWrapper, build_optim_wrapper, enable_amp
from visionstack.registry import OPTIMIZERS, ConfigError


class Net(nn.Module):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(nn.Conv2d(3, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 3, groups=4))
        self.scale = nn.Parameter(torch.ones(4))  # a flat (1-D) parameter of no norm layer
        self.head = nn.Linear(4, 2)


def _settings(wrapper: OptimWrapper, model: nn.Module) -> dict[str, tuple[float, float]]:
    by_id = {id(p): (g["lr"], g["weight_decay"]) for g in wrapper.param_groups for p in g["params"]}
    return {name: by_id[id(p)] for name, p in model.named_parameters()}


def test_every_torch_optimizer_is_registered():
    expected = {
        name
        for name, value in vars(torch.optim).items()
        if isinstance(value, type) and issubclass(value, torch.optim.Optimizer) and name != "Optimizer"
    }
    assert expected <= set(OPTIMIZERS.keys())
    assert {"SGD", "AdamW", "RMSprop"} <= expected


def test_plain_config_gives_one_group_with_the_optimizer_arguments():
    model = Net()
    wrapper = build_optim_wrapper(model, dict(optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.05)))
    assert type(wrapper) is OptimWrapper and isinstance(wrapper.optimizer, torch.optim.AdamW)
    assert len(wrapper.param_groups) == 1 and wrapper.param_groups[0]["weight_decay"] == 0.05


def test_paramwise_rules_follow_mmengine():
    model = Net()
    cfg = dict(
        optimizer=dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=1e-4),
        paramwise_cfg=dict(
            norm_decay_mult=0.0,
            bias_decay_mult=0.5,
            bias_lr_mult=2.0,
            dwconv_decay_mult=0.3,
            flat_decay_mult=0.7,
            custom_keys={"head": dict(lr_mult=0.1), "head.bias": dict(decay_mult=3.0)},
        ),
    )
    settings = _settings(build_optim_wrapper(model, cfg), model)
    expected = {
        "backbone.0.weight": (0.1, 1e-4),  # plain conv weight
        "backbone.0.bias": (0.2, 0.5e-4),  # bias: lr and decay multipliers
        "backbone.1.weight": (0.1, 0.0),  # norm: no decay
        "backbone.1.bias": (0.1, 0.0),  # norm bias: the norm rule wins, no bias_lr_mult
        "backbone.2.weight": (0.1, 0.3e-4),  # depth-wise conv weight
        "backbone.2.bias": (0.2, 0.5e-4),
        "scale": (0.1, 0.7e-4),  # 1-D, not norm, not bias
        "head.weight": (0.01, 1e-4),  # custom key "head"
        "head.bias": (0.1, 3e-4),  # longer custom key "head.bias" wins; only decay changes
    }
    assert settings.keys() == expected.keys()
    for name, (lr, decay) in expected.items():
        assert settings[name] == (pytest.approx(lr, rel=1e-12), pytest.approx(decay, rel=1e-12)), name


def test_groups_with_equal_settings_are_merged_in_first_appearance_order():
    model = Net()
    wrapper = build_optim_wrapper(
        model,
        dict(
            optimizer=dict(type="SGD", lr=0.1, weight_decay=1e-4),
            paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
        ),
    )
    decays = [group["weight_decay"] for group in wrapper.param_groups]
    assert decays == [1e-4, 0.0]
    assert sum(len(g["params"]) for g in wrapper.param_groups) == len(list(model.parameters()))


def test_default_weight_decay_of_the_optimizer_is_used_for_multipliers():
    model = Net()  # AdamW's default weight_decay is 0.01
    settings = _settings(
        build_optim_wrapper(
            model, dict(optimizer=dict(type="AdamW", lr=1e-3), paramwise_cfg=dict(norm_decay_mult=0.0))
        ),
        model,
    )
    assert settings["backbone.1.weight"][1] == 0.0 and settings["head.weight"][1] == 0.01


def test_clip_grad_and_accumulation_reach_the_wrapper():
    wrapper = build_optim_wrapper(
        Net(),
        dict(
            type="AmpOptimWrapper",
            dtype="bfloat16",
            accumulative_counts=2,
            clip_grad=dict(type="value", clip_value=1.0),
            optimizer=dict(type="SGD", lr=0.1),
        ),
    )
    assert isinstance(wrapper, AmpOptimWrapper) and wrapper.accumulative_counts == 2
    assert wrapper._clip == ("value", {"clip_value": 1.0})


@pytest.mark.parametrize(
    "cfg, message",
    [
        (
            dict(optimizer=dict(type="SGD", lr=0.1), paramwise_cfg=dict(norm_decay=0.0)),
            "optim_wrapper.paramwise_cfg.norm_decay: unknown paramwise option. Did you mean: 'norm_decay_mult'",
        ),
        (
            dict(
                optimizer=dict(type="SGD", lr=0.1), paramwise_cfg=dict(custom_keys={"head": dict(lr_mul=2)})
            ),
            "optim_wrapper.paramwise_cfg.custom_keys.head.lr_mul: .*'lr_mult'",
        ),
        (
            dict(optimizer=dict(type="SGD", lr=0.1, momentun=0.9)),
            "optim_wrapper.optimizer.momentun: .*'momentum'",
        ),
        (dict(type="OptimWraper", optimizer=dict(type="SGD", lr=0.1)), "optim_wrapper.type: 'OptimWraper'"),
        (
            dict(optimizer=dict(type="SGD", lr=0.1), accumulative_count=2),
            "optim_wrapper.accumulative_count: ",
        ),
        (dict(paramwise_cfg=dict()), "optim_wrapper: needs an `optimizer`"),
    ],
)
def test_config_errors_name_the_key(cfg, message):
    with pytest.raises(ConfigError, match=message):
        build_optim_wrapper(Net(), cfg)


def test_enable_amp_switches_the_wrapper_type():
    cfg = dict(
        optim_wrapper=dict(
            type="OptimWrapper", optimizer=dict(type="SGD", lr=0.1), clip_grad=dict(max_norm=1)
        )
    )
    assert enable_amp(cfg, dtype="bfloat16") is cfg
    assert cfg["optim_wrapper"] == dict(
        type="AmpOptimWrapper",
        optimizer=dict(type="SGD", lr=0.1),
        clip_grad=dict(max_norm=1),
        dtype="bfloat16",
    )
    with pytest.raises(ConfigError, match="--amp needs an `optim_wrapper`"):
        enable_amp(dict(model=dict()))
