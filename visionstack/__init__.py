"""visionstack: one computer-vision toolbox on PyTorch.

``import visionstack`` is light: subpackages load when first used (``visionstack.models``) and
every registering module loads on the first registry lookup, so a config lookup never depends on
which modules the user imported. ``visionstack.deploy`` (the ONNX Runtime inferencer) and
``visionstack.foundations`` (NumPy) import without PyTorch.
"""

from __future__ import annotations

import importlib
from typing import Any

__version__ = "0.1.0"

_SUBPACKAGES = (
    "cli",
    "config",
    "data",
    "deploy",
    "engine",
    "evaluation",
    "export",
    "foundations",
    "inference",
    "models",
    "registry",
    "structures",
    "tasks",
    "testing",
    "visualization",
)


def __getattr__(name: str) -> Any:
    if name in _SUBPACKAGES:
        return importlib.import_module(f".{name}", __name__)
    raise AttributeError(f"module 'visionstack' has no attribute {name!r}")


def __dir__() -> list[str]:
    return sorted([*globals(), *_SUBPACKAGES])
