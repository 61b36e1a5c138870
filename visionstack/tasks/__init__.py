"""Task libraries: one folder per task, each with the same shape (see docs/architecture.md).

``tasks/<task>/`` holds its datasets, transforms, models, metrics, synthetic writer, drawing and one
``adapter.py``: the :class:`~visionstack.tasks.adapter.TaskAdapter` that tells the command line,
inference, export and the deploy runtime everything they need about the task, registered in
``TASKS``. Importing a task package is light (its names load on first use), so the deploy runtime
can import an adapter without PyTorch; :func:`import_all` imports everything (to register it).
"""

from __future__ import annotations

import importlib
import importlib.util
import pkgutil

__all__ = ["import_adapters", "import_all", "task_packages"]


def task_packages() -> list[str]:
    """The names of the task folders (``classification``, ``detection``, ...)."""
    return sorted(
        info.name for info in pkgutil.iter_modules(__path__) if info.ispkg and not info.name.startswith("_")
    )


def import_adapters() -> None:
    """Import every task folder's ``adapter`` module (they register in ``TASKS``; no PyTorch needed)."""
    for name in task_packages():
        if importlib.util.find_spec(f"{__name__}.{name}.adapter") is not None:
            importlib.import_module(f"{__name__}.{name}.adapter")


def import_all() -> None:
    """Import every module of every task folder, so that everything they register is registered."""
    for name in task_packages():
        package = importlib.import_module(f"{__name__}.{name}")
        for info in pkgutil.walk_packages(package.__path__, prefix=f"{package.__name__}."):
            importlib.import_module(info.name)
