"""Checkpoint files: atomic writes, safe loading and weight loading.

A checkpoint is a dict (see docs/contracts.md): ``meta`` (epoch, iter, seed, time, dataset_meta,
version), ``state_dict``, ``optimizer``, ``param_schedulers``, ``rng``, ``loop``, ``config`` (the
resolved config as text) and ``hooks`` (per-hook states). Everything in it is a tensor, a number, a
string or a container of those, so ``torch.load(path, weights_only=True)`` reads it: no pickled
classes, nothing executed at load time.

Reading is the floor's :func:`visionstack.utils.checkpoint_io.read_checkpoint` (shared with the
pretrained-weight loaders of the models); :func:`read_checkpoint` here adds the engine's way to opt
in to unsafe files (``load_from_unsafe``).

Writes are atomic: the bytes go to a temporary file in the same directory, are flushed and
``fsync``-ed, then ``os.replace`` swaps the file in and the directory entry is ``fsync``-ed. A
process killed mid-write leaves the previous file untouched (and at worst a stray temporary file).
"""

from __future__ import annotations

import contextlib
import logging
import os
import shutil
from collections.abc import Mapping
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from ..utils.checkpoint_io import UnsafeCheckpointError, extract_state_dict, strip_prefix
from ..utils.checkpoint_io import read_checkpoint as _read_checkpoint

__all__ = [
    "save_checkpoint",
    "link_checkpoint",
    "read_checkpoint",
    "load_checkpoint",
    "load_state_dict",
    "find_latest_checkpoint",
    "weights_only_safe",
    "weights_to_cpu",
    "unwrap_model",
    "UnsafeCheckpointError",
]

LATEST_NAME = "latest.pth"
# How a user of the engine opts in to reading a checkpoint that needs full unpickling.
_HOW_TO_ALLOW_UNSAFE = "load_checkpoint(..., unsafe_pickle=True) or the config key load_from_unsafe=True"


def read_checkpoint(
    path: str | os.PathLike, map_location: Any = "cpu", unsafe_pickle: bool = False
) -> dict[str, Any]:
    """The floor's :func:`visionstack.utils.checkpoint_io.read_checkpoint`, with the engine's opt-in.

    Arguments and errors are the floor reader's; only the refusal of a file that needs full
    unpickling differs: it tells the engine's user how to allow it (``unsafe_pickle=True``, the
    config key ``load_from_unsafe``). Unpickling can run arbitrary code: allow it only for files you
    trust.
    """
    return _read_checkpoint(
        path, map_location, unsafe_pickle=unsafe_pickle, how_to_allow=_HOW_TO_ALLOW_UNSAFE
    )


def unwrap_model(model: nn.Module) -> nn.Module:
    """The module inside a DistributedDataParallel, DataParallel or FSDPModel wrapper."""
    from .model_wrapper import FSDPModel

    while isinstance(model, (nn.parallel.DistributedDataParallel, nn.DataParallel, FSDPModel)):
        model = model.module
    return model


def weights_to_cpu(state_dict: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of ``state_dict`` with every tensor detached and on the CPU."""
    return {
        key: value.detach().cpu() if isinstance(value, torch.Tensor) else value
        for key, value in state_dict.items()
    }


def weights_only_safe(value: Any) -> Any:
    """Convert ``value`` to types ``torch.load(weights_only=True)`` accepts.

    NumPy arrays become tensors, NumPy scalars Python numbers, paths strings; dicts, lists, tuples and
    sets are converted recursively. Anything else that is not a plain value becomes its ``repr`` (a
    dataset metainfo holding an object, say), which keeps the checkpoint loadable.
    """
    if isinstance(value, (torch.Tensor, str, bytes, bool, int, float, type(None))):
        return value
    if isinstance(value, Mapping):
        return {weights_only_safe(k): weights_only_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        converted = [weights_only_safe(v) for v in value]
        return type(value)(converted) if not hasattr(value, "_fields") else tuple(converted)
    if isinstance(value, np.ndarray):
        return torch.from_numpy(np.ascontiguousarray(value))
    if isinstance(value, np.generic):
        return value.item()
    if isinstance(value, os.PathLike):
        return os.fspath(value)
    if isinstance(value, (torch.dtype, torch.device, torch.Size)):
        return value
    return repr(value)


def _fsync_directory(directory: Path) -> None:
    # Makes the rename itself durable; not every platform can open a directory (Windows).
    with contextlib.suppress(OSError):
        fd = os.open(directory, os.O_RDONLY)
        try:
            os.fsync(fd)
        finally:
            os.close(fd)


def save_checkpoint(checkpoint: Mapping[str, Any], path: str | os.PathLike) -> Path:
    """Write ``checkpoint`` to ``path`` atomically (temp file in the same directory, fsync, rename).

    Args:
        checkpoint: the dict to store; it should already be :func:`weights_only_safe`.
        path: destination file; its directory is created if needed.

    Returns:
        The destination path.
    """
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    temporary = path.with_name(f".{path.name}.{os.getpid()}.tmp")
    try:
        with open(temporary, "wb") as stream:
            torch.save(dict(checkpoint), stream)
            stream.flush()
            os.fsync(stream.fileno())
        os.replace(temporary, path)
    except BaseException:
        with contextlib.suppress(OSError):
            temporary.unlink()
        raise
    _fsync_directory(path.parent)
    return path


def link_checkpoint(source: str | os.PathLike, destination: str | os.PathLike) -> Path:
    """Make ``destination`` (e.g. ``latest.pth``) refer to the same bytes as ``source``, atomically.

    A hard link costs no copy and survives the deletion of ``source`` (``max_keep_ckpts``); where the
    file system refuses hard links, the file is copied (still through a temporary file and a rename).
    """
    source, destination = Path(source), Path(destination)
    temporary = destination.with_name(f".{destination.name}.{os.getpid()}.tmp")
    with contextlib.suppress(FileNotFoundError):
        temporary.unlink()
    try:
        os.link(source, temporary)
    except OSError:
        shutil.copyfile(source, temporary)
        with open(temporary, "rb+") as stream:
            os.fsync(stream.fileno())
    os.replace(temporary, destination)
    _fsync_directory(destination.parent)
    return destination


def load_state_dict(
    model: nn.Module, state_dict: Mapping[str, Any], strict: bool = True, source: str = ""
) -> None:
    """Load ``state_dict`` into ``model`` (DDP wrappers and ``module.`` prefixes are handled).

    Raises:
        RuntimeError: with the missing and unexpected keys and the ``source`` file named, when
            ``strict`` and the keys differ; shape mismatches are reported the same way.
    """
    from .model_wrapper import FSDPModel

    wrapper = model
    model = unwrap_model(model)
    state_dict = strip_prefix(state_dict, "module.")
    where = f" from {source}" if source else ""
    if isinstance(wrapper, FSDPModel):
        wrapper.load_full_state_dict(state_dict, strict=strict)
        return
    try:
        result = model.load_state_dict(state_dict, strict=strict)
    except RuntimeError as error:
        raise RuntimeError(f"loading weights{where} into {type(model).__name__} failed: {error}") from error
    if not strict and (result.missing_keys or result.unexpected_keys):
        logging.getLogger(__name__).warning(
            "loaded weights%s with missing keys %s and unexpected keys %s",
            where,
            result.missing_keys[:10],
            result.unexpected_keys[:10],
        )


def load_checkpoint(
    model: nn.Module,
    path: str | os.PathLike,
    map_location: Any = "cpu",
    strict: bool = True,
    unsafe_pickle: bool = False,
) -> dict[str, Any]:
    """Load the weights stored in ``path`` into ``model``.

    Args:
        model: the model (possibly wrapped in DistributedDataParallel).
        path: a visionstack checkpoint, or a file holding a plain state dict.
        map_location: passed to ``torch.load``.
        strict: require the keys to match exactly.
        unsafe_pickle: allow full unpickling (see :func:`read_checkpoint`); only for trusted files.

    Returns:
        The checkpoint's ``meta`` dict (empty for a plain state dict).
    """
    checkpoint = read_checkpoint(path, map_location, unsafe_pickle=unsafe_pickle)
    meta = checkpoint.get("meta", {}) if isinstance(checkpoint.get("state_dict"), Mapping) else {}
    load_state_dict(model, extract_state_dict(checkpoint), strict=strict, source=str(path))
    return dict(meta)


def find_latest_checkpoint(work_dir: str | os.PathLike) -> Path | None:
    """``work_dir/latest.pth`` if it exists, else None."""
    candidate = Path(work_dir) / LATEST_NAME
    return candidate if candidate.is_file() else None
