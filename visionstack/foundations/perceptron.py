"""The Rosenblatt perceptron (1958): the first learning machine, and its limit.

A perceptron is one neuron with a step activation::

    y_hat = step(w . x + b)          step(z) = 1 if z >= 0 else 0

It learns by the perceptron rule, applied to one example at a time::

    w <- w + eta (y - y_hat) x
    b <- b + eta (y - y_hat)

Nothing changes when the prediction is right; when it is wrong the weight vector is
pushed towards (false negative) or away from (false positive) the example. The
perceptron convergence theorem says that if the classes are linearly separable the
rule stops after a finite number of mistakes: it learns AND and OR. XOR is not
linearly separable (no line puts (0,1),(1,0) on one side and (0,0),(1,1) on the
other), so the rule never stops changing its mind. That limit, pointed out by Minsky
and Papert (1969), is what hidden layers and back-propagation overcome.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

from .activations import step


@dataclass
class PerceptronHistory:
    """What happened during training.

    Attributes:
        mistakes_per_epoch: Number of misclassified examples in each pass over the data.
        converged: True when an epoch made no mistake (the data was separated).
    """

    mistakes_per_epoch: list[int] = field(default_factory=list)
    converged: bool = False

    @property
    def epochs(self) -> int:
        """Number of passes over the data that were run."""
        return len(self.mistakes_per_epoch)


class Perceptron:
    """A single threshold neuron trained by the Rosenblatt rule.

    Args:
        n_features: Dimension of the inputs.
        learning_rate: Step ``eta`` of the update rule.

    Attributes:
        weights: Weight vector ``w`` of shape ``(n_features,)``, starts at zero.
        bias: Bias ``b``, starts at zero.
    """

    def __init__(self, n_features: int, learning_rate: float = 1.0) -> None:
        self.learning_rate = learning_rate
        self.weights = np.zeros(n_features, dtype=np.float64)
        self.bias = 0.0

    def decision_function(self, x: np.ndarray) -> np.ndarray:
        """Pre-activation ``w . x + b`` for a batch of shape ``(n, n_features)``."""
        return np.asarray(x, dtype=np.float64) @ self.weights + self.bias

    def predict(self, x: np.ndarray) -> np.ndarray:
        """Class labels in {0, 1}: ``step(w . x + b)``."""
        return step(self.decision_function(x))

    def update(self, example: np.ndarray, label: float) -> bool:
        """Apply the perceptron rule to one example.

        Args:
            example: Input vector of shape ``(n_features,)``.
            label: Target in {0, 1}.

        Returns:
            True if the example was misclassified (and the weights moved).
        """
        error = label - float(step(example @ self.weights + self.bias))
        if error == 0.0:
            return False
        self.weights += self.learning_rate * error * example
        self.bias += self.learning_rate * error
        return True

    def fit(self, x: np.ndarray, y: np.ndarray, max_epochs: int = 100) -> PerceptronHistory:
        """Cycle through the data applying the rule until an epoch has no mistakes.

        Args:
            x: Inputs of shape ``(n, n_features)``.
            y: Labels in {0, 1} of shape ``(n,)``.
            max_epochs: Give up after this many passes (the data may not be separable).

        Returns:
            The :class:`PerceptronHistory`; ``converged`` is False if ``max_epochs`` ran out.
        """
        x = np.asarray(x, dtype=np.float64)
        y = np.asarray(y, dtype=np.float64)
        history = PerceptronHistory()
        for _ in range(max_epochs):
            mistakes = sum(self.update(example, label) for example, label in zip(x, y))
            history.mistakes_per_epoch.append(int(mistakes))
            if mistakes == 0:
                history.converged = True
                break
        return history

    def accuracy(self, x: np.ndarray, y: np.ndarray) -> float:
        """Fraction of examples whose predicted label equals ``y``."""
        return float(np.mean(self.predict(x) == np.asarray(y)))


def logic_gate_dataset(gate: str) -> tuple[np.ndarray, np.ndarray]:
    """The four-row truth table of a two-input logic gate.

    Args:
        gate: ``"and"``, ``"or"``, ``"nand"`` or ``"xor"``.

    Returns:
        ``(inputs, labels)``: inputs of shape ``(4, 2)`` in {0, 1}, labels of shape ``(4,)``.

    Raises:
        KeyError: If the gate is unknown.
    """
    inputs = np.array([[0.0, 0.0], [0.0, 1.0], [1.0, 0.0], [1.0, 1.0]])
    truth_tables = {
        "and": [0.0, 0.0, 0.0, 1.0],
        "or": [0.0, 1.0, 1.0, 1.0],
        "nand": [1.0, 1.0, 1.0, 0.0],
        "xor": [0.0, 1.0, 1.0, 0.0],
    }
    return inputs, np.array(truth_tables[gate.lower()])
