"""Layers: the building blocks, each with a forward pass and an explicit backward pass.

Back-propagation is the chain rule applied layer by layer. A layer ``y = f(x; theta)``
receives the upstream gradient ``dL/dy`` and must return two things:

* ``dL/dx = dL/dy * dy/dx``, passed on to the layer below, and
* ``dL/dtheta = dL/dy * dy/dtheta``, kept for the optimizer.

For this the forward pass caches what the backward pass needs (here, its input).

**Linear** (fully connected), for a batch ``X`` of shape ``(n, in)`` and weights ``W`` of
shape ``(out, in)`` (PyTorch's layout)::

    Y = X W^T + b
    dL/dX = dL/dY W          dL/dW = (dL/dY)^T X          dL/db = sum_rows dL/dY

**Activation layer** ``Y = f(X)``: ``dL/dX = dL/dY * f'(X)`` element-wise (or the
vector-Jacobian product for softmax / log-softmax).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from typing import Any

import numpy as np

from .activations import Activation, get_activation
from .initializers import get_initializer


class Layer(ABC):
    """Base class: a differentiable function with (possibly no) trainable parameters.

    Subclasses implement :meth:`forward` and :meth:`backward`; layers with parameters
    keep them in ``self.params`` and their gradients, filled by :meth:`backward`, in
    ``self.grads`` under the same names.
    """

    def __init__(self) -> None:
        self.params: dict[str, np.ndarray] = {}
        self.grads: dict[str, np.ndarray] = {}

    @abstractmethod
    def forward(self, x: np.ndarray) -> np.ndarray:
        """Compute the output for a batch and cache what :meth:`backward` needs."""

    @abstractmethod
    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Given ``dL/dy`` for the last forward pass, store parameter gradients and return ``dL/dx``."""

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Alias of :meth:`forward`."""
        return self.forward(x)

    def parameters(self) -> dict[str, np.ndarray]:
        """Trainable arrays by name (updated in place by optimizers)."""
        return self.params

    def gradients(self) -> dict[str, np.ndarray]:
        """Gradients of the loss with respect to :meth:`parameters`, by the same names."""
        return self.grads


class Linear(Layer):
    """Fully connected layer ``Y = X W^T + b``.

    Args:
        in_features: Input dimension.
        out_features: Output dimension.
        init: Weight initializer name (``"he"`` for ReLU nets, ``"xavier"`` for tanh/sigmoid).
        rng: Random generator for the initial weights (default: seeded with 0).
    """

    def __init__(
        self,
        in_features: int,
        out_features: int,
        init: str = "he",
        rng: np.random.Generator | None = None,
    ) -> None:
        super().__init__()
        rng = rng if rng is not None else np.random.default_rng(0)
        self.in_features = in_features
        self.out_features = out_features
        self.params["weight"] = get_initializer(init)(in_features, out_features, rng)
        self.params["bias"] = np.zeros(out_features, dtype=np.float64)
        self._input: np.ndarray | None = None

    @property
    def weight(self) -> np.ndarray:
        """Weight matrix ``W`` of shape ``(out_features, in_features)``."""
        return self.params["weight"]

    @property
    def bias(self) -> np.ndarray:
        """Bias vector ``b`` of shape ``(out_features,)``."""
        return self.params["bias"]

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``Y = X W^T + b``; caches ``X``."""
        self._input = np.asarray(x, dtype=np.float64)
        return self._input @ self.weight.T + self.bias

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Store ``dL/dW = G^T X`` and ``dL/db = sum_rows G``; return ``dL/dX = G W``."""
        if self._input is None:
            raise RuntimeError("Linear.backward called before forward")
        flat_input = self._input.reshape(-1, self.in_features)
        flat_grad = grad_output.reshape(-1, self.out_features)
        self.grads["weight"] = flat_grad.T @ flat_input
        self.grads["bias"] = flat_grad.sum(axis=0)
        return grad_output @ self.weight

    def __repr__(self) -> str:
        return f"Linear({self.in_features}, {self.out_features})"


class ActivationLayer(Layer):
    """A parameter-free layer applying an activation function.

    Args:
        activation: An :class:`~visionstack.foundations.activations.Activation` or its name.
        **params: Activation hyper-parameters when given by name (e.g. ``negative_slope=0.1``).
    """

    def __init__(self, activation: Activation | str, **params: Any) -> None:
        super().__init__()
        self.activation = get_activation(activation, **params) if isinstance(activation, str) else activation
        self._input: np.ndarray | None = None

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``Y = f(X)``; caches ``X``."""
        self._input = np.asarray(x, dtype=np.float64)
        return self.activation(self._input)

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """``dL/dX = dL/dY * f'(X)`` (or the softmax vector-Jacobian product)."""
        if self._input is None:
            raise RuntimeError("ActivationLayer.backward called before forward")
        return self.activation.backward(self._input, grad_output)

    def __repr__(self) -> str:
        return f"ActivationLayer({self.activation.name!r})"
