"""Reading checkpoint files: safe loading, the state dict inside, the ``module.`` prefix.

The one reader of ``.pth`` files, used by the engine (``load_from``, ``resume``) and by the models
(pretrained backbone weights). It loads with ``torch.load(weights_only=True)``: only tensors, numbers,
strings and containers of those, nothing executed at load time; a file that stores Python objects is
refused unless the caller opts in. Writing checkpoints (atomic saves) is the engine's business.
"""

from __future__ import annotations

import logging
import os
import pickle
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import torch

__all__ = ["UnsafeCheckpointError", "extract_state_dict", "read_checkpoint", "strip_prefix"]

# The keys under which checkpoints of common tools keep their weights, in unwrapping order.
STATE_DICT_KEYS = ("state_dict", "model")


class UnsafeCheckpointError(RuntimeError):
    """A checkpoint needs full unpickling (it stores Python objects), which was not allowed."""


def read_checkpoint(
    path: str | os.PathLike,
    map_location: Any = "cpu",
    unsafe_pickle: bool = False,
    how_to_allow: str = "read_checkpoint(..., unsafe_pickle=True)",
) -> dict[str, Any]:
    """Load a checkpoint file; the error names the file when it fails.

    Args:
        path: the file.
        map_location: passed to ``torch.load``.
        unsafe_pickle: allow full unpickling for files that ``weights_only=True`` refuses (files that
            store Python objects, e.g. from older tools). Unpickling can run arbitrary code, so only
            set it for files you trust.
        how_to_allow: how the caller's user opts in to ``unsafe_pickle``, quoted in the refusal.

    Raises:
        FileNotFoundError: naming the file, when it does not exist.
        UnsafeCheckpointError: the file needs full unpickling and ``unsafe_pickle`` is False.
        RuntimeError: the file is not a readable checkpoint.
    """
    path = Path(path)
    if not path.is_file():
        raise FileNotFoundError(f"checkpoint {path} does not exist")
    try:
        return torch.load(path, map_location=map_location, weights_only=True)
    except pickle.UnpicklingError as error:
        if not unsafe_pickle:
            detail = str(error).split("WeightsUnpickler error:")[-1].strip().splitlines()[0]
            raise UnsafeCheckpointError(
                f"checkpoint {path} stores Python objects, not only tensors and plain values ({detail}), so "
                "a weights only load refuses it and reading it needs full unpickling, which can execute "
                f"arbitrary code from the file. If you trust the file, allow it explicitly: {how_to_allow}"
            ) from error
        logging.getLogger(__name__).warning("reading %s with full unpickling (unsafe_pickle=True)", path)
        return torch.load(path, map_location=map_location, weights_only=False)
    except Exception as error:
        raise RuntimeError(
            f"cannot read checkpoint {path}: {error}. visionstack checkpoints hold only tensors and "
            "plain values; a file from another tool may need converting to a plain state dict first"
        ) from error


def extract_state_dict(checkpoint: Mapping[str, Any]) -> Mapping[str, Any]:
    """The state dict inside a checkpoint: ``checkpoint["state_dict"]``, then ``["model"]``, when mappings.

    A visionstack checkpoint keeps its weights under ``state_dict``, many other tools under ``model``;
    a mapping without either is taken to be a plain state dict already.
    """
    for key in STATE_DICT_KEYS:
        if isinstance(checkpoint.get(key), Mapping):
            checkpoint = checkpoint[key]
    return checkpoint


def strip_prefix(state_dict: Mapping[str, Any], prefix: str = "module.") -> Mapping[str, Any]:
    """``state_dict`` with ``prefix`` removed from its keys when every key has it, else ``state_dict``.

    DataParallel and DistributedDataParallel save their weights as ``module.<name>``; only a prefix
    shared by all keys is such a wrapper's (a model may well own a submodule called ``module``).
    """
    if state_dict and all(key.startswith(prefix) for key in state_dict):
        return {key[len(prefix) :]: value for key, value in state_dict.items()}
    return state_dict
