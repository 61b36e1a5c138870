"""Which direction is "better" for a metric, inferred from its name as MMEngine does."""

from __future__ import annotations

import math

from ...registry import ConfigError

__all__ = ["GREATER_KEYS", "LESS_KEYS", "infer_rule", "is_improvement"]

#: substrings (case-insensitive) of metrics where larger is better
GREATER_KEYS = (
    "acc",
    "top",
    "ar@",
    "auc",
    "precision",
    "recall",
    "f1",
    "map",
    "mdice",
    "miou",
    "macc",
    "aacc",
    "ap",
    "psnr",
    "ssim",
    "pck",
    "hota",
    "mota",
    "idf1",
    "dice",
    "iou",
)
#: substrings (case-insensitive) of metrics where smaller is better
LESS_KEYS = ("loss", "error", "mae", "mse", "rmse", "epe", "lpips", "fid", "niqe", "cer", "wer")


def infer_rule(metric: str, greater_keys: tuple[str, ...] = (), less_keys: tuple[str, ...] = ()) -> str:
    """``"greater"`` or ``"less"`` from the metric's name; user-given keys are checked first.

    Raises:
        ConfigError: when the name matches neither list (give ``rule=`` explicitly).
    """
    name = metric.lower()
    for keys, rule in (
        (greater_keys, "greater"),
        (less_keys, "less"),
        (GREATER_KEYS, "greater"),
        (LESS_KEYS, "less"),
    ):
        if any(key.lower() in name for key in keys):
            return rule
    raise ConfigError(
        f"cannot tell whether larger or smaller {metric!r} is better; set rule='greater' or 'less'"
    )


def is_improvement(score: float, best: float | None, rule: str, min_delta: float = 0.0) -> bool:
    """True when ``score`` beats ``best`` by more than ``min_delta`` under ``rule``."""
    if not math.isfinite(score):
        return False
    if best is None:
        return True
    return score > best + min_delta if rule == "greater" else score < best - min_delta
