"""Parameter schedulers against closed forms and torch.optim.lr_scheduler."""

from __future__ import annotations

import math

import pytest
import torch

from visionstack.engine import (
    INF,
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    MultiStepLR,
    OneCycleLR,
    OptimWrapper,
    PolyLR,
    StepLR,
    build_param_schedulers,
)
from visionstack.registry import ConfigError


def _optimizer(lr: float = 1.0) -> torch.optim.Optimizer:
    return torch.optim.SGD([torch.nn.Parameter(torch.zeros(1))], lr=lr)


def _sequence(make, steps: int, lr: float = 1.0) -> list[float]:
    """The lr at steps 0 .. steps-1 (a scheduler applies step 0 when it is built)."""
    optimizer = _optimizer(lr)
    schedulers = make(optimizer)
    schedulers = schedulers if isinstance(schedulers, list) else [schedulers]
    values = [optimizer.param_groups[0]["lr"]]
    for _ in range(steps - 1):
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
        values.append(optimizer.param_groups[0]["lr"])
    return values


CLOSED_FORMS = {
    "StepLR": (lambda o: StepLR(o, step_size=3, gamma=0.5), lambda t: 0.5 ** (t // 3)),
    "MultiStepLR": (
        lambda o: MultiStepLR(o, milestones=[2, 5, 5], gamma=0.1),
        lambda t: 0.1 ** sum(m <= t for m in (2, 5, 5)),
    ),
    "ConstantLR": (lambda o: ConstantLR(o, factor=0.25, end=5), lambda t: 0.25 if t < 4 else 1.0),
    "ExponentialLR": (lambda o: ExponentialLR(o, gamma=0.9), lambda t: 0.9**t),
    "LinearLR": (
        lambda o: LinearLR(o, start_factor=0.1, end_factor=1.0, end=6),
        lambda t: 0.1 + 0.9 * min(t, 5) / 5,
    ),
    "CosineAnnealingLR": (
        lambda o: CosineAnnealingLR(o, T_max=10, eta_min=0.1),
        lambda t: 0.1 + 0.9 * (1 + math.cos(math.pi * t / 10)) / 2,
    ),
    "CosineAnnealingLR ratio": (
        lambda o: CosineAnnealingLR(o, eta_min_ratio=0.2, end=8),
        lambda t: 0.2 + 0.8 * (1 + math.cos(math.pi * min(t, 7) / 8)) / 2,
    ),
    "PolyLR": (
        lambda o: PolyLR(o, eta_min=0.01, power=2.0, end=11),
        lambda t: 0.01 + 0.99 * (1 - min(t, 10) / 10) ** 2,
    ),
    "LinearLR begin": (
        lambda o: LinearLR(o, start_factor=0.5, begin=3, end=6),
        lambda t: 1.0 if t < 3 else 0.5 + 0.5 * min(t - 3, 2) / 2,
    ),
}


@pytest.mark.parametrize("name", sorted(CLOSED_FORMS))
def test_schedule_matches_its_closed_form(name):
    make, closed_form = CLOSED_FORMS[name]
    values = _sequence(make, 25)
    assert values == pytest.approx([closed_form(t) for t in range(25)], rel=1e-9, abs=1e-12)


TORCH_EQUIVALENTS = {
    "StepLR": (
        lambda o: StepLR(o, step_size=4, gamma=0.3),
        lambda o: torch.optim.lr_scheduler.StepLR(o, 4, 0.3),
    ),
    "MultiStepLR": (
        lambda o: MultiStepLR(o, milestones=[3, 7], gamma=0.2),
        lambda o: torch.optim.lr_scheduler.MultiStepLR(o, [3, 7], 0.2),
    ),
    "ExponentialLR": (
        lambda o: ExponentialLR(o, gamma=0.8),
        lambda o: torch.optim.lr_scheduler.ExponentialLR(o, 0.8),
    ),
    "CosineAnnealingLR": (
        lambda o: CosineAnnealingLR(o, T_max=6, eta_min=0.05),
        lambda o: torch.optim.lr_scheduler.CosineAnnealingLR(o, T_max=6, eta_min=0.05),
    ),
    "LinearLR": (
        lambda o: LinearLR(o, start_factor=0.2, end_factor=0.9, end=7),
        lambda o: torch.optim.lr_scheduler.LinearLR(o, start_factor=0.2, end_factor=0.9, total_iters=6),
    ),
    "ConstantLR": (
        lambda o: ConstantLR(o, factor=0.5, end=5),
        lambda o: torch.optim.lr_scheduler.ConstantLR(o, factor=0.5, total_iters=4),
    ),
    "PolyLR": (
        lambda o: PolyLR(o, power=0.9, end=9),
        lambda o: torch.optim.lr_scheduler.PolynomialLR(o, total_iters=8, power=0.9),
    ),
    "OneCycleLR": (
        lambda o: OneCycleLR(o, max_lr=2.0, total_steps=20, pct_start=0.25),
        lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=2.0, total_steps=20, pct_start=0.25, cycle_momentum=False
        ),
    ),
    "OneCycleLR linear": (
        lambda o: OneCycleLR(
            o, max_lr=1.0, total_steps=16, anneal_strategy="linear", div_factor=10.0, final_div_factor=100.0
        ),
        lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o,
            max_lr=1.0,
            total_steps=16,
            anneal_strategy="linear",
            div_factor=10.0,
            final_div_factor=100.0,
            cycle_momentum=False,
        ),
    ),
    "OneCycleLR three-phase": (
        lambda o: OneCycleLR(o, max_lr=1.0, total_steps=30, three_phase=True),
        lambda o: torch.optim.lr_scheduler.OneCycleLR(
            o, max_lr=1.0, total_steps=30, three_phase=True, cycle_momentum=False
        ),
    ),
}


@pytest.mark.parametrize("name", sorted(TORCH_EQUIVALENTS))
def test_schedule_matches_torch(name):
    ours, theirs = TORCH_EQUIVALENTS[name]
    steps = 16 if "linear" in name else 20
    steps = 30 if "three-phase" in name else steps
    assert _sequence(ours, steps, lr=0.7) == pytest.approx(_sequence(theirs, steps, lr=0.7), rel=1e-9)


def test_one_cycle_landmarks():
    values = _sequence(lambda o: OneCycleLR(o, max_lr=1.0, total_steps=10, pct_start=0.3), 10)
    assert values[0] == pytest.approx(1.0 / 25) and max(values) == pytest.approx(1.0)
    assert values[2] == pytest.approx(1.0) and values[-1] == pytest.approx(1.0 / 25 / 1e4)


def test_one_cycle_refuses_to_step_past_its_cycle():
    optimizer = _optimizer()
    scheduler = OneCycleLR(optimizer, max_lr=1.0, total_steps=3)
    scheduler.step()
    scheduler.step()
    with pytest.raises(RuntimeError, match="total_steps=3"):
        scheduler.step()


def test_warmup_and_step_decay_chain_multiplicatively():
    values = _sequence(
        lambda o: [LinearLR(o, start_factor=0.25, end=4), MultiStepLR(o, milestones=[6], gamma=0.1)], 10
    )
    expected = [(0.25 + 0.75 * min(t, 3) / 3) * (0.1 if t >= 6 else 1.0) for t in range(10)]
    assert values == pytest.approx(expected, rel=1e-12)


def test_scheduler_window_leaves_values_outside_alone():
    values = _sequence(lambda o: ExponentialLR(o, gamma=0.5, begin=3, end=6), 9)
    assert values == pytest.approx([1, 1, 1, 1, 0.5, 0.25, 0.25, 0.25, 0.25])


def test_state_dict_round_trip_continues_the_sequence_exactly():
    def make(optimizer):
        return [
            LinearLR(optimizer, start_factor=0.1, end=5),
            CosineAnnealingLR(optimizer, T_max=12, eta_min=0.01),
        ]

    reference = _sequence(make, 12)
    optimizer = _optimizer()
    schedulers = make(optimizer)
    for _ in range(5):
        optimizer.step()
        for scheduler in schedulers:
            scheduler.step()
    saved = (optimizer.state_dict(), [s.state_dict() for s in schedulers])
    fresh = _optimizer()
    fresh_schedulers = make(fresh)
    fresh.load_state_dict(saved[0])
    for scheduler, state in zip(fresh_schedulers, saved[1]):
        scheduler.load_state_dict(state)
    values = [fresh.param_groups[0]["lr"]]
    for _ in range(6):
        fresh.step()
        for scheduler in fresh_schedulers:
            scheduler.step()
        values.append(fresh.param_groups[0]["lr"])
    assert values == reference[5:]


def test_schedulers_drive_an_optim_wrapper_and_every_param_group():
    model = torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.Linear(2, 2))
    optimizer = torch.optim.SGD(
        [{"params": model[0].parameters()}, {"params": model[1].parameters(), "lr": 0.2}], lr=1.0
    )
    wrapper = OptimWrapper(optimizer)
    StepLR(wrapper, step_size=1, gamma=0.5).step()
    assert [g["lr"] for g in optimizer.param_groups] == [0.5, 0.1]


def test_builder_fills_end_and_converts_epochs_to_iterations():
    cfgs = [
        dict(type="LinearLR", start_factor=0.5, by_epoch=False, end=3),
        dict(type="MultiStepLR", milestones=[2], gamma=0.1, convert_to_iter_based=True),
        dict(type="CosineAnnealingLR", by_epoch=True),
    ]
    warmup, step, cosine = build_param_schedulers(
        cfgs, OptimWrapper(_optimizer()), max_epochs=4, max_iters=20, epoch_length=5
    )
    assert (warmup.by_epoch, warmup.end) == (False, 3)
    assert (step.by_epoch, step.end, step.milestones) == (False, 20, {10: 1})
    assert (cosine.by_epoch, cosine.end, cosine.T_max) == (True, 4, 4)


def test_builder_refuses_epoch_schedulers_in_an_iteration_loop():
    with pytest.raises(ConfigError, match="param_scheduler: by_epoch=True needs an epoch-based loop"):
        build_param_schedulers(
            dict(type="StepLR", step_size=2), _optimizer(), max_epochs=None, max_iters=100, epoch_length=10
        )
    converted = build_param_schedulers(
        [dict(type="StepLR", step_size=2, convert_to_iter_based=True)],
        _optimizer(),
        max_epochs=None,
        max_iters=100,
        epoch_length=10,
    )[0]
    assert (converted.step_size, converted.end) == (20, 100)


@pytest.mark.parametrize(
    "make, message",
    [
        (
            lambda o: StepLR(o, step_size=2, begin=5, end=5),
            "`end` \\(5\\) must be larger than `begin` \\(5\\)",
        ),
        (lambda o: CosineAnnealingLR(o, eta_min=0.1, eta_min_ratio=0.1), "either eta_min or eta_min_ratio"),
        (lambda o: OneCycleLR(o, max_lr=1.0), "give total_steps or a finite window"),
        (lambda o: LinearLR(o, start_factor=0.0, end=3), "start_factor must be in \\(0, 1\\]"),
    ],
)
def test_invalid_arguments_are_config_errors(make, message):
    with pytest.raises(ConfigError, match=message):
        make(_optimizer())


def test_inf_is_the_default_end():
    assert StepLR(_optimizer(), step_size=1).end == INF
