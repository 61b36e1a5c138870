"""plot_logs / read_scalars on synthetic scalars.jsonl files."""

from __future__ import annotations

import json
import math

import numpy as np
import pytest
from PIL import Image

from visionstack.registry import ConfigError
from visionstack.visualization import plot_logs, read_scalars
from visionstack.visualization.training_curves import _train_panels, _val_panels


def synthetic_records(epochs: int = 4, iters_per_epoch: int = 40) -> list[dict]:
    """A cosine-lr classification run: train records every step, one val record per epoch."""
    records, step = [], 0
    for epoch in range(1, epochs + 1):
        for iteration in range(1, iters_per_epoch + 1):
            step += 1
            lr = 0.05 * (1 + math.cos(math.pi * step / (epochs * iters_per_epoch)))
            loss = 2.0 * math.exp(-step / 60) + 0.05 * math.sin(step)
            records.append(
                dict(
                    mode="train",
                    epoch=epoch,
                    iter=iteration,
                    step=step,
                    lr=lr,
                    loss=loss,
                    loss_cls=loss,
                    grad_norm=1.5,
                    time=0.2,
                )
            )
        records.append(
            {
                "mode": "val",
                "epoch": epoch,
                "iter": iters_per_epoch,
                "step": step,
                "accuracy/top1": 50.0 + 10 * epoch,
                "accuracy/top5": 80.0 + 4 * epoch,
                "single-label/f1-score": 45.0 + 10 * epoch,
            }
        )
    return records


def write_jsonl(path, records, extra_lines=()):
    path.parent.mkdir(parents=True, exist_ok=True)
    with path.open("w") as handle:
        for record in records:
            handle.write(json.dumps(record) + "\n")
        for line in extra_lines:
            handle.write(line + "\n")
    return path


def test_plot_logs_writes_a_png_from_a_work_dir(tmp_path):
    write_jsonl(tmp_path / "run" / "scalars.jsonl", synthetic_records())
    out = plot_logs(tmp_path / "run", tmp_path / "plots" / "curves.png")
    assert out.is_file() and out.stat().st_size > 20_000
    pixels = np.asarray(Image.open(out).convert("L"), dtype=np.float64)
    assert pixels.shape[0] > 500 and pixels.shape[1] > 800  # 2x2 grid of panels
    assert pixels.std() > 10


def test_plot_logs_accepts_the_file_itself_and_key_filter(tmp_path):
    jsonl = write_jsonl(tmp_path / "scalars.jsonl", synthetic_records())
    out = plot_logs(jsonl, tmp_path / "only_acc.png", keys=["accuracy/top1", "grad_norm"])
    assert out.is_file()
    with pytest.raises(ConfigError, match="no scalar named 'accuracy/top2'. Did you mean:.*'accuracy/top1'"):
        plot_logs(jsonl, tmp_path / "x.png", keys=["accuracy/top2"])


def test_panels_group_scalars():
    records = read_scalars_from(synthetic_records())
    train = {panel.title: panel for panel in _train_panels(records, keys=None)}
    assert set(train["training loss"].series) == {"loss", "loss_cls"}
    assert set(train["learning rate"].series) == {"lr"}
    assert train["training scalars"].series == {}  # grad_norm, time only when asked for
    asked = {panel.title: panel for panel in _train_panels(records, keys=["grad_norm", "loss"])}
    assert set(asked["training scalars"].series) == {"grad_norm"}
    assert set(asked["training loss"].series) == {"loss"} and asked["learning rate"].series == {}
    val = {panel.title: panel for panel in _val_panels(records, keys=None)}
    assert set(val) == {"validation: accuracy", "validation: single-label"}
    xs, ys = val["validation: accuracy"].series["accuracy/top1"]
    assert xs == [1.0, 2.0, 3.0, 4.0] and ys == [60.0, 70.0, 80.0, 90.0]
    assert val["validation: accuracy"].x_label == "epoch"


def test_resumed_run_keeps_the_last_record_per_step():
    records = synthetic_records(epochs=2, iters_per_epoch=5)
    replayed = [dict(r, loss=-1.0) for r in records if r["mode"] == "train" and r["step"] > 5]
    records = read_scalars_from(records + replayed)
    xs, ys = _train_panels(records, keys=None)[0].series["loss"]
    assert xs == [float(s) for s in range(1, 11)]
    assert ys[5:] == [-1.0] * 5 and min(ys[:5]) > 0


def test_iteration_based_validation_uses_the_step():
    records = read_scalars_from(
        [
            {"mode": "val", "epoch": 1, "step": 100, "accuracy/top1": 10.0},
            {"mode": "val", "epoch": 1, "step": 200, "accuracy/top1": 20.0},
        ]
    )
    panel = _val_panels(records, keys=None)[0]
    assert panel.x_label == "step" and panel.series["accuracy/top1"][0] == [100.0, 200.0]


def read_scalars_from(records):
    return [dict(record, _line=index + 1) for index, record in enumerate(records)]


def test_malformed_line_names_file_and_line(tmp_path):
    write_jsonl(tmp_path / "scalars.jsonl", synthetic_records()[:3], ['{"mode": "train", "step": 4, "lo'])
    with pytest.raises(ValueError, match=r"scalars.jsonl, line 4: not valid JSON"):
        plot_logs(tmp_path, tmp_path / "x.png")
    assert not (tmp_path / "x.png").exists()


def test_record_without_mode_or_step(tmp_path):
    jsonl = write_jsonl(
        tmp_path / "a" / "scalars.jsonl", [{"mode": "train", "step": 1, "loss": 1.0}, {"loss": 2.0}]
    )
    with pytest.raises(ValueError, match="line 2: expected a JSON object with a string `mode`"):
        read_scalars(jsonl)
    jsonl = write_jsonl(tmp_path / "b" / "scalars.jsonl", [{"mode": "train", "loss": 2.0}])
    with pytest.raises(ValueError, match=r"b/scalars.jsonl, line 1: a train record needs a numeric `step`"):
        plot_logs(jsonl, tmp_path / "x.png")


def test_missing_and_empty_files(tmp_path):
    with pytest.raises(FileNotFoundError, match=r"nowhere: no such file or directory; pass a work directory"):
        plot_logs(tmp_path / "nowhere", tmp_path / "x.png")
    (tmp_path / "fresh").mkdir()
    with pytest.raises(FileNotFoundError, match=r"fresh/scalars.jsonl: no such file; training writes"):
        plot_logs(tmp_path / "fresh", tmp_path / "x.png")
    (tmp_path / "empty").mkdir()
    (tmp_path / "empty" / "scalars.jsonl").write_text("\n\n")
    with pytest.raises(ValueError, match="holds no records"):
        plot_logs(tmp_path / "empty", tmp_path / "x.png")
    write_jsonl(tmp_path / "text" / "scalars.jsonl", [{"mode": "train", "step": 1, "note": "hello"}])
    with pytest.raises(ValueError, match="no numeric train or val scalars"):
        plot_logs(tmp_path / "text", tmp_path / "x.png")
