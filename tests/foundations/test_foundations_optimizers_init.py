"""Optimizers against torch.optim, and the variance arithmetic of Xavier / He initialisation."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from visionstack.foundations import (
    SGD,
    Adam,
    Momentum,
    get_initializer,
    he_normal,
    he_uniform,
    xavier_normal,
    xavier_uniform,
)


def _quadratic_gradient(parameter: np.ndarray, step_index: int) -> np.ndarray:
    """Gradient of a step-dependent quadratic, the same function fed to both optimizers."""
    return 2.0 * parameter * (1.0 + 0.1 * step_index) + np.cos(parameter)


@pytest.mark.parametrize(
    ("ours", "theirs"),
    [
        (lambda: SGD(0.1), lambda p: torch.optim.SGD(p, lr=0.1)),
        (lambda: Momentum(0.05, momentum=0.9), lambda p: torch.optim.SGD(p, lr=0.05, momentum=0.9)),
        (lambda: Adam(0.01), lambda p: torch.optim.Adam(p, lr=0.01)),
        (
            lambda: Adam(0.1, beta1=0.5, beta2=0.9, epsilon=1e-6),
            lambda p: torch.optim.Adam(p, lr=0.1, betas=(0.5, 0.9), eps=1e-6),
        ),
    ],
    ids=["sgd", "momentum", "adam", "adam-custom"],
)
def test_optimizer_trajectory_matches_torch(ours, theirs) -> None:
    start = np.random.default_rng(0).normal(size=(3, 4))
    parameters = {"w": start.copy()}
    optimizer = ours()
    torch_parameter = torch.nn.Parameter(torch.tensor(start, dtype=torch.float64))
    torch_optimizer = theirs([torch_parameter])
    for step_index in range(25):
        optimizer.step(parameters, {"w": _quadratic_gradient(parameters["w"], step_index)})
        torch_parameter.grad = torch.tensor(_quadratic_gradient(torch_parameter.detach().numpy(), step_index))
        torch_optimizer.step()
    np.testing.assert_allclose(parameters["w"], torch_parameter.detach().numpy(), rtol=1e-9, atol=1e-9)
    assert not np.allclose(parameters["w"], start)


def test_optimizers_update_in_place_and_keep_state_per_parameter() -> None:
    weights, bias = np.ones(3), np.zeros(2)
    optimizer = Adam(0.1)
    optimizer.step({"w": weights, "b": bias}, {"w": np.ones(3), "b": -np.ones(2)})
    np.testing.assert_allclose(weights, 0.9, atol=1e-6)
    np.testing.assert_allclose(bias, 0.1, atol=1e-6)
    assert set(optimizer.steps) == {"w", "b"}


def test_optimizer_rejects_non_positive_learning_rate() -> None:
    with pytest.raises(ValueError):
        SGD(0.0)


@pytest.mark.parametrize(
    ("initializer", "expected_variance"),
    [
        (xavier_uniform, 2.0 / (400 + 300)),
        (xavier_normal, 2.0 / (400 + 300)),
        (he_uniform, 2.0 / 400),
        (he_normal, 2.0 / 400),
    ],
)
def test_initializer_has_the_textbook_variance(initializer, expected_variance: float) -> None:
    weights = initializer(400, 300, np.random.default_rng(0))
    assert weights.shape == (300, 400)
    assert abs(weights.mean()) < 0.05 * math.sqrt(expected_variance)
    assert weights.var() == pytest.approx(expected_variance, rel=0.02)


def test_uniform_initializers_respect_their_limits() -> None:
    rng = np.random.default_rng(1)
    assert np.abs(xavier_uniform(50, 30, rng)).max() <= math.sqrt(6.0 / 80)
    assert np.abs(he_uniform(50, 30, rng)).max() <= math.sqrt(6.0 / 50)


def _signal_variance_after_relu_layers(init: str, depth: int = 20, width: int = 256) -> float:
    rng = np.random.default_rng(2)
    hidden = rng.normal(size=(512, width))
    for _ in range(depth):
        hidden = np.maximum(hidden @ get_initializer(init)(width, width, rng).T, 0.0)
    return float(np.mean(hidden**2))


def test_he_keeps_relu_signal_alive_where_xavier_lets_it_vanish() -> None:
    he_signal = _signal_variance_after_relu_layers("he")
    xavier_signal = _signal_variance_after_relu_layers("xavier")
    assert 0.3 < he_signal < 3.0
    assert xavier_signal < 1e-4


def test_unknown_initializer_is_rejected() -> None:
    with pytest.raises(KeyError, match="unknown initializer"):
        get_initializer("zeros-please")
