"""The three steps of deep learning, as the shape of :func:`fit`.

1. **Define a set of functions.** A network architecture with free parameters
   ``theta`` is a family ``{f_theta}``; each setting of ``theta`` picks one function.
2. **Define the goodness of a function.** A loss over the training data,
   ``L(theta) = mean_n loss(f_theta(x_n), y_n)``, scores every member of the family
   (lower is better), and back-propagation gives its gradient ``dL/dtheta``.
3. **Pick the best function.** Gradient descent searches the family:
   ``theta <- theta - eta dL/dtheta`` on shuffled mini-batches, one epoch after another
   (or the optimizer's refined version of that step).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np

from .layers import Layer
from .losses import Loss
from .optimizers import Optimizer


@dataclass
class FunctionSet:
    """Step 1's result: a parametrised family ``f_theta``; the current ``theta`` selects one member.

    Attributes:
        network: The architecture; its parameters are ``theta``.
    """

    network: Layer

    def __call__(self, x: np.ndarray) -> np.ndarray:
        """Evaluate the currently selected function ``f_theta(x)``."""
        return self.network.forward(x)


@dataclass
class Goodness:
    """Step 2's result: the loss ``L(theta)`` of the selected function, and its gradient.

    Attributes:
        functions: The family being scored.
        loss: Per-batch loss (with its output layer).
    """

    functions: FunctionSet
    loss: Loss

    def evaluate_and_differentiate(self, x: np.ndarray, y: np.ndarray) -> float:
        """Return ``L`` on a batch and fill the network's gradients ``dL/dtheta`` by back-propagation."""
        value = self.loss.forward(self.functions(x), y)
        self.functions.network.backward(self.loss.backward())
        return value

    def evaluate(self, x: np.ndarray, y: np.ndarray) -> float:
        """Return ``L`` on a batch without touching gradients."""
        return self.loss.forward(self.functions(x), y)


@dataclass
class History:
    """Per-epoch record of training.

    Attributes:
        losses: Mean training loss of each epoch (averaged over its mini-batches).
        metrics: Extra per-epoch values returned by the ``on_epoch_end`` callback, by name.
    """

    losses: list[float] = field(default_factory=list)
    metrics: dict[str, list[float]] = field(default_factory=dict)


EpochCallback = Callable[[int], dict[str, float]]


def define_set_of_functions(network: Layer) -> FunctionSet:
    """Step 1: the network architecture defines the family of candidate functions."""
    return FunctionSet(network)


def define_goodness_of_function(functions: FunctionSet, loss: Loss) -> Goodness:
    """Step 2: the loss defines how good each candidate function is on the data."""
    return Goodness(functions, loss)


def pick_best_function(
    goodness: Goodness,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int,
    batch_size: int,
    rng: np.random.Generator,
    on_epoch_end: EpochCallback | None = None,
) -> History:
    """Step 3: mini-batch gradient descent on the goodness.

    Each epoch shuffles the data, then for every mini-batch computes the loss and
    ``dL/dtheta`` and lets the optimizer move ``theta`` downhill.

    Args:
        goodness: The loss of the function family (step 2).
        optimizer: The update rule (SGD, momentum, Adam).
        x: Training inputs, first axis indexes examples.
        y: Training targets, first axis indexes examples.
        epochs: Number of passes over the data.
        batch_size: Examples per gradient step (``len(x)`` for full-batch descent).
        rng: Random generator for the shuffling.
        on_epoch_end: Optional callback ``epoch -> {metric: value}`` recorded in the history.

    Returns:
        The training :class:`History`.
    """
    network = goodness.functions.network
    history = History()
    for epoch in range(epochs):
        order = rng.permutation(len(x))
        batch_losses, batch_sizes = [], []
        for start in range(0, len(x), batch_size):
            batch = order[start : start + batch_size]
            batch_losses.append(goodness.evaluate_and_differentiate(x[batch], y[batch]))
            batch_sizes.append(len(batch))
            optimizer.step(network.parameters(), network.gradients())
        history.losses.append(float(np.average(batch_losses, weights=batch_sizes)))
        if on_epoch_end is not None:
            for name, value in on_epoch_end(epoch).items():
                history.metrics.setdefault(name, []).append(float(value))
    return history


def fit(
    network: Layer,
    loss: Loss,
    optimizer: Optimizer,
    x: np.ndarray,
    y: np.ndarray,
    epochs: int = 100,
    batch_size: int = 32,
    rng: np.random.Generator | None = None,
    on_epoch_end: EpochCallback | None = None,
) -> History:
    """Train ``network`` on ``(x, y)`` by the three steps of deep learning.

    Args:
        network: The architecture whose parameters are trained in place.
        loss: The loss paired with the network's output layer.
        optimizer: The gradient-descent update rule.
        x: Training inputs of shape ``(n, ...)``.
        y: Training targets of shape ``(n, ...)``.
        epochs: Passes over the data.
        batch_size: Examples per gradient step.
        rng: Random generator for shuffling (default: seeded with 0).
        on_epoch_end: Optional callback ``epoch -> {metric: value}`` recorded in the history.

    Returns:
        The training :class:`History` (loss per epoch and callback metrics).
    """
    rng = rng if rng is not None else np.random.default_rng(0)
    x, y = np.asarray(x, dtype=np.float64), np.asarray(y)

    set_of_functions = define_set_of_functions(network)  # step 1: the family f_theta
    goodness_of_function = define_goodness_of_function(set_of_functions, loss)  # step 2: L(theta)
    return pick_best_function(  # step 3: gradient descent on L(theta)
        goodness_of_function, optimizer, x, y, epochs, batch_size, rng, on_epoch_end
    )


def accuracy(network: Layer, loss: Loss, x: np.ndarray, y: np.ndarray) -> float:
    """Fraction of examples whose predicted class (via the loss's output layer) equals ``y``."""
    predictions = loss.predict(network.forward(x))
    return float(np.mean(predictions.reshape(-1) == np.asarray(y).reshape(-1)))
