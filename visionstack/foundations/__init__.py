"""Deep-learning foundations from scratch, in NumPy only: a short course in modules.

Read in this order; each module's docstring states the concept and its formulas.

1. :mod:`.perceptron`: the Rosenblatt rule ``w <- w + eta (y - y_hat) x``; AND/OR yes, XOR no.
2. :mod:`.activations`: step, sigmoid, tanh, ReLU, leaky ReLU, ELU, GELU, SiLU, softplus,
   softmax, log-softmax, each with its derivative.
3. :mod:`.initializers`: Xavier ``Var(W) = 2/(fan_in + fan_out)`` and He ``Var(W) = 2/fan_in``.
4. :mod:`.layers`: ``Linear`` (``Y = X W^T + b``) and activation layers, with explicit backward passes.
5. :mod:`.network`: ``Sequential`` composition and back-propagation through it; ``mlp`` builder.
6. :mod:`.losses`: output layer + loss pairs: linear + MSE, sigmoid + BCE, softmax + cross-entropy.
7. :mod:`.optimizers`: SGD, momentum, Adam.
8. :mod:`.training`: ``fit`` as the three steps: a set of functions, their goodness, picking the best.
9. :mod:`.gradcheck`: central finite differences to verify every backward pass.
10. :mod:`.demos`: ``run_demo(name, out_dir)`` for perceptron, xor, moons, digits (plots in :mod:`.plots`).

The package imports only NumPy (matplotlib and scikit-learn are used by the demos alone).
"""

from __future__ import annotations

from os import PathLike
from pathlib import Path
from typing import Any

from .activations import ACTIVATION_NAMES, Activation, get_activation, log_softmax, sigmoid, softmax
from .gradcheck import gradient_check, gradient_check_report, loss_gradient_check, numeric_gradient
from .initializers import get_initializer, he_normal, he_uniform, xavier_normal, xavier_uniform
from .layers import ActivationLayer, Layer, Linear
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss, MSELoss
from .network import Sequential, mlp
from .optimizers import SGD, Adam, Momentum, Optimizer
from .perceptron import Perceptron, PerceptronHistory, logic_gate_dataset
from .training import (
    History,
    accuracy,
    define_goodness_of_function,
    define_set_of_functions,
    fit,
    pick_best_function,
)

__all__ = [
    "ACTIVATION_NAMES",
    "SGD",
    "Activation",
    "ActivationLayer",
    "Adam",
    "BCEWithLogitsLoss",
    "CrossEntropyLoss",
    "History",
    "Layer",
    "Linear",
    "Loss",
    "MSELoss",
    "Momentum",
    "Optimizer",
    "Perceptron",
    "PerceptronHistory",
    "Sequential",
    "accuracy",
    "define_goodness_of_function",
    "define_set_of_functions",
    "fit",
    "get_activation",
    "get_initializer",
    "gradient_check",
    "gradient_check_report",
    "he_normal",
    "he_uniform",
    "log_softmax",
    "logic_gate_dataset",
    "loss_gradient_check",
    "mlp",
    "numeric_gradient",
    "pick_best_function",
    "run_demo",
    "sigmoid",
    "softmax",
    "xavier_normal",
    "xavier_uniform",
]


def run_demo(name: str, out_dir: str | PathLike[str]) -> dict[str, Any]:
    """Run a demo (see :func:`visionstack.foundations.demos.run_demo`); imports matplotlib lazily."""
    from .demos import run_demo as run_demo_with_plots

    return run_demo_with_plots(name, Path(out_dir))
