"""Activation functions: the non-linearities that make a network more than one matrix.

Without a non-linearity between them, any stack of linear layers collapses into a
single linear map. Each activation below comes as a pair: the function ``f(x)`` and
its derivative ``f'(x)``, which back-propagation multiplies into the upstream
gradient (chain rule ``dL/dx = dL/dy * f'(x)``).

Element-wise activations (one output per input):

==============  =========================================  ==========================================
name            f(x)                                       f'(x)
==============  =========================================  ==========================================
step            1 if x >= 0 else 0                         0 (undefined at 0)
sigmoid         s(x) = 1 / (1 + e^-x)                      s(x) (1 - s(x))
tanh            (e^x - e^-x) / (e^x + e^-x)                1 - tanh(x)^2
relu            max(0, x)                                  1 if x > 0 else 0
leaky_relu      x if x > 0 else a x                        1 if x > 0 else a
elu             x if x > 0 else a (e^x - 1)                1 if x > 0 else a e^x
gelu            x Phi(x) = x/2 (1 + erf(x / sqrt 2))       Phi(x) + x phi(x)
silu (swish)    x s(x)                                     s(x) (1 + x (1 - s(x)))
softplus        log(1 + e^x)                               s(x)
==============  =========================================  ==========================================

Vector activations over the last axis (each output depends on every input):

* softmax ``p_i = e^{x_i} / sum_j e^{x_j}``, Jacobian ``dp_i/dx_j = p_i (delta_ij - p_j)``.
* log-softmax ``x_i - log sum_j e^{x_j}``, Jacobian ``delta_ij - p_j``.

Numerical stability: sigmoid and softplus only ever exponentiate ``-|x|``, softmax and
log-softmax subtract the row maximum first, so no input overflows ``exp``.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np

_SQRT_2 = math.sqrt(2.0)
_INV_SQRT_2PI = 1.0 / math.sqrt(2.0 * math.pi)
_vectorized_erf = np.vectorize(math.erf, otypes=[np.float64])


def erf(x: np.ndarray) -> np.ndarray:
    """Gauss error function ``erf(x) = 2/sqrt(pi) * integral_0^x e^{-t^2} dt``, element-wise."""
    return _vectorized_erf(np.asarray(x, dtype=np.float64))


def step(x: np.ndarray) -> np.ndarray:
    """Heaviside step ``1 if x >= 0 else 0``: the Rosenblatt perceptron's output."""
    return (np.asarray(x) >= 0).astype(np.float64)


def step_derivative(x: np.ndarray) -> np.ndarray:
    """Derivative of the step: zero everywhere it exists, which is why it cannot be trained by gradients."""
    return np.zeros_like(np.asarray(x, dtype=np.float64))


def sigmoid(x: np.ndarray) -> np.ndarray:
    """Logistic sigmoid ``1 / (1 + e^-x)`` evaluated as ``e^-|x|`` ratios so it never overflows."""
    x = np.asarray(x, dtype=np.float64)
    decay = np.exp(-np.abs(x))
    return np.where(x >= 0, 1.0 / (1.0 + decay), decay / (1.0 + decay))


def sigmoid_derivative(x: np.ndarray) -> np.ndarray:
    """Sigmoid derivative ``s(x) (1 - s(x))``."""
    s = sigmoid(x)
    return s * (1.0 - s)


def tanh(x: np.ndarray) -> np.ndarray:
    """Hyperbolic tangent ``(e^x - e^-x) / (e^x + e^-x)``, a sigmoid rescaled to (-1, 1)."""
    return np.tanh(np.asarray(x, dtype=np.float64))


def tanh_derivative(x: np.ndarray) -> np.ndarray:
    """Tanh derivative ``1 - tanh(x)^2``."""
    return 1.0 - np.tanh(np.asarray(x, dtype=np.float64)) ** 2


def relu(x: np.ndarray) -> np.ndarray:
    """Rectified linear unit ``max(0, x)``."""
    return np.maximum(np.asarray(x, dtype=np.float64), 0.0)


def relu_derivative(x: np.ndarray) -> np.ndarray:
    """ReLU derivative ``1 if x > 0 else 0`` (0 chosen at the kink, as PyTorch does)."""
    return (np.asarray(x) > 0).astype(np.float64)


def leaky_relu(x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """Leaky ReLU ``x if x > 0 else a x`` with ``a = negative_slope``: negative inputs keep a gradient."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x, negative_slope * x)


def leaky_relu_derivative(x: np.ndarray, negative_slope: float = 0.01) -> np.ndarray:
    """Leaky ReLU derivative ``1 if x > 0 else a``."""
    return np.where(np.asarray(x) > 0, 1.0, negative_slope)


def elu(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """Exponential linear unit ``x if x > 0 else a (e^x - 1)``: smooth, saturates at ``-a``."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, x, alpha * np.expm1(np.minimum(x, 0.0)))


def elu_derivative(x: np.ndarray, alpha: float = 1.0) -> np.ndarray:
    """ELU derivative ``1 if x > 0 else a e^x``."""
    x = np.asarray(x, dtype=np.float64)
    return np.where(x > 0, 1.0, alpha * np.exp(np.minimum(x, 0.0)))


def gelu(x: np.ndarray) -> np.ndarray:
    """Gaussian error linear unit ``x Phi(x) = x/2 (1 + erf(x / sqrt 2))`` (exact, not the tanh fit)."""
    x = np.asarray(x, dtype=np.float64)
    return 0.5 * x * (1.0 + erf(x / _SQRT_2))


def gelu_derivative(x: np.ndarray) -> np.ndarray:
    """GELU derivative ``Phi(x) + x phi(x)`` with ``phi(x) = e^{-x^2/2} / sqrt(2 pi)``."""
    x = np.asarray(x, dtype=np.float64)
    gaussian_cdf = 0.5 * (1.0 + erf(x / _SQRT_2))
    gaussian_pdf = _INV_SQRT_2PI * np.exp(-0.5 * x * x)
    return gaussian_cdf + x * gaussian_pdf


def silu(x: np.ndarray) -> np.ndarray:
    """SiLU / Swish ``x s(x)``: the input gated by its own sigmoid."""
    x = np.asarray(x, dtype=np.float64)
    return x * sigmoid(x)


def silu_derivative(x: np.ndarray) -> np.ndarray:
    """SiLU derivative ``s(x) (1 + x (1 - s(x)))`` (product rule on ``x s(x)``)."""
    x = np.asarray(x, dtype=np.float64)
    s = sigmoid(x)
    return s * (1.0 + x * (1.0 - s))


def softplus(x: np.ndarray) -> np.ndarray:
    """Softplus ``log(1 + e^x)`` computed as ``max(x, 0) + log1p(e^-|x|)``: a smooth ReLU."""
    x = np.asarray(x, dtype=np.float64)
    return np.maximum(x, 0.0) + np.log1p(np.exp(-np.abs(x)))


def softplus_derivative(x: np.ndarray) -> np.ndarray:
    """Softplus derivative: the sigmoid ``s(x)``."""
    return sigmoid(x)


def softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Softmax ``p_i = e^{x_i - m} / sum_j e^{x_j - m}`` with ``m = max_j x_j`` for stability."""
    x = np.asarray(x, dtype=np.float64)
    exponentials = np.exp(x - np.max(x, axis=axis, keepdims=True))
    return exponentials / np.sum(exponentials, axis=axis, keepdims=True)


def softmax_jacobian(x: np.ndarray) -> np.ndarray:
    """Softmax Jacobian over the last axis, ``J_ij = p_i (delta_ij - p_j)``, shape ``(..., K, K)``."""
    p = softmax(x)
    return p[..., :, None] * (np.eye(p.shape[-1]) - p[..., None, :])


def softmax_vjp(x: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
    """Vector-Jacobian product ``g J = p * (g - sum_j g_j p_j)``: backprop through softmax without J."""
    p = softmax(x)
    return p * (grad_output - np.sum(grad_output * p, axis=-1, keepdims=True))


def log_softmax(x: np.ndarray, axis: int = -1) -> np.ndarray:
    """Log-softmax ``x_i - m - log sum_j e^{x_j - m}``: exact log-probabilities without underflow."""
    x = np.asarray(x, dtype=np.float64)
    shifted = x - np.max(x, axis=axis, keepdims=True)
    return shifted - np.log(np.sum(np.exp(shifted), axis=axis, keepdims=True))


def log_softmax_jacobian(x: np.ndarray) -> np.ndarray:
    """Log-softmax Jacobian over the last axis, ``J_ij = delta_ij - p_j``, shape ``(..., K, K)``."""
    p = softmax(x)
    return np.eye(p.shape[-1]) - p[..., None, :]


def log_softmax_vjp(x: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
    """Vector-Jacobian product ``g J = g - p sum_i g_i`` for log-softmax."""
    return grad_output - softmax(x) * np.sum(grad_output, axis=-1, keepdims=True)


ArrayFunction = Callable[..., np.ndarray]


@dataclass(frozen=True)
class Activation:
    """An activation function bundled with what back-propagation needs from it.

    Attributes:
        name: Registry name, e.g. ``"relu"``.
        function: ``f(x, **params)``.
        derivative: Element-wise ``f'(x, **params)``, or the Jacobian ``(..., K, K)`` for vector
            activations.
        params: Hyper-parameters passed to ``function`` and ``derivative`` (e.g. ``alpha``).
        vjp: For vector activations, ``vjp(x, g) = g J(x)``; ``None`` for element-wise ones.
    """

    name: str
    function: ArrayFunction
    derivative: ArrayFunction
    params: Mapping[str, Any] = field(default_factory=dict)
    vjp: ArrayFunction | None = None

    @property
    def elementwise(self) -> bool:
        """Whether each output depends only on the input at the same position."""
        return self.vjp is None

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Evaluate ``f(x)``."""
        return self.function(x, **self.params)

    def gradient(self, x: np.ndarray) -> np.ndarray:
        """Evaluate ``f'(x)`` (element-wise) or the Jacobian (vector activations)."""
        return self.derivative(x, **self.params)

    def backward(self, x: np.ndarray, grad_output: np.ndarray) -> np.ndarray:
        """Chain rule through the activation: ``dL/dx`` from ``dL/dy`` evaluated at input ``x``."""
        if self.vjp is None:
            return grad_output * self.gradient(x)
        return self.vjp(x, grad_output)


_FUNCTIONS: dict[str, tuple[ArrayFunction, ArrayFunction, ArrayFunction | None]] = {
    "step": (step, step_derivative, None),
    "sigmoid": (sigmoid, sigmoid_derivative, None),
    "tanh": (tanh, tanh_derivative, None),
    "relu": (relu, relu_derivative, None),
    "leaky_relu": (leaky_relu, leaky_relu_derivative, None),
    "elu": (elu, elu_derivative, None),
    "gelu": (gelu, gelu_derivative, None),
    "silu": (silu, silu_derivative, None),
    "softplus": (softplus, softplus_derivative, None),
    "softmax": (softmax, softmax_jacobian, softmax_vjp),
    "log_softmax": (log_softmax, log_softmax_jacobian, log_softmax_vjp),
}
_ALIASES = {"swish": "silu"}

ACTIVATION_NAMES: tuple[str, ...] = tuple(_FUNCTIONS)


def get_activation(name: str, **params: Any) -> Activation:
    """Look up an activation by name, optionally with hyper-parameters.

    Args:
        name: One of :data:`ACTIVATION_NAMES` (or ``"swish"`` for SiLU).
        **params: Hyper-parameters, e.g. ``negative_slope`` for leaky ReLU, ``alpha`` for ELU.

    Returns:
        The :class:`Activation`.

    Raises:
        KeyError: If the name is unknown.
    """
    canonical = _ALIASES.get(name, name)
    if canonical not in _FUNCTIONS:
        raise KeyError(f"unknown activation {name!r}; choose from {', '.join(ACTIVATION_NAMES)}")
    function, derivative, vjp = _FUNCTIONS[canonical]
    return Activation(canonical, function, derivative, dict(params), vjp)
