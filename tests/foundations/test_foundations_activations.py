"""Activations: values and derivatives against torch.autograd, finite differences, stability."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from visionstack.foundations import ACTIVATION_NAMES, ActivationLayer, get_activation, gradient_check
from visionstack.foundations.activations import erf, log_softmax_jacobian, softmax_jacobian

TOLERANCE = 1e-6

TORCH_ELEMENTWISE = {
    ("sigmoid", ()): torch.sigmoid,
    ("tanh", ()): torch.tanh,
    ("relu", ()): torch.relu,
    ("leaky_relu", ()): lambda t: F.leaky_relu(t, 0.01),
    ("leaky_relu", (("negative_slope", 0.2),)): lambda t: F.leaky_relu(t, 0.2),
    ("elu", ()): lambda t: F.elu(t, alpha=1.0),
    ("elu", (("alpha", 0.5),)): lambda t: F.elu(t, alpha=0.5),
    ("gelu", ()): F.gelu,
    ("silu", ()): F.silu,
    ("swish", ()): F.silu,
    ("softplus", ()): F.softplus,
}


def _inputs(shape: tuple[int, ...] = (6, 5), scale: float = 3.0, seed: int = 0) -> np.ndarray:
    """Random float64 inputs kept at least 0.05 away from the kinks at 0."""
    values = np.random.default_rng(seed).normal(scale=scale, size=shape)
    return np.sign(values) * (np.abs(values) + 0.05)


def _torch_value_and_vjp(function, x: np.ndarray, upstream: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    tensor = torch.tensor(x, dtype=torch.float64, requires_grad=True)
    output = function(tensor)
    (grad,) = torch.autograd.grad(output, tensor, torch.tensor(upstream, dtype=torch.float64))
    return output.detach().numpy(), grad.numpy()


@pytest.mark.parametrize(("name", "params"), list(TORCH_ELEMENTWISE), ids=lambda v: str(v))
def test_elementwise_activation_matches_torch_autograd(name: str, params: tuple) -> None:
    x = _inputs()
    activation = get_activation(name, **dict(params))
    torch_values, torch_derivative = _torch_value_and_vjp(
        TORCH_ELEMENTWISE[(name, params)], x, np.ones_like(x)
    )
    np.testing.assert_allclose(activation(x), torch_values, rtol=TOLERANCE, atol=TOLERANCE)
    np.testing.assert_allclose(activation.gradient(x), torch_derivative, rtol=TOLERANCE, atol=TOLERANCE)
    upstream = np.random.default_rng(1).normal(size=x.shape)
    _, torch_vjp = _torch_value_and_vjp(TORCH_ELEMENTWISE[(name, params)], x, upstream)
    np.testing.assert_allclose(activation.backward(x, upstream), torch_vjp, rtol=TOLERANCE, atol=TOLERANCE)


def test_step_matches_torch_heaviside_and_has_zero_derivative() -> None:
    x = np.concatenate([_inputs().ravel(), [0.0]])
    expected = torch.heaviside(torch.tensor(x), torch.tensor(1.0, dtype=torch.float64)).numpy()
    step = get_activation("step")
    np.testing.assert_array_equal(step(x), expected)
    np.testing.assert_array_equal(step.gradient(x), np.zeros_like(x))


@pytest.mark.parametrize(
    ("name", "torch_function"), [("softmax", torch.softmax), ("log_softmax", torch.log_softmax)]
)
def test_vector_activation_matches_torch_values_jacobian_and_vjp(name: str, torch_function) -> None:
    x = _inputs((4, 6))
    activation = get_activation(name)
    upstream = np.random.default_rng(2).normal(size=x.shape)
    torch_values, torch_vjp = _torch_value_and_vjp(lambda t: torch_function(t, dim=-1), x, upstream)
    np.testing.assert_allclose(activation(x), torch_values, rtol=TOLERANCE, atol=TOLERANCE)
    np.testing.assert_allclose(activation.backward(x, upstream), torch_vjp, rtol=TOLERANCE, atol=TOLERANCE)
    for row in x:
        torch_jacobian = torch.autograd.functional.jacobian(
            lambda t: torch_function(t, dim=-1), torch.tensor(row, dtype=torch.float64)
        ).numpy()
        np.testing.assert_allclose(activation.gradient(row), torch_jacobian, rtol=TOLERANCE, atol=TOLERANCE)


def test_batched_jacobians_contract_to_the_vjp() -> None:
    x = _inputs((3, 5))
    upstream = np.random.default_rng(3).normal(size=x.shape)
    np.testing.assert_allclose(
        np.einsum("ni,nij->nj", upstream, softmax_jacobian(x)),
        get_activation("softmax").backward(x, upstream),
        atol=1e-12,
    )
    np.testing.assert_allclose(
        np.einsum("ni,nij->nj", upstream, log_softmax_jacobian(x)),
        get_activation("log_softmax").backward(x, upstream),
        atol=1e-12,
    )


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_layer_passes_finite_difference_check(name: str) -> None:
    error = gradient_check(ActivationLayer(name), _inputs((5, 4), scale=2.0))
    assert error < 1e-6, f"{name}: max relative error {error:.2e}"


def test_parametrised_activation_layers_pass_finite_difference_check() -> None:
    x = _inputs((5, 4), scale=2.0)
    assert gradient_check(ActivationLayer("leaky_relu", negative_slope=0.3), x) < 1e-6
    assert gradient_check(ActivationLayer("elu", alpha=0.7), x) < 1e-6


def test_erf_matches_torch_to_1e12() -> None:
    x = np.linspace(-6.0, 6.0, 241)
    np.testing.assert_allclose(erf(x), torch.erf(torch.tensor(x)).numpy(), rtol=0, atol=1e-12)


@pytest.mark.parametrize("name", ACTIVATION_NAMES)
def test_activation_is_finite_for_extreme_inputs(name: str) -> None:
    x = np.array([[-1000.0, -80.0, -1.0, 0.5, 80.0, 1000.0]])
    activation = get_activation(name)
    with np.errstate(over="raise", divide="raise", invalid="raise"):
        values = activation(x)
        gradient = activation.gradient(x)
    assert np.all(np.isfinite(values)) and np.all(np.isfinite(gradient))


@pytest.mark.parametrize(
    ("name", "torch_function"),
    [
        ("sigmoid", torch.sigmoid),
        ("softplus", F.softplus),
        ("silu", F.silu),
        ("softmax", lambda t: torch.softmax(t, dim=-1)),
        ("log_softmax", lambda t: torch.log_softmax(t, dim=-1)),
    ],
)
def test_stable_activations_match_torch_at_extremes(name: str, torch_function) -> None:
    x = np.array([[-1000.0, -80.0, -1.0, 0.5, 80.0, 1000.0]])
    values, derivative = _torch_value_and_vjp(torch_function, x, np.ones_like(x))
    activation = get_activation(name)
    np.testing.assert_allclose(activation(x), values, rtol=TOLERANCE, atol=TOLERANCE)
    np.testing.assert_allclose(
        activation.backward(x, np.ones_like(x)), derivative, rtol=TOLERANCE, atol=TOLERANCE
    )


def test_softmax_is_a_distribution_and_shift_invariant() -> None:
    x = _inputs((4, 7))
    probabilities = get_activation("softmax")(x)
    np.testing.assert_allclose(probabilities.sum(axis=-1), 1.0, atol=1e-12)
    np.testing.assert_allclose(get_activation("softmax")(x + 500.0), probabilities, atol=1e-12)


def test_unknown_activation_is_rejected() -> None:
    with pytest.raises(KeyError, match="unknown activation"):
        get_activation("sigmoidish")
