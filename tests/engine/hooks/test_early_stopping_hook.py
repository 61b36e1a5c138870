"""EarlyStoppingHook: patience, min_delta, thresholds, non-finite metrics."""

from __future__ import annotations

import pytest

from visionstack.engine import EarlyStoppingHook, Runner
from visionstack.registry import ConfigError
from visionstack.testing import toy_runner_config

from .conftest import ScriptedMetric


def _epochs_run(tmp_path, values, name="accuracy", **options) -> int:
    hook = dict(type="EarlyStoppingHook", monitor=f"scripted/{name}", **options)
    cfg = toy_runner_config(
        tmp_path,
        max_epochs=len(values) + 3,
        val_evaluator=ScriptedMetric(name, values),
        custom_hooks=[hook],
        default_hooks=dict(checkpoint=None),
    )
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner.epoch


def test_stops_after_patience_validations_without_improvement(tmp_path):
    assert _epochs_run(tmp_path, [50, 60, 59, 58, 70, 71], patience=2) == 4


def test_min_delta_ignores_small_improvements(tmp_path):
    assert _epochs_run(tmp_path, [50, 50.5, 50.8, 60, 61], patience=2, min_delta=1.0) == 3


def test_loss_metric_uses_the_less_rule(tmp_path):
    assert _epochs_run(tmp_path, [3.0, 2.0, 2.5, 2.1, 1.0], name="loss", patience=2) == 4


def test_stopping_threshold(tmp_path):
    assert _epochs_run(tmp_path, [50, 80, 95, 96], patience=10, stopping_threshold=90) == 3


def test_non_finite_metric_stops(tmp_path):
    assert _epochs_run(tmp_path, [1.0, float("nan"), 2.0], name="loss", patience=10) == 2


def test_missing_metric_is_an_error_when_strict(tmp_path):
    cfg = toy_runner_config(
        tmp_path,
        max_epochs=1,
        val_evaluator=ScriptedMetric("accuracy", [1.0]),
        custom_hooks=[dict(type="EarlyStoppingHook", monitor="scripted/acc", strict=True)],
    )
    with pytest.raises(KeyError, match="'scripted/acc' not among"):
        Runner.from_cfg(cfg).train()


def test_state_round_trip():
    hook = EarlyStoppingHook(monitor="acc", patience=3)
    hook._stop_reason(5.0)
    hook._stop_reason(4.0)
    checkpoint = {}
    hook.before_save_checkpoint(None, checkpoint)
    other = EarlyStoppingHook(monitor="acc", patience=3)
    other.after_load_checkpoint(None, checkpoint)
    assert (other.best, other.wait_count) == (5.0, 1)


def test_bad_rule():
    with pytest.raises(ConfigError, match="rule must be 'greater' or 'less'"):
        EarlyStoppingHook(monitor="acc", rule="bigger")
