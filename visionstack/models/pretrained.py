"""Reading pretrained weights from local files (nothing is downloaded)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch


def read_state_dict(checkpoint: str | os.PathLike | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict from a file or mapping: unwraps ``{"state_dict": ...}``/``{"model": ...}`` and
    strips the ``module.`` prefix DataParallel/DDP add. Files are read with ``weights_only=True``."""
    if isinstance(checkpoint, (str, os.PathLike)):
        if not os.path.isfile(checkpoint):
            raise FileNotFoundError(f"checkpoint file {os.fspath(checkpoint)!r} does not exist")
        checkpoint = torch.load(checkpoint, map_location="cpu", weights_only=True)
    for wrapper_key in ("state_dict", "model"):
        if isinstance(checkpoint.get(wrapper_key), Mapping):
            checkpoint = checkpoint[wrapper_key]
    return {key.removeprefix("module."): value for key, value in checkpoint.items()}
