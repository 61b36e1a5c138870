"""The Rosenblatt perceptron learns AND and OR, and cannot learn XOR."""

from __future__ import annotations

import numpy as np
import pytest

from visionstack.foundations import Perceptron, logic_gate_dataset


@pytest.mark.parametrize("gate", ["and", "or", "nand"])
def test_perceptron_converges_on_linearly_separable_gates(gate: str) -> None:
    inputs, labels = logic_gate_dataset(gate)
    perceptron = Perceptron(n_features=2)
    history = perceptron.fit(inputs, labels, max_epochs=50)
    assert history.converged
    assert history.mistakes_per_epoch[-1] == 0
    assert perceptron.accuracy(inputs, labels) == 1.0
    np.testing.assert_array_equal(perceptron.predict(inputs), labels)


@pytest.mark.parametrize("learning_rate", [1.0, 0.1, 0.5])
def test_perceptron_never_converges_on_xor(learning_rate: float) -> None:
    inputs, labels = logic_gate_dataset("xor")
    perceptron = Perceptron(n_features=2, learning_rate=learning_rate)
    history = perceptron.fit(inputs, labels, max_epochs=1000)
    assert not history.converged
    assert history.epochs == 1000
    assert min(history.mistakes_per_epoch) > 0
    assert perceptron.accuracy(inputs, labels) <= 0.75


def test_perceptron_rule_moves_weights_only_on_mistakes() -> None:
    perceptron = Perceptron(n_features=2, learning_rate=0.5)
    example = np.array([1.0, 2.0])
    assert perceptron.update(example, 0.0)  # step(0) = 1, target 0: a false positive
    np.testing.assert_allclose(perceptron.weights, [-0.5, -1.0])
    assert perceptron.bias == pytest.approx(-0.5)
    assert not perceptron.update(example, 0.0)  # now w.x + b = -3 < 0: correct, nothing moves
    np.testing.assert_allclose(perceptron.weights, [-0.5, -1.0])
    assert perceptron.update(example, 1.0)  # false negative: pushed towards the example
    np.testing.assert_allclose(perceptron.weights, [0.0, 0.0])
    assert perceptron.bias == pytest.approx(0.0)


def test_perceptron_separates_a_random_linearly_separable_cloud() -> None:
    rng = np.random.default_rng(0)
    points = rng.normal(size=(200, 3))
    true_weights = np.array([1.5, -2.0, 0.7])
    scores = points @ true_weights + 0.3
    keep = np.abs(scores) > 0.2  # a margin guarantees convergence in finitely many mistakes
    labels = (scores[keep] > 0).astype(float)
    perceptron = Perceptron(n_features=3, learning_rate=0.1)
    assert perceptron.fit(points[keep], labels, max_epochs=500).converged
    assert perceptron.accuracy(points[keep], labels) == 1.0
