"""Weight initialisation: start where the signal neither explodes nor vanishes.

A layer ``y = W x`` with ``fan_in`` inputs of variance ``v`` and weights of variance
``s^2`` produces outputs of variance ``fan_in * s^2 * v``. Stacking layers multiplies
these factors, so unless each is close to 1 the activations (and, symmetrically, the
back-propagated gradients) grow or shrink exponentially with depth.

* **Xavier / Glorot** (2010), for tanh and sigmoid-like units: balance the forward and
  the backward pass with ``Var(W) = 2 / (fan_in + fan_out)``.
  Uniform form: ``W ~ U(-a, a)`` with ``a = sqrt(6 / (fan_in + fan_out))``.
* **He / Kaiming** (2015), for ReLU units, which zero half their inputs and so halve
  the variance: ``Var(W) = 2 / fan_in``. Uniform form: ``a = sqrt(6 / fan_in)``.

(A uniform ``U(-a, a)`` has variance ``a^2 / 3``, which gives the uniform limits.)
Biases start at zero. Weight matrices here have PyTorch's shape ``(fan_out, fan_in)``.
"""

from __future__ import annotations

import math
from collections.abc import Callable

import numpy as np

Initializer = Callable[[int, int, np.random.Generator], np.ndarray]


def xavier_uniform(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """Glorot uniform ``U(-a, a)``, ``a = sqrt(6 / (fan_in + fan_out))``; shape ``(fan_out, fan_in)``."""
    limit = math.sqrt(6.0 / (fan_in + fan_out))
    return rng.uniform(-limit, limit, size=(fan_out, fan_in))


def xavier_normal(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """Glorot normal ``N(0, 2 / (fan_in + fan_out))``; shape ``(fan_out, fan_in)``."""
    std = math.sqrt(2.0 / (fan_in + fan_out))
    return rng.normal(0.0, std, size=(fan_out, fan_in))


def he_uniform(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """He / Kaiming uniform ``U(-a, a)``, ``a = sqrt(6 / fan_in)``; shape ``(fan_out, fan_in)``."""
    limit = math.sqrt(6.0 / fan_in)
    return rng.uniform(-limit, limit, size=(fan_out, fan_in))


def he_normal(fan_in: int, fan_out: int, rng: np.random.Generator) -> np.ndarray:
    """He / Kaiming normal ``N(0, 2 / fan_in)``; shape ``(fan_out, fan_in)``."""
    std = math.sqrt(2.0 / fan_in)
    return rng.normal(0.0, std, size=(fan_out, fan_in))


INITIALIZERS: dict[str, Initializer] = {
    "xavier": xavier_uniform,
    "xavier_uniform": xavier_uniform,
    "xavier_normal": xavier_normal,
    "glorot": xavier_uniform,
    "he": he_normal,
    "he_normal": he_normal,
    "he_uniform": he_uniform,
    "kaiming": he_normal,
}


def get_initializer(name: str) -> Initializer:
    """Look up an initializer by name (``"xavier"``, ``"he"``, ``"he_uniform"``, ...).

    Raises:
        KeyError: If the name is unknown.
    """
    if name not in INITIALIZERS:
        raise KeyError(f"unknown initializer {name!r}; choose from {', '.join(INITIALIZERS)}")
    return INITIALIZERS[name]
