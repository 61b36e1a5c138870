"""Gradient checking: verify back-propagation against central finite differences.

An analytic gradient can be wrong in ways training will not reveal (it may still go
downhill, only slower). The check compares it with a numeric estimate obtained by
nudging one scalar ``theta_i`` at a time by ``h``::

    dL/dtheta_i ~ (L(theta + h e_i) - L(theta - h e_i)) / (2 h)     (error O(h^2))

and compares the two gradients of each array (the input, every parameter) by their
relative error::

    rel = ||analytic - numeric|| / (||analytic|| + ||numeric||)

The check returns the largest ``rel`` over the input and the parameters. Values around
1e-7 or below mean the backward pass is right; 1e-2 or above means a bug. Measuring the
whole array (rather than entry by entry) keeps entries whose true gradient is nearly
zero, where finite differences are pure round-off, from drowning the signal.

A layer or network ``y = f(x)`` is checked through the scalar ``L = sum(w * f(x))``
with fixed random weights ``w`` (so every output entry matters, with its own weight),
or through a real loss ``L = loss(f(x), targets)`` when one is given.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

import numpy as np

from .layers import Layer
from .losses import Loss


def relative_error(analytic: np.ndarray, numeric: np.ndarray) -> float:
    """``||a - n|| / (||a|| + ||n||)`` (Euclidean norms), 0 when both gradients are exactly zero."""
    analytic, numeric = np.asarray(analytic, dtype=np.float64), np.asarray(numeric, dtype=np.float64)
    scale = np.linalg.norm(analytic) + np.linalg.norm(numeric)
    return float(np.linalg.norm(analytic - numeric) / scale) if scale > 0 else 0.0


def numeric_gradient(objective: Callable[[], float], array: np.ndarray, step: float = 1e-5) -> np.ndarray:
    """Central-difference gradient of ``objective()`` with respect to ``array``, perturbed in place.

    Args:
        objective: Scalar function that reads ``array`` (a parameter or the input).
        array: The float64 array to perturb; every entry is restored afterwards.
        step: Perturbation ``h``.

    Returns:
        Array of ``(L(a + h e_i) - L(a - h e_i)) / 2h`` with the shape of ``array``.

    Raises:
        ValueError: If ``array`` is not C-contiguous (perturbing a copy would change nothing).
    """
    if not array.flags.c_contiguous:
        raise ValueError("numeric_gradient needs a C-contiguous array to perturb in place")
    gradient = np.zeros_like(array)
    flat_array, flat_gradient = array.reshape(-1), gradient.reshape(-1)
    for index in range(flat_array.size):
        original = flat_array[index]
        flat_array[index] = original + step
        upper = objective()
        flat_array[index] = original - step
        lower = objective()
        flat_array[index] = original
        flat_gradient[index] = (upper - lower) / (2.0 * step)
    return gradient


def _scalar_objective(
    model: Layer, x: np.ndarray, loss: Loss | None, targets: np.ndarray | None, output_weights: np.ndarray
) -> tuple[Callable[[], float], Callable[[], np.ndarray]]:
    """The scalar ``L(theta, x)`` and a function running backward that returns ``dL/dx``."""

    def objective() -> float:
        outputs = model.forward(x)
        if loss is not None:
            return loss.forward(outputs, targets)
        return float(np.sum(output_weights * outputs))

    def analytic_input_gradient() -> np.ndarray:
        objective()
        upstream = loss.backward() if loss is not None else output_weights
        return model.backward(upstream)

    return objective, analytic_input_gradient


def gradient_check_report(
    model: Layer,
    x: np.ndarray,
    loss: Loss | None = None,
    targets: np.ndarray | None = None,
    step: float = 1e-5,
    seed: int = 0,
) -> dict[str, float]:
    """Relative error of every gradient of a layer or network: the input's and each parameter's.

    Args:
        model: Any layer (including :class:`~visionstack.foundations.network.Sequential`).
        x: A float input batch (copied; the caller's array is not changed).
        loss: Optional loss; without one the check uses ``L = sum(w * model(x))``, ``w`` random.
        targets: Targets for ``loss``.
        step: Finite-difference step ``h``.
        seed: Seed of the random output weights ``w``.

    Returns:
        ``{"input": error, "<parameter name>": error, ...}``.
    """
    x = np.array(x, dtype=np.float64, copy=True)
    output_shape = np.shape(model.forward(x))
    output_weights = np.random.default_rng(seed).normal(size=output_shape)
    objective, analytic_input_gradient = _scalar_objective(model, x, loss, targets, output_weights)

    analytic_input = analytic_input_gradient()
    analytic_parameters = {name: grad.copy() for name, grad in model.gradients().items()}

    report = {"input": relative_error(analytic_input, numeric_gradient(objective, x, step))}
    for name, parameter in model.parameters().items():
        numeric = numeric_gradient(objective, parameter, step)
        report[name] = relative_error(analytic_parameters[name], numeric)
    return report


def gradient_check(model: Layer, x: np.ndarray, *args: Any, **kwargs: Any) -> float:
    """Maximum relative error between analytic and numeric gradients, over input and parameters.

    Takes the arguments of :func:`gradient_check_report` (``loss``, ``targets``, ``step``, ``seed``
    after ``model`` and ``x``) and returns the worst entry of its report.
    """
    return max(gradient_check_report(model, x, *args, **kwargs).values())


def loss_gradient_check(loss: Loss, outputs: np.ndarray, targets: np.ndarray, step: float = 1e-5) -> float:
    """Maximum relative error of ``loss.backward()`` against finite differences in the outputs.

    Args:
        loss: The loss to check.
        outputs: Raw network outputs ``z`` (copied).
        targets: Targets for the loss.
        step: Finite-difference step ``h``.

    Returns:
        The largest relative error over the entries of ``dL/dz``.
    """
    outputs = np.array(outputs, dtype=np.float64, copy=True)
    loss.forward(outputs, targets)
    analytic = loss.backward()
    numeric = numeric_gradient(lambda: loss.forward(outputs, targets), outputs, step)
    return relative_error(analytic, numeric)
