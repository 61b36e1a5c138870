"""Feed-forward networks: a composition of layers, differentiated by the chain rule.

A feed-forward network is the composition ``f = f_L o ... o f_2 o f_1``. Its forward
pass evaluates the layers in order, ``h_k = f_k(h_{k-1})`` with ``h_0 = x``. Its
backward pass walks them in reverse, each layer turning ``dL/dh_k`` into
``dL/dh_{k-1}`` (and its parameter gradients)::

    dL/dh_{k-1} = dL/dh_k * dh_k/dh_{k-1}

Reusing each ``dL/dh_k`` for the layer below is what makes back-propagation cost about
as much as one forward pass instead of one pass per parameter.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence

import numpy as np

from .layers import ActivationLayer, Layer, Linear


class Sequential(Layer):
    """Layers applied one after another.

    Parameters and gradients are exposed under PyTorch-style names ``"<index>.<name>"``,
    e.g. ``"0.weight"``, so one optimizer can update every layer.

    Args:
        layers: The layers, first to last.
    """

    def __init__(self, layers: Sequence[Layer]) -> None:
        super().__init__()
        self.layers = list(layers)

    def forward(self, x: np.ndarray) -> np.ndarray:
        """``h_k = f_k(h_{k-1})`` for every layer in order; returns the last ``h``."""
        hidden = np.asarray(x, dtype=np.float64)
        for layer in self.layers:
            hidden = layer.forward(hidden)
        return hidden

    def backward(self, grad_output: np.ndarray) -> np.ndarray:
        """Back-propagate ``dL/dy`` through the layers in reverse order; returns ``dL/dx``."""
        grad = grad_output
        for layer in reversed(self.layers):
            grad = layer.backward(grad)
        return grad

    def parameters(self) -> dict[str, np.ndarray]:
        """Every layer's parameters, named ``"<layer index>.<parameter name>"``."""
        return {
            f"{index}.{name}": array
            for index, layer in enumerate(self.layers)
            for name, array in layer.parameters().items()
        }

    def gradients(self) -> dict[str, np.ndarray]:
        """Every layer's gradients from the last backward pass, named like :meth:`parameters`."""
        return {
            f"{index}.{name}": array
            for index, layer in enumerate(self.layers)
            for name, array in layer.gradients().items()
        }

    def parameter_count(self) -> int:
        """Total number of trainable scalars."""
        return sum(array.size for array in self.parameters().values())

    def __iter__(self) -> Iterator[Layer]:
        return iter(self.layers)

    def __len__(self) -> int:
        return len(self.layers)

    def __getitem__(self, index: int) -> Layer:
        return self.layers[index]

    def __repr__(self) -> str:
        inner = ",\n  ".join(repr(layer) for layer in self.layers)
        return f"Sequential(\n  {inner}\n)"


def mlp(
    layer_sizes: Sequence[int],
    activation: str = "relu",
    init: str | None = None,
    rng: np.random.Generator | None = None,
) -> Sequential:
    """Build a multi-layer perceptron: Linear layers with an activation between each pair.

    The last Linear layer has no activation: it outputs logits (or regression values),
    and the loss supplies the output non-linearity (sigmoid / softmax).

    Args:
        layer_sizes: Widths from input to output, e.g. ``[64, 128, 10]``.
        activation: Hidden activation name.
        init: Weight initializer; default He for ReLU-like, Xavier for sigmoid/tanh hidden units.
        rng: Random generator for the weights.

    Returns:
        The :class:`Sequential` network.

    Raises:
        ValueError: If fewer than two sizes are given.
    """
    if len(layer_sizes) < 2:
        raise ValueError("an MLP needs at least an input and an output size")
    rng = rng if rng is not None else np.random.default_rng(0)
    if init is None:
        init = "xavier" if activation in {"sigmoid", "tanh"} else "he"
    layers: list[Layer] = []
    for index, (fan_in, fan_out) in enumerate(zip(layer_sizes[:-1], layer_sizes[1:])):
        layers.append(Linear(fan_in, fan_out, init=init, rng=rng))
        if index < len(layer_sizes) - 2:
            layers.append(ActivationLayer(activation))
    return Sequential(layers)
