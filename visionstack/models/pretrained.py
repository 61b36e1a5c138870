"""Reading pretrained weights from local files (nothing is downloaded)."""

from __future__ import annotations

import os
from collections.abc import Mapping

import torch

from ..utils.checkpoint_io import extract_state_dict, read_checkpoint, strip_prefix

__all__ = ["load_state_dict_strictly", "read_state_dict"]


def read_state_dict(checkpoint: str | os.PathLike | Mapping[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """A state dict from a file or mapping.

    Unwraps ``{"state_dict": ...}``/``{"model": ...}`` and strips the ``module.`` prefix that
    DataParallel/DDP add. Files are read by :func:`visionstack.utils.checkpoint_io.read_checkpoint`
    (``weights_only=True``); for a trusted file that stores Python objects, read it with
    ``unsafe_pickle=True`` there and pass the mapping.
    """
    if isinstance(checkpoint, (str, os.PathLike)):
        checkpoint = read_checkpoint(checkpoint, map_location="cpu")
    return dict(strip_prefix(extract_state_dict(checkpoint), "module."))


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
