"""visionstack: one computer-vision toolbox on PyTorch.

Importing the package registers every model, dataset, transform, metric and hook, so a config
lookup never depends on which modules the user imported.
"""

__version__ = "0.1.0"

from . import (  # noqa: E402,F401
    data,
    engine,
    evaluation,
    models,
    registry,
    structures,
    tasks,
    testing,
    visualization,
)
