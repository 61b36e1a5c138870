"""A "metric" that writes predictions to a file instead of scoring them (``test --out-format``'s writers)."""

from __future__ import annotations

import json
import logging
import os
from pathlib import Path

from .metric import BaseMetric

__all__ = ["JsonResultWriter"]

logger = logging.getLogger(__name__)


class JsonResultWriter(BaseMetric):
    """Collects one JSON-ready record per sample (the subclass's :meth:`process`) and, in :meth:`compute_metrics`
    (rank 0, records in dataset order), writes them to ``out_file`` as one JSON list; returns no value.

    Args:
        out_file: the JSON file to write (folders are created).
        collect_device: see :class:`BaseMetric`.
        prefix: unused (no keys), kept for the metric interface.
    """

    #: ``json.dumps`` indentation of the file (None: one line)
    json_indent: int | None = 1

    def __init__(
        self, out_file: str | os.PathLike, collect_device: str = "cpu", prefix: str | None = None
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.out_file = Path(out_file)

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        self.out_file.parent.mkdir(parents=True, exist_ok=True)
        self.out_file.write_text(json.dumps(results, indent=self.json_indent), encoding="utf-8")
        logger.info("%s: %d predictions written to %s", type(self).__name__, len(results), self.out_file)
        return {}
