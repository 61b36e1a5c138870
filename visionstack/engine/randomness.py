"""Seeding and RNG-state capture.

Three generators feed a training run: Python's ``random``, NumPy's legacy global generator and
PyTorch's (CPU and CUDA). :func:`set_random_seed` seeds all of them; :func:`get_rng_state` and
:func:`set_rng_state` move their states in and out of checkpoints in a form that
``torch.load(weights_only=True)`` accepts (tensors, tuples and numbers, nothing pickled).
:func:`seed_stream` derives an independent seed from a tuple of integers (e.g. run seed, rank,
epoch, sample position) so that data-loading randomness is a pure function of *where* in the run a
sample is drawn, not of how many draws happened before.
"""

from __future__ import annotations

import contextlib
import os
import random
import secrets
from collections.abc import Iterator
from typing import Any

import numpy as np
import torch

__all__ = [
    "set_random_seed",
    "draw_seed",
    "seed_stream",
    "seed_all_generators",
    "get_rng_state",
    "set_rng_state",
    "preserved_rng_state",
]

_MAX_SEED = 2**32 - 1  # numpy's legacy generator takes seeds in [0, 2**32)


def draw_seed() -> int:
    """A fresh seed from the operating system's entropy, in ``[0, 2**31)``."""
    return secrets.randbelow(2**31)


def set_random_seed(seed: int, deterministic: bool = False) -> None:
    """Seed Python, NumPy and PyTorch (all devices), optionally forcing deterministic kernels.

    Args:
        seed: an integer in ``[0, 2**32)``.
        deterministic: also call ``torch.use_deterministic_algorithms(True, warn_only=True)``, turn
            off the cuDNN autotuner and select deterministic cuDNN kernels. Slower, but two runs
            with the same seed give the same numbers on the same machine.
    """
    if not 0 <= int(seed) <= _MAX_SEED:
        raise ValueError(f"randomness.seed must be in [0, 2**32), got {seed}")
    seed = int(seed)
    random.seed(seed)
    np.random.seed(seed)
    torch.manual_seed(seed)  # seeds every CUDA device too
    if deterministic:
        # cuBLAS needs a fixed workspace for reproducible GEMMs (CUDA docs, "Reproducibility").
        os.environ.setdefault("CUBLAS_WORKSPACE_CONFIG", ":4096:8")
        torch.use_deterministic_algorithms(True, warn_only=True)
        torch.backends.cudnn.deterministic = True
        torch.backends.cudnn.benchmark = False


def seed_stream(*keys: int) -> np.ndarray:
    """Four 32-bit words derived from ``keys`` with NumPy's ``SeedSequence`` (well mixed, so
    neighbouring keys such as consecutive sample positions give unrelated streams).

    Returns:
        (4,) uint32 array.
    """
    return np.random.SeedSequence([int(k) for k in keys]).generate_state(4, dtype=np.uint32)


def seed_all_generators(words: np.ndarray) -> None:
    """Seed Python, NumPy and the PyTorch CPU generator from four words of :func:`seed_stream`."""
    random.seed((int(words[0]) << 32) | int(words[1]))
    np.random.seed(words[:2])
    torch.manual_seed((int(words[2]) << 32) | int(words[3]))


def get_rng_state() -> dict[str, Any]:
    """The state of every global generator, loadable with ``torch.load(weights_only=True)``.

    Returns:
        ``{"python": tuple, "numpy": {"keys": uint32 tensor (624,), "pos", "has_gauss",
        "cached_gaussian"}, "torch": uint8 tensor, "cuda": list of uint8 tensors}``.
    """
    name, keys, pos, has_gauss, cached = np.random.get_state()
    cuda = torch.cuda.get_rng_state_all() if torch.cuda.is_available() and torch.cuda.is_initialized() else []
    return {
        "python": random.getstate(),
        "numpy": {
            "name": name,
            "keys": torch.from_numpy(keys.astype(np.int64)),
            "pos": int(pos),
            "has_gauss": int(has_gauss),
            "cached_gaussian": float(cached),
        },
        "torch": torch.get_rng_state(),
        "cuda": list(cuda),
    }


def set_rng_state(state: dict[str, Any]) -> None:
    """Restore the generators from :func:`get_rng_state`'s output (CUDA only when present)."""
    python = state["python"]
    random.setstate((python[0], tuple(python[1]), python[2]))
    numpy_state = state["numpy"]
    np.random.set_state(
        (
            numpy_state["name"],
            numpy_state["keys"].numpy().astype(np.uint32),
            numpy_state["pos"],
            numpy_state["has_gauss"],
            numpy_state["cached_gaussian"],
        )
    )
    torch.set_rng_state(state["torch"])
    if state.get("cuda") and torch.cuda.is_available():
        torch.cuda.set_rng_state_all(state["cuda"])


@contextlib.contextmanager
def preserved_rng_state() -> Iterator[None]:
    """Run a block without moving the global generators (used around validation, so training
    draws the same numbers whatever the validation interval)."""
    state = get_rng_state()
    try:
        yield
    finally:
        set_rng_state(state)
