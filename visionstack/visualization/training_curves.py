"""Training curves from a work directory's ``scalars.jsonl``.

The file holds one JSON object per logged step: ``{"mode": "train" | "val", "epoch", "iter",
"step", "lr", "loss", ...}`` (see docs/contracts.md). :func:`plot_logs` draws training losses and the
learning rate against the global step, and validation metrics (grouped by prefix, so percentages
share an axis and losses get their own) against the epoch, or the step for iteration-based runs.
"""

from __future__ import annotations

import json
import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from visionstack.registry import ConfigError
from visionstack.utils.suggest import did_you_mean

__all__ = ["plot_logs", "read_scalars", "SCALARS_FILE"]

SCALARS_FILE = "scalars.jsonl"
BOOKKEEPING_KEYS = ("mode", "epoch", "iter", "step")
SMOOTHING_MIN_POINTS = 100  # longer training curves also get a moving average


def read_scalars(work_dir_or_jsonl: str | Path) -> list[dict[str, Any]]:
    """Read the records of a ``scalars.jsonl`` (or of the one inside a work directory).

    Blank lines are skipped. Each record gets ``_line`` (its 1-based line number) for messages.

    Raises:
        FileNotFoundError: naming the file when it does not exist.
        ValueError: naming the file and line when a line is not a JSON object with a ``mode``, or
            when the file holds no record.
    """
    path = _scalars_path(work_dir_or_jsonl)
    if not path.exists():
        if Path(work_dir_or_jsonl).is_dir():
            raise FileNotFoundError(
                f"{path}: no such file; training writes {SCALARS_FILE} into its work directory"
            )
        raise FileNotFoundError(
            f"{path}: no such file or directory; pass a work directory holding {SCALARS_FILE} or the file itself"
        )
    if not path.is_file():
        raise ValueError(f"{path}: not a regular file")
    records = []
    with path.open(encoding="utf-8") as handle:
        for line_number, line in enumerate(handle, start=1):
            if line.strip():
                records.append(_parse_record(line, path, line_number))
    if not records:
        raise ValueError(f"{path}: the file holds no records (is the run still starting?)")
    return records


def _scalars_path(work_dir_or_jsonl: str | Path) -> Path:
    path = Path(work_dir_or_jsonl)
    return path / SCALARS_FILE if path.is_dir() else path


def _parse_record(line: str, path: Path, line_number: int) -> dict[str, Any]:
    try:
        record = json.loads(line)
    except json.JSONDecodeError as error:
        raise ValueError(
            f"{path}, line {line_number}: not valid JSON ({error.msg} at column {error.colno}); "
            "fix or delete that line (a run killed while writing can leave a partial last line)"
        ) from error
    if not isinstance(record, dict) or not isinstance(record.get("mode"), str):
        raise ValueError(
            f"{path}, line {line_number}: expected a JSON object with a string `mode` "
            f'("train" or "val"), got {line.strip()[:80]!r}'
        )
    record["_line"] = line_number
    return record


@dataclass
class _Panel:
    """One subplot: a title, axis labels and named (x, y) series."""

    title: str
    x_label: str
    y_label: str
    series: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)
    markers: bool = False  # few points (one per validation): draw each
    smooth: bool = False  # noisy per-step values: add a moving average

    def add(self, name: str, x: float, y: float) -> None:
        xs, ys = self.series.setdefault(name, ([], []))
        xs.append(x)
        ys.append(y)


def plot_logs(work_dir_or_jsonl: str | Path, out_png: str | Path, keys: Sequence[str] | None = None) -> Path:
    """Draw the curves of a run into one PNG.

    Panels: training losses (every train key containing "loss") and the learning rate (``lr``,
    ``lr/<group>``) against the step; validation metrics grouped by prefix (``accuracy/top1`` and
    ``accuracy/top5`` share a panel) against the epoch (the step for iteration-based runs).
    Records repeated by a resumed run are drawn once (the later record wins).

    Args:
        work_dir_or_jsonl: a work directory or its ``scalars.jsonl``.
        out_png: the PNG to write (parent folders are created).
        keys: plot only these scalar names; other train scalars (``grad_norm``, ``time`` ...) are
            drawn only when named here.

    Returns:
        ``out_png`` as a Path.
    """
    records = read_scalars(work_dir_or_jsonl)
    path = _scalars_path(work_dir_or_jsonl)
    if keys is not None:
        _check_keys(keys, records, path)
    try:
        panels = _train_panels(records, keys) + _val_panels(records, keys)
    except ValueError as error:
        raise ValueError(f"{path}, {error}") from error
    panels = [panel for panel in panels if panel.series]
    if not panels:
        wanted = f" for keys {list(keys)}" if keys else ""
        raise ValueError(f"{path}: no numeric train or val scalars to plot{wanted}")
    out_png = Path(out_png)
    out_png.parent.mkdir(parents=True, exist_ok=True)
    _draw(panels, title=f"{path.parent.name}/{path.name}").savefig(out_png, dpi=100)
    return out_png


def _scalars(record: dict[str, Any]) -> dict[str, float]:
    """The record's finite-or-NaN numeric values, without bookkeeping keys."""
    return {
        key: float(value)
        for key, value in record.items()
        if key not in BOOKKEEPING_KEYS
        and not key.startswith("_")
        and isinstance(value, (int, float))
        and not isinstance(value, bool)
    }


def _check_keys(keys: Sequence[str], records: list[dict], path: Path) -> None:
    available = sorted(
        {key for record in records if record["mode"] in ("train", "val") for key in _scalars(record)}
    )
    for key in keys:
        if key not in available:
            hint = did_you_mean(key, available)
            raise ConfigError(f"{path}: no scalar named {key!r}.{hint} Available: {', '.join(available)}")


def _latest_per_x(records: list[dict], x_of) -> list[tuple[float, dict]]:
    """(x, record) sorted by x, keeping the last record for a repeated x (a resumed run re-logs)."""
    by_x: dict[float, dict] = {}
    for record in records:
        by_x[x_of(record)] = record
    return sorted(by_x.items())


def _train_step(record: dict) -> float:
    for key in ("step", "iter"):
        if isinstance(record.get(key), (int, float)):
            return float(record[key])
    raise ValueError(f"line {record['_line']}: a train record needs a numeric `step` (or `iter`)")


def _is_learning_rate(key: str) -> bool:
    return key == "lr" or "lr" in key.split("/")


def _train_panels(records: list[dict], keys: Sequence[str] | None) -> list[_Panel]:
    losses = _Panel("training loss", "step", "loss", smooth=True)
    rates = _Panel("learning rate", "step", "lr")
    others = _Panel("training scalars", "step", "value", smooth=True)
    for step, record in _latest_per_x([r for r in records if r["mode"] == "train"], _train_step):
        for key, value in _scalars(record).items():
            if keys is not None and key not in keys:
                continue
            if "loss" in key:
                losses.add(key, step, value)
            elif _is_learning_rate(key):
                rates.add(key, step, value)
            elif keys is not None:
                others.add(key, step, value)
    return [losses, rates, others]


def _val_axis(records: list[dict]) -> tuple[str, Any]:
    """Epoch when every val record has a distinct epoch (epoch-based runs), else the step."""
    epochs = [r.get("epoch") for r in records]
    if all(isinstance(e, (int, float)) for e in epochs) and len(set(epochs)) == len(epochs):
        return "epoch", lambda r: float(r["epoch"])
    for record in records:
        if not isinstance(record.get("step"), (int, float)):
            raise ValueError(f"line {record['_line']}: a val record needs a numeric `epoch` or `step`")
    return "step", lambda r: float(r["step"])


def _val_panels(records: list[dict], keys: Sequence[str] | None) -> list[_Panel]:
    val_records = [r for r in records if r["mode"] == "val"]
    if not val_records:
        return []
    axis, x_of = _val_axis(val_records)
    panels: dict[str, _Panel] = {}
    for x, record in _latest_per_x(val_records, x_of):
        for key, value in _scalars(record).items():
            if keys is not None and key not in keys:
                continue
            group = key.split("/")[0]
            panel = panels.setdefault(group, _Panel(f"validation: {group}", axis, group, markers=True))
            panel.add(key, x, value)
    return list(panels.values())


def _moving_average(values: np.ndarray, window: int) -> np.ndarray:
    """Trailing mean over the last ``window`` points (fewer at the start)."""
    cumulative = np.cumsum(np.insert(values, 0, 0.0))
    counts = np.minimum(np.arange(1, len(values) + 1), window)
    starts = np.arange(1, len(values) + 1) - counts
    return (cumulative[1:] - cumulative[starts]) / counts


def _draw(panels: list[_Panel], title: str):
    from matplotlib.figure import Figure  # imported here: `import visionstack` stays light

    columns = 1 if len(panels) == 1 else 2
    rows = math.ceil(len(panels) / columns)
    figure = Figure(figsize=(6.5 * columns, 4.2 * rows), layout="constrained")
    grid = figure.subplots(rows, columns, squeeze=False)
    for axes, panel in zip(grid.flat, panels):
        _draw_panel(axes, panel)
    for axes in list(grid.flat)[len(panels) :]:
        axes.set_visible(False)
    figure.suptitle(title)
    return figure


def _draw_panel(axes, panel: _Panel) -> None:
    for name, (xs, ys) in panel.series.items():
        x, y = np.asarray(xs), np.asarray(ys)
        if panel.markers:
            axes.plot(x, y, marker="o", markersize=3, label=name)
        elif panel.smooth and len(y) >= SMOOTHING_MIN_POINTS:
            line = axes.plot(x, y, alpha=0.3, linewidth=0.8)[0]
            axes.plot(
                x, _moving_average(y, len(y) // 50), color=line.get_color(), label=f"{name} (moving avg)"
            )
        else:
            axes.plot(x, y, label=name)
    axes.set_title(panel.title)
    axes.set_xlabel(panel.x_label)
    axes.set_ylabel(panel.y_label)
    axes.grid(True, alpha=0.3)
    axes.legend(fontsize="small")
    if panel.y_label == "lr":
        axes.ticklabel_format(axis="y", style="sci", scilimits=(-3, 3))
