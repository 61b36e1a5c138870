"""Layers, networks and losses: against torch.autograd and central finite differences."""

from __future__ import annotations

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from visionstack.foundations import (
    ActivationLayer,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Layer,
    Linear,
    MSELoss,
    Sequential,
    gradient_check,
    gradient_check_report,
    loss_gradient_check,
    mlp,
)

TOLERANCE = 1e-6
CHECK_THRESHOLD = 1e-7


def _tensor(array: np.ndarray, requires_grad: bool = False) -> torch.Tensor:
    return torch.tensor(array, dtype=torch.float64, requires_grad=requires_grad)


def _close(actual: np.ndarray, expected: torch.Tensor | np.ndarray) -> None:
    expected = expected.detach().numpy() if isinstance(expected, torch.Tensor) else expected
    np.testing.assert_allclose(actual, expected, rtol=TOLERANCE, atol=TOLERANCE)


def test_linear_forward_and_backward_match_torch() -> None:
    rng = np.random.default_rng(0)
    layer = Linear(5, 3, init="xavier", rng=rng)
    layer.params["bias"][:] = rng.normal(size=3)
    x, upstream = rng.normal(size=(4, 5)), rng.normal(size=(4, 3))
    x_t, w_t, b_t = _tensor(x, True), _tensor(layer.weight, True), _tensor(layer.bias, True)
    y_t = F.linear(x_t, w_t, b_t)
    y_t.backward(_tensor(upstream))

    _close(layer.forward(x), y_t)
    _close(layer.backward(upstream), x_t.grad)
    _close(layer.gradients()["weight"], w_t.grad)
    _close(layer.gradients()["bias"], b_t.grad)
    assert layer.gradients()["weight"].shape == (3, 5)


def _torch_copy(network: Sequential) -> torch.nn.Sequential:
    modules: list[torch.nn.Module] = []
    for layer in network:
        if isinstance(layer, Linear):
            linear = torch.nn.Linear(layer.in_features, layer.out_features).double()
            with torch.no_grad():
                linear.weight.copy_(_tensor(layer.weight))
                linear.bias.copy_(_tensor(layer.bias))
            modules.append(linear)
        else:
            modules.append(
                {
                    "relu": torch.nn.ReLU(),
                    "tanh": torch.nn.Tanh(),
                    "gelu": torch.nn.GELU(),
                    "sigmoid": torch.nn.Sigmoid(),
                }[layer.activation.name]
            )
    return torch.nn.Sequential(*modules)


@pytest.mark.parametrize("activation", ["relu", "tanh", "gelu", "sigmoid"])
def test_sequential_forward_and_backward_match_torch(activation: str) -> None:
    rng = np.random.default_rng(1)
    network = mlp([6, 8, 7, 3], activation=activation, rng=rng)
    for name, parameter in network.parameters().items():
        if name.endswith("bias"):
            parameter[:] = rng.normal(scale=0.1, size=parameter.shape)
    reference = _torch_copy(network)
    x, upstream = rng.normal(size=(5, 6)), rng.normal(size=(5, 3))

    x_t = _tensor(x, True)
    y_t = reference(x_t)
    y_t.backward(_tensor(upstream))
    _close(network.forward(x), y_t)
    _close(network.backward(upstream), x_t.grad)
    torch_gradients = {name: p.grad for name, p in reference.named_parameters()}
    assert set(torch_gradients) == set(network.gradients())
    for name, gradient in network.gradients().items():
        _close(gradient, torch_gradients[name])


def _loss_cases() -> list[tuple[str, object, np.ndarray, np.ndarray, object]]:
    rng = np.random.default_rng(2)
    logits = rng.normal(scale=2.0, size=(6, 4))
    regression_targets = rng.normal(size=(6, 4))
    binary_targets = rng.integers(0, 2, size=(6, 4)).astype(np.float64)
    class_targets = rng.integers(0, 4, size=6)
    return [
        ("mse", MSELoss(), logits, regression_targets, lambda z: F.mse_loss(z, _tensor(regression_targets))),
        (
            "bce",
            BCEWithLogitsLoss(),
            logits,
            binary_targets,
            lambda z: F.binary_cross_entropy_with_logits(z, _tensor(binary_targets)),
        ),
        (
            "cross_entropy",
            CrossEntropyLoss(),
            logits,
            class_targets,
            lambda z: F.cross_entropy(z, torch.tensor(class_targets)),
        ),
    ]


@pytest.mark.parametrize(
    ("name", "loss", "logits", "targets", "torch_loss"),
    _loss_cases(),
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_loss_value_and_gradient_match_torch(name, loss, logits, targets, torch_loss) -> None:
    logits_t = _tensor(logits, True)
    value_t = torch_loss(logits_t)
    value_t.backward()
    assert loss.forward(logits, targets) == pytest.approx(value_t.item(), rel=TOLERANCE, abs=TOLERANCE)
    _close(loss.backward(), logits_t.grad)


@pytest.mark.parametrize(
    ("name", "loss", "logits", "targets", "torch_loss"),
    _loss_cases(),
    ids=lambda value: value if isinstance(value, str) else "",
)
def test_loss_passes_finite_difference_check(name, loss, logits, targets, torch_loss) -> None:
    assert loss_gradient_check(loss, logits, targets) < CHECK_THRESHOLD


def test_losses_are_stable_for_huge_logits() -> None:
    logits = np.array([[1000.0, -1000.0], [-1000.0, 1000.0]])
    torch_bce = F.binary_cross_entropy_with_logits(
        _tensor(logits), _tensor(np.array([[1.0, 0.0], [1.0, 0.0]]))
    )
    assert BCEWithLogitsLoss()(logits, np.array([[1.0, 0.0], [1.0, 0.0]])) == pytest.approx(torch_bce.item())
    torch_ce = F.cross_entropy(_tensor(logits), torch.tensor([1, 1]))
    assert CrossEntropyLoss()(logits, np.array([1, 1])) == pytest.approx(torch_ce.item())
    assert np.isfinite(CrossEntropyLoss()(logits, np.array([1, 1])))


def test_output_layers_turn_logits_into_predictions() -> None:
    logits = np.array([[2.0, -1.0, 0.5], [-3.0, 0.0, 4.0]])
    np.testing.assert_allclose(CrossEntropyLoss().output(logits).sum(axis=1), 1.0)
    np.testing.assert_array_equal(CrossEntropyLoss().predict(logits), [0, 2])
    np.testing.assert_array_equal(BCEWithLogitsLoss().predict(np.array([[0.3], [-0.2]])), [1, 0])
    np.testing.assert_allclose(BCEWithLogitsLoss().output(np.array([0.0])), [0.5])
    np.testing.assert_array_equal(MSELoss().predict(logits), logits)


def test_linear_layer_passes_finite_difference_check() -> None:
    rng = np.random.default_rng(3)
    layer = Linear(4, 3, rng=rng)
    report = gradient_check_report(layer, rng.normal(size=(5, 4)))
    assert set(report) == {"input", "weight", "bias"}
    assert max(report.values()) < CHECK_THRESHOLD


@pytest.mark.parametrize(
    ("activation", "loss", "targets"),
    [
        ("tanh", None, None),
        ("relu", MSELoss(), np.random.default_rng(4).normal(size=(6, 3))),
        ("silu", BCEWithLogitsLoss(), np.random.default_rng(4).integers(0, 2, size=(6, 3))),
        ("elu", CrossEntropyLoss(), np.array([0, 2, 1, 1, 0, 2])),
    ],
)
def test_network_with_loss_passes_finite_difference_check(activation, loss, targets) -> None:
    rng = np.random.default_rng(5)
    network = mlp([4, 7, 5, 3], activation=activation, rng=rng)
    report = gradient_check_report(network, rng.normal(size=(6, 4)), loss, targets)
    assert set(report) == {"input", "0.weight", "0.bias", "2.weight", "2.bias", "4.weight", "4.bias"}
    assert max(report.values()) < CHECK_THRESHOLD


class _LinearWithWrongBiasGradient(Linear):
    """A deliberately broken layer: forgets to sum the bias gradient over the batch."""

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        grad_input = super().backward(grad_output)
        self.grads["bias"] = grad_output[0].copy()
        return grad_input


class _SquareWithWrongDerivative(Layer):
    """A deliberately broken activation: claims d(x^2)/dx = x."""

    def forward(self, x: np.ndarray) -> np.ndarray:
        self._input = x
        return x**2

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        return grad_output * self._input


def test_gradient_check_catches_wrong_backward_passes() -> None:
    rng = np.random.default_rng(6)
    x = rng.normal(size=(5, 4))
    broken_bias = gradient_check_report(_LinearWithWrongBiasGradient(4, 3, rng=rng), x)
    assert broken_bias["bias"] > 1e-2 and broken_bias["weight"] < CHECK_THRESHOLD
    assert gradient_check(Sequential([Linear(4, 4, rng=rng), _SquareWithWrongDerivative()]), x) > 1e-2


def test_sequential_names_parameters_like_torch_and_counts_them() -> None:
    network = Sequential([Linear(3, 4), ActivationLayer("relu"), Linear(4, 2)])
    assert list(network.parameters()) == ["0.weight", "0.bias", "2.weight", "2.bias"]
    assert network.parameter_count() == 3 * 4 + 4 + 4 * 2 + 2
    assert network.forward(np.ones((7, 3))).shape == (7, 2)
