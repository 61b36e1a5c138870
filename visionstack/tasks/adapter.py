"""The task adapter: everything the shared top layer (command line, inference, export, deploy) knows
about a task. One subclass per task folder, registered in ``TASKS``."""

from __future__ import annotations

from collections.abc import Sequence

__all__ = ["class_name"]


def class_name(label: int, class_names: Sequence[str] | None) -> str:
    """``class_names[label]``, or the label as a string when there are no names (or it is out of range)."""
    named = class_names is not None and 0 <= label < len(class_names)
    return str(class_names[label]) if named else str(label)
