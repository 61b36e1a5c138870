"""Loops: counters, validation schedule, evaluation outputs, early stop flag."""

from __future__ import annotations

import pytest

from visionstack.engine import EpochBasedTrainLoop, Hook, IterBasedTrainLoop, Runner
from visionstack.testing import toy_runner_config


class _Events(Hook):
    priority = "HIGHEST"

    def __init__(self) -> None:
        self.events: list[tuple] = []

    def after_train_epoch(self, runner) -> None:
        self.events.append(("epoch", runner.epoch, runner.iter))

    def before_val_epoch(self, runner) -> None:
        self.events.append(("val", runner.epoch, runner.iter))

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        assert set(outputs) == {"loss", "loss_cls"}
        if runner.iter == 1:
            self.events.append(("first iter", batch_idx, runner.iter))


def test_epoch_loop_counts_and_validation_schedule(tmp_path):
    events = _Events()
    cfg = toy_runner_config(
        tmp_path,
        max_epochs=5,
        custom_hooks=[events],
        train_cfg=dict(type="EpochBasedTrainLoop", max_epochs=5, val_begin=2, val_interval=2),
    )
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert isinstance(runner.train_loop, EpochBasedTrainLoop)
    assert (runner.epoch, runner.iter, runner.max_iters) == (5, 40, 40)
    # validation after epochs 2, 4 and the last, each before that epoch's after_train_epoch hooks
    assert events.events == [
        ("first iter", 0, 1),
        ("epoch", 1, 8),
        ("val", 2, 16),
        ("epoch", 2, 16),
        ("epoch", 3, 24),
        ("val", 4, 32),
        ("epoch", 4, 32),
        ("val", 5, 40),
        ("epoch", 5, 40),
    ]


def test_iter_loop_cycles_the_data_and_validates_on_interval(tmp_path):
    events = _Events()
    cfg = toy_runner_config(
        tmp_path,
        max_epochs=None,
        max_iters=20,
        custom_hooks=[events],
        train_cfg=dict(type="IterBasedTrainLoop", max_iters=20, val_interval=6),
    )
    runner = Runner.from_cfg(cfg)
    runner.train()
    assert isinstance(runner.train_loop, IterBasedTrainLoop)
    assert runner.iter == 20 and runner.train_loop.state_dict()["data_epoch"] == 2
    assert [e for e in events.events if e[0] == "val"] == [
        ("val", 0, 6),
        ("val", 0, 12),
        ("val", 0, 18),
        ("val", 0, 20),
    ]


def test_train_cfg_without_type_is_inferred(tmp_path):
    runner = Runner.from_cfg(
        toy_runner_config(tmp_path, max_epochs=None, max_iters=3, train_cfg=dict(max_iters=3))
    )
    runner.train()
    assert isinstance(runner.train_loop, IterBasedTrainLoop) and runner.iter == 3


def test_val_returns_metrics_and_sets_dataset_meta(tmp_path):
    runner = Runner.from_cfg(toy_runner_config(tmp_path, max_epochs=1))
    metrics = runner.val()
    assert set(metrics) == {"toy/accuracy", "toy/loss"}
    assert runner.val_loop.evaluator.dataset_meta["classes"][0] == "class_0"
    assert not runner.model.training


def test_stop_training_flag_ends_the_run_after_the_epoch(tmp_path):
    class StopAfterFirstEpoch(Hook):
        def after_train_epoch(self, runner) -> None:
            runner.stop_training = True

    runner = Runner.from_cfg(toy_runner_config(tmp_path, max_epochs=4, custom_hooks=[StopAfterFirstEpoch()]))
    runner.train()
    assert runner.epoch == 1


def test_validation_does_not_move_the_training_random_state(tmp_path):
    """Weights after training do not depend on whether (and how often) we validated."""

    def train(val_interval):
        cfg = toy_runner_config(
            tmp_path / str(val_interval),
            max_epochs=3,
            train_cfg=dict(type="EpochBasedTrainLoop", max_epochs=3, val_interval=val_interval),
        )
        runner = Runner.from_cfg(cfg)
        runner.train()
        return runner.model.state_dict()

    with_val, without_val = train(1), train(100)
    assert all(with_val[k].equal(without_val[k]) for k in with_val)


@pytest.mark.parametrize("mode", ["val", "test"])
def test_evaluation_modes_need_their_parts(tmp_path, mode):
    cfg = toy_runner_config(tmp_path, val=False)
    from visionstack.registry import ConfigError

    with pytest.raises(ConfigError, match=f"{mode}\\(\\) needs {mode}_dataloader"):
        getattr(Runner.from_cfg(cfg), mode)()
