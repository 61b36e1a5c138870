"""Training by the three steps: XOR with two layers, scikit-learn digits, regression, the steps themselves."""

from __future__ import annotations

import inspect

import numpy as np
import pytest

from visionstack.foundations import (
    SGD,
    Adam,
    BCEWithLogitsLoss,
    CrossEntropyLoss,
    Momentum,
    MSELoss,
    accuracy,
    define_goodness_of_function,
    define_set_of_functions,
    fit,
    logic_gate_dataset,
    mlp,
    pick_best_function,
)
from visionstack.foundations import training as training_module


@pytest.mark.parametrize("seed", [0, 1, 2])
def test_two_layer_mlp_solves_xor(seed: int) -> None:
    inputs, labels = logic_gate_dataset("xor")
    network = mlp([2, 8, 1], activation="tanh", rng=np.random.default_rng(seed))
    loss = BCEWithLogitsLoss()
    history = fit(
        network,
        loss,
        Adam(0.05),
        inputs,
        labels.reshape(-1, 1),
        epochs=400,
        batch_size=4,
        rng=np.random.default_rng(seed),
    )
    assert accuracy(network, loss, inputs, labels) == 1.0
    assert history.losses[-1] < 0.05 < history.losses[0]


def test_mlp_reaches_95_percent_on_sklearn_digits() -> None:
    from sklearn.datasets import load_digits
    from sklearn.model_selection import train_test_split

    digits = load_digits()
    x_train, x_test, y_train, y_test = train_test_split(
        digits.data, digits.target, test_size=0.3, random_state=1, stratify=digits.target
    )
    mean, std = x_train.mean(axis=0), x_train.std(axis=0)
    std[std == 0] = 1.0
    x_train, x_test = (x_train - mean) / std, (x_test - mean) / std
    network = mlp([64, 64, 10], activation="relu", rng=np.random.default_rng(1))
    loss = CrossEntropyLoss()
    history = fit(
        network,
        loss,
        Momentum(0.05, momentum=0.9),
        x_train,
        y_train,
        epochs=25,
        batch_size=32,
        rng=np.random.default_rng(1),
    )
    test_accuracy = accuracy(network, loss, x_test, y_test)
    assert test_accuracy >= 0.95, f"digits test accuracy {test_accuracy:.3f}"
    assert history.losses[-1] < 0.1 * history.losses[0]


def test_linear_network_with_mse_recovers_a_linear_map() -> None:
    rng = np.random.default_rng(2)
    true_weights, true_bias = rng.normal(size=(2, 3)), np.array([0.5, -1.0])
    x = rng.normal(size=(256, 3))
    y = x @ true_weights.T + true_bias
    network = mlp([3, 2], rng=rng)
    fit(network, MSELoss(), SGD(0.1), x, y, epochs=60, batch_size=32, rng=rng)
    np.testing.assert_allclose(network[0].weight, true_weights, atol=1e-4)
    np.testing.assert_allclose(network[0].bias, true_bias, atol=1e-4)


def test_fit_reads_as_the_three_steps_in_order() -> None:
    source = inspect.getsource(training_module.fit)
    positions = [
        source.index(step + "(")
        for step in ("define_set_of_functions", "define_goodness_of_function", "pick_best_function")
    ]
    assert positions == sorted(positions)


def test_the_three_steps_compose_into_training() -> None:
    inputs, labels = logic_gate_dataset("or")
    network = mlp([2, 1], rng=np.random.default_rng(3))
    functions = define_set_of_functions(network)
    np.testing.assert_allclose(functions(inputs), network.forward(inputs))
    goodness = define_goodness_of_function(functions, BCEWithLogitsLoss())
    before = goodness.evaluate(inputs, labels.reshape(-1, 1))
    history = pick_best_function(
        goodness,
        SGD(0.5),
        inputs,
        labels.reshape(-1, 1),
        epochs=200,
        batch_size=4,
        rng=np.random.default_rng(3),
    )
    assert goodness.evaluate(inputs, labels.reshape(-1, 1)) < 0.2 * before
    assert len(history.losses) == 200


def test_fit_records_callback_metrics_each_epoch() -> None:
    inputs, labels = logic_gate_dataset("and")
    network = mlp([2, 1], rng=np.random.default_rng(4))
    loss = BCEWithLogitsLoss()
    history = fit(
        network,
        loss,
        Adam(0.1),
        inputs,
        labels.reshape(-1, 1),
        epochs=30,
        batch_size=2,
        on_epoch_end=lambda epoch: {"epoch": epoch, "acc": accuracy(network, loss, inputs, labels)},
    )
    assert history.metrics["epoch"] == list(range(30))
    assert history.metrics["acc"][-1] == 1.0
