"""``python -m visionstack`` (also what ``torchrun -m visionstack`` runs)."""

import sys

from .cli import main

sys.exit(main())
