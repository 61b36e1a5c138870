"""Where a run's messages and scalars go: the text log, the console, JSON lines and TensorBoard.

:func:`setup_logger` points the ``visionstack`` logger (every module logs through
``logging.getLogger(__name__)``) at ``work_dir/log.txt`` and the console. On a terminal the console
goes through one rich ``Console``, so log lines print above the live progress bar; otherwise lines
are plain text. Only rank 0 writes files; other ranks print warnings and errors only.

:class:`ScalarWriter` appends one JSON object per logged step to ``scalars.jsonl`` and, when
TensorBoard is installed, writes the same scalars as events under ``work_dir/tensorboard``.
"""

from __future__ import annotations

import json
import logging
import math
import sys
from collections.abc import Mapping
from pathlib import Path
from typing import Any

__all__ = ["setup_logger", "release_logger", "ScalarWriter", "get_console", "stdout_is_terminal"]

LOGGER_NAME = "visionstack"
_FORMAT = "%(asctime)s %(levelname)s %(message)s"
_DATE_FORMAT = "%Y-%m-%d %H:%M:%S"
_console = None


def stdout_is_terminal() -> bool:
    return sys.stdout.isatty()


def get_console() -> Any:
    """The process's rich Console (shared by the log handler and the progress bar)."""
    global _console
    if _console is None:
        from rich.console import Console

        _console = Console()
    return _console


def _runner_handlers(logger: logging.Logger) -> list[logging.Handler]:
    return [h for h in logger.handlers if getattr(h, "_visionstack_runner", False)]


def release_logger() -> None:
    """Close and remove the handlers a runner installed (files are flushed and closed)."""
    logger = logging.getLogger(LOGGER_NAME)
    for handler in _runner_handlers(logger):
        logger.removeHandler(handler)
        handler.close()


def setup_logger(work_dir: Path | None, log_level: str | int = "INFO", rank: int = 0) -> logging.Logger:
    """Configure the ``visionstack`` logger for a run (replacing a previous run's handlers).

    Args:
        work_dir: directory of ``log.txt`` (None: console only).
        log_level: level of the run's messages ("INFO", "DEBUG" ...).
        rank: the process rank; only rank 0 logs below WARNING and writes the file.
    """
    release_logger()
    logger = logging.getLogger(LOGGER_NAME)
    level = logging.getLevelName(log_level.upper()) if isinstance(log_level, str) else log_level
    if not isinstance(level, int):
        raise ValueError(f"log_level: unknown level {log_level!r} (use DEBUG, INFO, WARNING or ERROR)")
    logger.setLevel(level if rank == 0 else logging.WARNING)
    logger.propagate = False
    handlers: list[logging.Handler] = []
    if stdout_is_terminal():
        from rich.logging import RichHandler

        handlers.append(
            RichHandler(console=get_console(), show_path=False, markup=False, log_time_format="[%X]")
        )
    else:
        stream = logging.StreamHandler(sys.stdout)
        stream.setFormatter(logging.Formatter(_FORMAT, _DATE_FORMAT))
        handlers.append(stream)
    if work_dir is not None and rank == 0:
        file_handler = logging.FileHandler(Path(work_dir) / "log.txt", mode="a", encoding="utf-8")
        file_handler.setFormatter(logging.Formatter(_FORMAT, _DATE_FORMAT))
        handlers.append(file_handler)
    for handler in handlers:
        handler._visionstack_runner = True  # type: ignore[attr-defined]
        logger.addHandler(handler)
    return logger


def _json_value(value: Any) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        return str(value)  # JSON has no NaN/Infinity
    return value


class ScalarWriter:
    """Appends scalar records to ``scalars.jsonl`` and TensorBoard (rank 0 only; the caller checks).

    Args:
        work_dir: the run's directory.
        tensorboard: also write TensorBoard events when the ``tensorboard`` package is installed.
    """

    def __init__(self, work_dir: Path, tensorboard: bool = True) -> None:
        self.path = Path(work_dir) / "scalars.jsonl"
        self._stream = open(self.path, "a", encoding="utf-8")  # noqa: SIM115 - closed in close()
        self._tensorboard = self._open_tensorboard(Path(work_dir) / "tensorboard") if tensorboard else None

    @staticmethod
    def _open_tensorboard(directory: Path) -> Any:
        try:
            from torch.utils.tensorboard import SummaryWriter
        except ImportError:
            logging.getLogger(__name__).info("tensorboard is not installed; scalars go to scalars.jsonl only")
            return None
        return SummaryWriter(log_dir=str(directory))

    @property
    def has_tensorboard(self) -> bool:
        return self._tensorboard is not None

    def write(self, record: Mapping[str, Any], step: int) -> None:
        """Write one record; numeric entries other than the counters also go to TensorBoard as
        ``<mode>/<name>``."""
        self._stream.write(json.dumps({k: _json_value(v) for k, v in record.items()}) + "\n")
        self._stream.flush()
        if self._tensorboard is None:
            return
        mode = record.get("mode", "train")
        for name, value in record.items():
            if name in ("mode", "epoch", "iter", "step") or isinstance(value, bool):
                continue
            if isinstance(value, (int, float)):
                self._tensorboard.add_scalar(f"{mode}/{name}", value, step)

    def close(self) -> None:
        if not self._stream.closed:
            self._stream.close()
        if self._tensorboard is not None:
            self._tensorboard.close()
            self._tensorboard = None
