"""Output layers and losses: how good is a function?

The last Linear layer outputs raw scores ``z``. What they mean, and how their error is
measured, is fixed by the pairing of an output non-linearity with a loss. Each pair
below is fused so that its gradient with respect to ``z`` is the simple
"prediction minus target" (the non-linearity's derivative cancels against the loss's):

=========================  ============================================  ===========================
output + loss              L (mean over the batch)                       dL/dz
=========================  ============================================  ===========================
linear + MSE               mean((z - y)^2) over all N entries            2 (z - y) / N
sigmoid + binary CE        mean(-y log s(z) - (1 - y) log(1 - s(z)))      (s(z) - y) / N
softmax + cross-entropy    mean_n(-log softmax(z_n)[y_n])                (softmax(z) - onehot(y)) / n
=========================  ============================================  ===========================

Binary cross-entropy is computed from logits in the stable form
``max(z, 0) - z y + log(1 + e^-|z|)``, cross-entropy through log-softmax, so neither
takes the log of a probability that rounded to 0.
"""

from __future__ import annotations

from abc import ABC, abstractmethod

import numpy as np

from .activations import log_softmax, sigmoid, softmax


class Loss(ABC):
    """A scalar measure of how far network outputs are from targets, with its gradient.

    :meth:`forward` computes the loss and caches what :meth:`backward` needs;
    :meth:`backward` returns ``dL/dz`` for the cached outputs ``z``; :meth:`output`
    turns raw outputs into predictions (identity, probabilities).
    """

    @abstractmethod
    def forward(self, outputs: np.ndarray, targets: np.ndarray) -> float:
        """Loss value for raw network outputs ``z`` against ``targets``."""

    @abstractmethod
    def backward(self) -> np.ndarray:
        """Gradient ``dL/dz`` for the outputs of the last :meth:`forward`."""

    @abstractmethod
    def output(self, outputs: np.ndarray) -> np.ndarray:
        """The output layer: what the raw outputs mean (values or probabilities)."""

    @abstractmethod
    def predict(self, outputs: np.ndarray) -> np.ndarray:
        """Final predictions (values or class labels) from raw outputs."""

    def __call__(self, outputs: np.ndarray, targets: np.ndarray) -> float:
        """Alias of :meth:`forward`."""
        return self.forward(outputs, targets)


class MSELoss(Loss):
    """Linear output + mean squared error ``L = mean((z - y)^2)``, gradient ``2 (z - y) / N``."""

    def __init__(self) -> None:
        self._residual: np.ndarray | None = None

    def forward(self, outputs: np.ndarray, targets: np.ndarray) -> float:
        """Mean of squared differences over all entries."""
        outputs = np.asarray(outputs, dtype=np.float64)
        self._residual = outputs - np.asarray(targets, dtype=np.float64).reshape(outputs.shape)
        return float(np.mean(self._residual**2))

    def backward(self) -> np.ndarray:
        """``2 (z - y) / N`` with ``N`` the number of entries."""
        if self._residual is None:
            raise RuntimeError("MSELoss.backward called before forward")
        return 2.0 * self._residual / self._residual.size

    def output(self, outputs: np.ndarray) -> np.ndarray:
        """Identity: a linear output layer predicts the value itself."""
        return np.asarray(outputs, dtype=np.float64)

    def predict(self, outputs: np.ndarray) -> np.ndarray:
        """The regression values."""
        return self.output(outputs)


class BCEWithLogitsLoss(Loss):
    """Sigmoid output + binary cross-entropy, computed from logits ``z`` for stability.

    ``L = mean(max(z, 0) - z y + log(1 + e^-|z|))``, which equals
    ``mean(-y log s(z) - (1 - y) log(1 - s(z)))``; gradient ``(s(z) - y) / N``.
    Targets are in {0, 1} (or probabilities in [0, 1]) with the shape of ``z``.
    """

    def __init__(self) -> None:
        self._logits: np.ndarray | None = None
        self._targets: np.ndarray | None = None

    def forward(self, outputs: np.ndarray, targets: np.ndarray) -> float:
        """Mean binary cross-entropy of ``sigmoid(outputs)`` against ``targets``."""
        logits = np.asarray(outputs, dtype=np.float64)
        targets = np.asarray(targets, dtype=np.float64).reshape(logits.shape)
        self._logits, self._targets = logits, targets
        per_entry = np.maximum(logits, 0.0) - logits * targets + np.log1p(np.exp(-np.abs(logits)))
        return float(np.mean(per_entry))

    def backward(self) -> np.ndarray:
        """``(sigmoid(z) - y) / N``."""
        if self._logits is None or self._targets is None:
            raise RuntimeError("BCEWithLogitsLoss.backward called before forward")
        return (sigmoid(self._logits) - self._targets) / self._logits.size

    def output(self, outputs: np.ndarray) -> np.ndarray:
        """Probability of class 1: ``sigmoid(z)``."""
        return sigmoid(outputs)

    def predict(self, outputs: np.ndarray) -> np.ndarray:
        """Class 1 where ``sigmoid(z) >= 0.5`` (i.e. ``z >= 0``), flattened to shape ``(n,)``."""
        return (np.asarray(outputs) >= 0).astype(np.int64).reshape(len(outputs))


class CrossEntropyLoss(Loss):
    """Softmax output + cross-entropy on integer class targets.

    ``L = mean_n(-log softmax(z_n)[y_n])`` via log-softmax; gradient
    ``(softmax(z) - onehot(y)) / n`` for a batch of ``n`` rows of logits.
    """

    def __init__(self) -> None:
        self._logits: np.ndarray | None = None
        self._targets: np.ndarray | None = None

    def forward(self, outputs: np.ndarray, targets: np.ndarray) -> float:
        """Mean negative log-probability of the target class."""
        logits = np.asarray(outputs, dtype=np.float64)
        targets = np.asarray(targets).astype(np.int64).reshape(-1)
        self._logits, self._targets = logits, targets
        log_probabilities = log_softmax(logits)
        return float(-np.mean(log_probabilities[np.arange(len(targets)), targets]))

    def backward(self) -> np.ndarray:
        """``(softmax(z) - onehot(y)) / n``."""
        if self._logits is None or self._targets is None:
            raise RuntimeError("CrossEntropyLoss.backward called before forward")
        grad = softmax(self._logits)
        grad[np.arange(len(self._targets)), self._targets] -= 1.0
        return grad / len(self._targets)

    def output(self, outputs: np.ndarray) -> np.ndarray:
        """Class probabilities ``softmax(z)``."""
        return softmax(outputs)

    def predict(self, outputs: np.ndarray) -> np.ndarray:
        """The most probable class, ``argmax_k z_k``."""
        return np.argmax(outputs, axis=-1)
