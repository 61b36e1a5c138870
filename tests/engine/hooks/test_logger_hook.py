"""LoggerHook and IterTimerHook: log.txt, scalars.jsonl and TensorBoard events."""

from __future__ import annotations

import json

import pytest

from visionstack.engine import Runner
from visionstack.testing import toy_runner_config


@pytest.fixture(scope="module")
def finished_run(tmp_path_factory):
    work_dir = tmp_path_factory.mktemp("logged")
    runner = Runner.from_cfg(
        toy_runner_config(work_dir, max_epochs=2, default_hooks=dict(logger=dict(interval=3)))
    )
    runner.train()
    return work_dir


def test_log_txt_has_train_and_val_lines(finished_run):
    text = (finished_run / "log.txt").read_text()
    assert "Epoch(train) [1][3/8]" in text and "Epoch(train) [2][8/8]" in text
    assert "Epoch(val) [2]  toy/accuracy:" in text
    assert "lr: " in text and "eta: " in text and "data_time: " in text


def test_scalars_jsonl_records(finished_run):
    records = [json.loads(line) for line in (finished_run / "scalars.jsonl").read_text().splitlines()]
    train = [r for r in records if r["mode"] == "train"]
    # every 3 iterations and at each epoch end: iterations 3, 6, 8, 9, 12, 15, 16
    assert [r["step"] for r in train] == [3, 6, 8, 9, 12, 15, 16]
    assert [r["epoch"] for r in train] == [1, 1, 1, 2, 2, 2, 2]
    assert {"lr", "loss", "loss_cls", "time", "data_time", "iter"} <= set(train[0])
    assert train[0]["lr"] == pytest.approx(0.1 * (0.1 + 0.9 * 2 / 3))  # warm-up value used by iteration 3
    val = [r for r in records if r["mode"] == "val"]
    assert [(r["epoch"], r["step"]) for r in val] == [(1, 8), (2, 16)]
    assert 0 <= val[-1]["toy/accuracy"] <= 100


def test_tensorboard_events_read_back(finished_run):
    event_accumulator = pytest.importorskip("tensorboard.backend.event_processing.event_accumulator")
    event_dirs = list((finished_run / "tensorboard").iterdir())
    accumulator = event_accumulator.EventAccumulator(str(finished_run / "tensorboard"))
    accumulator.Reload()
    assert event_dirs
    tags = accumulator.Tags()["scalars"]
    assert {"train/loss", "train/lr", "val/toy/accuracy"} <= set(tags)
    records = [json.loads(line) for line in (finished_run / "scalars.jsonl").read_text().splitlines()]
    losses = [(r["step"], r["loss"]) for r in records if r["mode"] == "train"]
    events = [(event.step, event.value) for event in accumulator.Scalars("train/loss")]
    assert [step for step, _ in events] == [step for step, _ in losses]
    assert [value for _, value in events] == pytest.approx([value for _, value in losses], rel=1e-6)


def test_iteration_based_log_lines(tmp_path):
    runner = Runner.from_cfg(
        toy_runner_config(tmp_path, max_epochs=None, max_iters=6, default_hooks=dict(logger=dict(interval=2)))
    )
    runner.train()
    text = (tmp_path / "log.txt").read_text()
    assert "Iter(train) [2/6]" in text and "Iter(train) [6/6]" in text and "Iter(val) [6]" in text


def test_progress_bar_runs(tmp_path, capsys):
    cfg = toy_runner_config(
        tmp_path, max_epochs=1, default_hooks=dict(logger=dict(interval=4, progress_bar=True))
    )
    Runner.from_cfg(cfg).train()
    assert "Epoch(train) [1][8/8]" in (tmp_path / "log.txt").read_text()


def test_without_tensorboard(tmp_path):
    cfg = toy_runner_config(tmp_path, max_epochs=1, default_hooks=dict(logger=dict(tensorboard=False)))
    Runner.from_cfg(cfg).train()
    assert not (tmp_path / "tensorboard").exists() and (tmp_path / "scalars.jsonl").stat().st_size > 0
