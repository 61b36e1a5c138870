"""visionstack: one computer-vision toolbox on PyTorch.

Importing the package registers every model, dataset, transform, metric and hook, so a config
lookup never depends on which modules the user imported.
"""

__version__ = "0.1.0"

from . import registry, structures  # noqa: E402,F401
from . import data, engine, evaluation, models, tasks, testing, visualization  # noqa: E402,F401
