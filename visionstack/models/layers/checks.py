"""Argument checks that the heads of every task share."""

from __future__ import annotations

__all__ = ["check_num_classes"]


def check_num_classes(num_classes: int, owner: str) -> int:
    """Return ``num_classes`` when it is at least 1.

    Raises:
        ValueError: naming ``owner`` (the head's class name) when ``num_classes < 1``.
    """
    if num_classes < 1:
        raise ValueError(f"{owner}: num_classes must be >= 1, got {num_classes}")
    return num_classes
