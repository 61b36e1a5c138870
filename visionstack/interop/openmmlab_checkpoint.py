"""``visionstack convert checkpoint --from openmmlab``: an OpenMMLab checkpoint as a visionstack one."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

import torch

from ..config import Config
from ..models.openmmlab_keys import convert_openmmlab_state_dict
from ..registry import MODELS, build
from ..utils.checkpoint_io import read_checkpoint

__all__ = ["convert_checkpoint_file"]


def convert_checkpoint_file(
    config: str | os.PathLike,
    source: str | os.PathLike,
    target: str | os.PathLike,
    overrides: list[str] | None = None,
    unsafe_pickle: bool = False,
) -> dict[str, Any]:
    """Convert ``source`` (an OpenMMLab ``.pth``) for the model of ``config`` and save it at ``target``.

    The model is built from the visionstack config (so the architecture is the config's), the
    checkpoint mapped onto it strictly (:func:`convert_openmmlab_state_dict`), loaded into the model
    as a final check, and saved as ``{"state_dict": ..., "meta": ...}`` with where it came from.

    Returns:
        a summary: the number of tensors and parameters, and the keys dropped and filled on purpose
        with why.

    Raises:
        OpenMMLabKeyError: listing what did not map.
    """
    import visionstack.tasks  # noqa: F401  (registers every task's models)

    cfg = Config.fromfile(config, overrides or [])
    model = build(cfg["model"], MODELS)
    checkpoint = read_checkpoint(
        source, unsafe_pickle=unsafe_pickle, how_to_allow="visionstack convert checkpoint ... --unsafe-pickle"
    )
    state_dict, conversion = convert_openmmlab_state_dict(model, checkpoint, source=str(source))
    model.load_state_dict(state_dict, strict=True)
    meta = checkpoint.get("meta", {}) if isinstance(checkpoint, dict) else {}
    converted_from = {"source": str(source), "config": str(config), "tool": "openmmlab"}
    for key in ("epoch", "iter", "mmengine_version"):
        if isinstance(meta, dict) and isinstance(meta.get(key), (int, str)):
            converted_from[key] = meta[key]
    dataset_meta = meta.get("dataset_meta") if isinstance(meta, dict) else None
    out_meta: dict[str, Any] = {"converted_from": converted_from}
    if isinstance(dataset_meta, dict) and isinstance(dataset_meta.get("classes"), (list, tuple)):
        out_meta["dataset_meta"] = {"classes": [str(c) for c in dataset_meta["classes"]]}
    target = Path(target)
    target.parent.mkdir(parents=True, exist_ok=True)
    tmp = target.with_name(target.name + ".tmp")
    torch.save({"state_dict": state_dict, "meta": out_meta}, tmp)
    os.replace(tmp, target)
    return {
        "tensors": len(state_dict),
        "parameters": sum(p.numel() for p in model.parameters()),
        "dropped": conversion.dropped,
        "filled": conversion.filled,
        "target": str(target),
    }
