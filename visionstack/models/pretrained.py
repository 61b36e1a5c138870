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


def load_state_dict_strictly(
    module: torch.nn.Module, state_dict: Mapping[str, torch.Tensor], source: str, owner: str, hint: str
) -> None:
    """Load ``state_dict`` into ``module`` with every key and shape matching, or fail saying what differs.

    Args:
        source: the checkpoint's name for the message (a path, or "the given state dict").
        owner: the model's name for the message (``"ResNet-50"``).
        hint: what to check when it fails (the likely wrong setting).

    Raises:
        RuntimeError: naming ``source``, up to five missing and unexpected keys and shape mismatches,
            and ``hint``.
    """
    own = module.state_dict()
    missing = sorted(set(own) - set(state_dict))
    unexpected = sorted(set(state_dict) - set(own))
    mismatched = [
        f"{key}: checkpoint {tuple(state_dict[key].shape)} vs model {tuple(own[key].shape)}"
        for key in own
        if key in state_dict and state_dict[key].shape != own[key].shape
    ]
    if missing or unexpected or mismatched:
        raise RuntimeError(
            f"cannot load {source} into {owner}: missing keys {missing[:5]}, unexpected keys {unexpected[:5]}, "
            f"shape mismatches {mismatched[:5]} ({hint})"
        )
    module.load_state_dict(state_dict, strict=True)
