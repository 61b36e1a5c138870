"""Runnable demos of the foundations course, each training a model and writing PNGs.

* ``perceptron``: the Rosenblatt rule learns AND and OR and fails on XOR.
* ``xor``: a 2-layer MLP (one hidden tanh layer) solves XOR by back-propagation.
* ``moons``: an MLP separates scikit-learn's two interleaving half-moons.
* ``digits``: an MLP classifies scikit-learn's 8x8 handwritten digits.

Every demo also writes ``activations.png`` (each activation and its derivative).
Run one with ``python -m visionstack.foundations.demos NAME [--out-dir D]``.
"""

from __future__ import annotations

import argparse
import time
from collections.abc import Callable, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from .layers import Layer
from .losses import BCEWithLogitsLoss, CrossEntropyLoss, Loss
from .network import mlp
from .optimizers import Adam, Optimizer
from .perceptron import Perceptron, logic_gate_dataset
from .plots import (
    BoundaryPanel,
    save_activation_gallery,
    save_curves,
    save_decision_boundaries,
    save_digit_predictions,
)
from .training import History, accuracy, fit

DemoResult = dict[str, Any]


def _perceptron_demo(out_dir: Path) -> DemoResult:
    """Train a perceptron on AND, OR and XOR; plot boundaries and mistakes per epoch."""
    result: DemoResult = {}
    panels, mistakes = [], {}
    for gate in ("and", "or", "xor"):
        inputs, labels = logic_gate_dataset(gate)
        perceptron = Perceptron(n_features=2, learning_rate=1.0)
        history = perceptron.fit(inputs, labels, max_epochs=30)
        gate_accuracy = perceptron.accuracy(inputs, labels)
        result[f"accuracy_{gate}"] = gate_accuracy
        result[f"converged_{gate}"] = history.converged
        verdict = f"converged in {history.epochs} epochs" if history.converged else "never converged"
        panels.append(
            BoundaryPanel(
                f"{gate.upper()}: {verdict}, acc {gate_accuracy:.0%}",
                perceptron.decision_function,
                inputs,
                labels,
                threshold=0.0,
            )
        )
        mistakes[gate.upper()] = history.mistakes_per_epoch
    result["accuracy"] = min(result["accuracy_and"], result["accuracy_or"])
    result["pngs"] = [
        save_decision_boundaries(
            out_dir / "perceptron_boundaries.png",
            panels,
            "Perceptron decision boundaries (step(w.x + b) = 1 in orange)",
        ),
        save_curves(
            out_dir / "perceptron_mistakes.png",
            mistakes,
            "Perceptron rule: mistakes per epoch",
            "misclassified examples",
        ),
    ]
    return result


def _xor_demo(out_dir: Path) -> DemoResult:
    """Train a 2-4-1 tanh MLP on XOR with binary cross-entropy and Adam."""
    inputs, labels = logic_gate_dataset("xor")
    targets = labels.reshape(-1, 1)
    network = mlp([2, 4, 1], activation="tanh", rng=np.random.default_rng(1))
    loss = BCEWithLogitsLoss()
    history = fit(
        network,
        loss,
        Adam(learning_rate=0.05),
        inputs,
        targets,
        epochs=400,
        batch_size=4,
        rng=np.random.default_rng(1),
    )
    xor_accuracy = accuracy(network, loss, inputs, labels)
    panel = BoundaryPanel(
        f"2-4-1 tanh MLP on XOR, acc {xor_accuracy:.0%}",
        lambda grid: loss.output(network.forward(grid)),
        inputs,
        labels,
    )
    pngs = [
        save_decision_boundaries(out_dir / "xor_boundary.png", [panel], "XOR solved by one hidden layer"),
        save_curves(
            out_dir / "xor_loss.png",
            {"binary cross-entropy": history.losses},
            "XOR: training loss",
            "loss",
            log_scale=True,
        ),
    ]
    return {"accuracy": xor_accuracy, "final_loss": history.losses[-1], "pngs": pngs}


def _split(count: int, test_fraction: float, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    """Seeded random train/test index split."""
    order = rng.permutation(count)
    test_count = int(round(count * test_fraction))
    return order[test_count:], order[:test_count]


def _fit_with_test_accuracy(
    network: Layer,
    loss: Loss,
    optimizer: Optimizer,
    train_data: tuple[np.ndarray, np.ndarray],
    test_data: tuple[np.ndarray, np.ndarray],
    epochs: int,
) -> History:
    """Train with mini-batches of 32 (shuffled with seed 0), recording ``"test accuracy"`` after every epoch.

    Args:
        train_data: training inputs and the targets the loss expects.
        test_data: held-out inputs and their class labels.
    """
    test_inputs, test_labels = test_data

    def test_accuracy(_epoch: int) -> dict[str, float]:
        return {"test accuracy": accuracy(network, loss, test_inputs, test_labels)}

    return fit(
        network,
        loss,
        optimizer,
        *train_data,
        epochs=epochs,
        batch_size=32,
        rng=np.random.default_rng(0),
        on_epoch_end=test_accuracy,
    )


def _moons_demo(out_dir: Path) -> DemoResult:
    """Train a 2-32-32-1 ReLU MLP on noisy half-moons; evaluate on a held-out 30%."""
    from sklearn.datasets import make_moons

    points, labels = make_moons(n_samples=1000, noise=0.15, random_state=0)
    train, test = _split(len(points), 0.3, np.random.default_rng(0))
    network = mlp([2, 32, 32, 1], activation="relu", rng=np.random.default_rng(0))
    loss = BCEWithLogitsLoss()
    history = _fit_with_test_accuracy(
        network,
        loss,
        Adam(learning_rate=0.01),
        (points[train], labels[train].reshape(-1, 1)),
        (points[test], labels[test]),
        epochs=60,
    )
    moons_accuracy = history.metrics["test accuracy"][-1]

    def probability(grid: np.ndarray) -> np.ndarray:
        return loss.output(network.forward(grid))

    panels = [
        BoundaryPanel("train set", probability, points[train], labels[train]),
        BoundaryPanel(f"test set, acc {moons_accuracy:.1%}", probability, points[test], labels[test]),
    ]
    pngs = [
        save_decision_boundaries(out_dir / "moons_boundary.png", panels, "Two moons: 2-32-32-1 ReLU MLP"),
        save_curves(
            out_dir / "moons_loss.png",
            {"train binary cross-entropy": history.losses},
            "Moons: training loss",
            "loss",
        ),
    ]
    return {"accuracy": moons_accuracy, "final_loss": history.losses[-1], "pngs": pngs}


def _digits_demo(out_dir: Path) -> DemoResult:
    """Train a 64-128-10 ReLU MLP with softmax cross-entropy on standardized 8x8 digits."""
    from sklearn.datasets import load_digits

    digits = load_digits()
    features, labels = digits.data.astype(np.float64), digits.target
    train, test = _split(len(features), 0.25, np.random.default_rng(0))
    mean, std = features[train].mean(axis=0), features[train].std(axis=0)
    standardized = (features - mean) / np.where(std > 0, std, 1.0)
    network = mlp([64, 128, 10], activation="relu", rng=np.random.default_rng(0))
    loss = CrossEntropyLoss()
    history = _fit_with_test_accuracy(
        network,
        loss,
        Adam(learning_rate=1e-3),
        (standardized[train], labels[train]),
        (standardized[test], labels[test]),
        epochs=30,
    )
    digits_accuracy = history.metrics["test accuracy"][-1]
    predictions = loss.predict(network.forward(standardized[test]))
    pngs = [
        save_curves(
            out_dir / "digits_loss.png",
            {"train cross-entropy": history.losses},
            "Digits: training loss",
            "loss",
        ),
        save_curves(
            out_dir / "digits_accuracy.png",
            {"test accuracy": history.metrics["test accuracy"]},
            "Digits: test accuracy per epoch",
            "accuracy",
        ),
        save_digit_predictions(
            out_dir / "digits_predictions.png", digits.images[test], labels[test], predictions
        ),
    ]
    return {"accuracy": digits_accuracy, "final_loss": history.losses[-1], "pngs": pngs}


DEMOS: dict[str, Callable[[Path], DemoResult]] = {
    "perceptron": _perceptron_demo,
    "xor": _xor_demo,
    "moons": _moons_demo,
    "digits": _digits_demo,
}


def run_demo(name: str, out_dir: Path) -> dict[str, Any]:
    """Run one demo: train, write its PNGs plus the activation gallery, print the accuracy.

    Args:
        name: ``"perceptron"``, ``"xor"``, ``"moons"`` or ``"digits"``.
        out_dir: Folder for the PNGs (created if missing).

    Returns:
        At least ``{"name", "accuracy", "pngs", "seconds"}``; ``accuracy`` is the test
        accuracy (for ``perceptron``, the lower of AND and OR; XOR's is reported apart).

    Raises:
        ValueError: If the demo name is unknown.
    """
    if name not in DEMOS:
        raise ValueError(f"unknown demo {name!r}; choose from {', '.join(DEMOS)}")
    out_dir = Path(out_dir)
    out_dir.mkdir(parents=True, exist_ok=True)
    start = time.perf_counter()
    result = DEMOS[name](out_dir)
    result["pngs"].append(save_activation_gallery(out_dir / "activations.png"))
    result["name"] = name
    result["seconds"] = time.perf_counter() - start
    if name == "perceptron":
        print(
            f"perceptron accuracy: AND {result['accuracy_and']:.1%}, OR {result['accuracy_or']:.1%}, "
            f"XOR {result['accuracy_xor']:.1%} (converged: {result['converged_xor']})"
        )
    print(f"{name} accuracy: {result['accuracy']:.2%} ({result['seconds']:.1f} s)")
    for png in result["pngs"]:
        print(f"wrote {png}")
    return result


def main(argv: Sequence[str] | None = None) -> int:
    """Command-line entry point: ``python -m visionstack.foundations.demos NAME [--out-dir D]``."""
    parser = argparse.ArgumentParser(description="Run a deep-learning foundations demo.")
    parser.add_argument("name", choices=sorted(DEMOS), help="which demo to run")
    parser.add_argument(
        "--out-dir", type=Path, default=None, help="folder for the PNGs (default: foundations-demos/NAME)"
    )
    arguments = parser.parse_args(argv)
    out_dir = (
        arguments.out_dir if arguments.out_dir is not None else Path("foundations-demos") / arguments.name
    )
    run_demo(arguments.name, out_dir)
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
