"""Optimizers: how to step downhill once back-propagation has given the gradient.

Each optimizer updates parameters ``theta`` in place from their gradients ``g`` at
learning rate ``eta``. The update rules follow PyTorch's conventions exactly:

* **SGD**: ``theta <- theta - eta g``.
* **Momentum** (heavy ball): a velocity accumulates past gradients,
  ``v <- mu v + g``, ``theta <- theta - eta v``; consistent directions speed up,
  oscillating ones cancel.
* **Adam** (Kingma & Ba, 2015): per-parameter step sizes from running moments,
  ``m <- b1 m + (1 - b1) g``, ``s <- b2 s + (1 - b2) g^2``,
  bias-corrected ``m_hat = m / (1 - b1^t)``, ``s_hat = s / (1 - b2^t)``,
  ``theta <- theta - eta m_hat / (sqrt(s_hat) + eps)``.

Optimizer state (velocity, moments) is kept per parameter name.
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping

import numpy as np


class Optimizer(ABC):
    """Base class: ``step`` updates every named parameter in place from its gradient.

    Args:
        learning_rate: Step size ``eta``.
    """

    def __init__(self, learning_rate: float) -> None:
        if learning_rate <= 0:
            raise ValueError("learning_rate must be positive")
        self.learning_rate = learning_rate

    def step(self, parameters: Mapping[str, np.ndarray], gradients: Mapping[str, np.ndarray]) -> None:
        """Update each array in ``parameters`` in place using the same-named gradient.

        Args:
            parameters: Trainable arrays by name (e.g. ``network.parameters()``).
            gradients: Their gradients by the same names (e.g. ``network.gradients()``).
        """
        for name, parameter in parameters.items():
            parameter -= self.update(name, gradients[name])

    @abstractmethod
    def update(self, name: str, gradient: np.ndarray) -> np.ndarray:
        """The amount to subtract from parameter ``name`` given its gradient."""


class SGD(Optimizer):
    """Plain gradient descent ``theta <- theta - eta g``."""

    def update(self, name: str, gradient: np.ndarray) -> np.ndarray:
        """``eta g``."""
        return self.learning_rate * gradient


class Momentum(Optimizer):
    """Gradient descent with momentum: ``v <- mu v + g``, ``theta <- theta - eta v``.

    Args:
        learning_rate: Step size ``eta``.
        momentum: Decay ``mu`` of the velocity, in [0, 1).
    """

    def __init__(self, learning_rate: float, momentum: float = 0.9) -> None:
        super().__init__(learning_rate)
        self.momentum = momentum
        self.velocity: dict[str, np.ndarray] = {}

    def update(self, name: str, gradient: np.ndarray) -> np.ndarray:
        """``eta v`` after ``v <- mu v + g`` (the first step starts from ``v = g``)."""
        if name in self.velocity:
            self.velocity[name] = self.momentum * self.velocity[name] + gradient
        else:
            self.velocity[name] = gradient.copy()
        return self.learning_rate * self.velocity[name]


class Adam(Optimizer):
    """Adam: momentum on the gradient and on its square, both bias-corrected.

    Args:
        learning_rate: Step size ``eta``.
        beta1: Decay ``b1`` of the first moment (mean of ``g``).
        beta2: Decay ``b2`` of the second moment (mean of ``g^2``).
        epsilon: ``eps`` added to the denominator.
    """

    def __init__(
        self,
        learning_rate: float = 1e-3,
        beta1: float = 0.9,
        beta2: float = 0.999,
        epsilon: float = 1e-8,
    ) -> None:
        super().__init__(learning_rate)
        self.beta1 = beta1
        self.beta2 = beta2
        self.epsilon = epsilon
        self.first_moment: dict[str, np.ndarray] = {}
        self.second_moment: dict[str, np.ndarray] = {}
        self.steps: dict[str, int] = {}

    def update(self, name: str, gradient: np.ndarray) -> np.ndarray:
        """``eta m_hat / (sqrt(s_hat) + eps)`` after updating the moments of ``name``."""
        step_count = self.steps.get(name, 0) + 1
        self.steps[name] = step_count
        mean = self.first_moment.get(name, np.zeros_like(gradient))
        mean_square = self.second_moment.get(name, np.zeros_like(gradient))
        mean = self.beta1 * mean + (1.0 - self.beta1) * gradient
        mean_square = self.beta2 * mean_square + (1.0 - self.beta2) * gradient * gradient
        self.first_moment[name], self.second_moment[name] = mean, mean_square
        corrected_mean = mean / (1.0 - self.beta1**step_count)
        corrected_mean_square = mean_square / (1.0 - self.beta2**step_count)
        return self.learning_rate * corrected_mean / (np.sqrt(corrected_mean_square) + self.epsilon)


OPTIMIZERS: dict[str, type[Optimizer]] = {"sgd": SGD, "momentum": Momentum, "adam": Adam}
