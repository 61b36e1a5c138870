"""CheckpointHook: periodic, latest, kept and best checkpoints."""

from __future__ import annotations

import os

import pytest
import torch

from visionstack.engine import CheckpointHook, Runner, read_checkpoint
from visionstack.engine.hooks import infer_rule, is_improvement
from visionstack.registry import ConfigError
from visionstack.testing import toy_runner_config

from .conftest import ScriptedMetric


def _run(tmp_path, values, name="accuracy", max_epochs=5, **checkpoint):
    cfg = toy_runner_config(
        tmp_path,
        max_epochs=max_epochs,
        val_evaluator=ScriptedMetric(name, values),
        default_hooks=dict(checkpoint=dict(type="CheckpointHook", **checkpoint)),
    )
    runner = Runner.from_cfg(cfg)
    runner.train()
    return runner


def test_best_checkpoint_follows_the_best_greater_metric(tmp_path):
    runner = _run(tmp_path, [50, 70, 60, 80, 75], save_best="auto")
    best = read_checkpoint(tmp_path / "best_scripted_accuracy.pth")
    assert best["meta"]["epoch"] == 4
    assert best["hooks"]["CheckpointHook"]["best_scores"] == {"scripted/accuracy": 80}
    hook = next(h for h in runner.hooks if isinstance(h, CheckpointHook))
    assert hook.best_scores == {"scripted/accuracy": 80}


def test_best_checkpoint_for_a_loss_keeps_the_smallest(tmp_path):
    _run(tmp_path, [3.0, 2.0, 2.5, 1.5, 1.7], name="loss", save_best="scripted/loss")
    assert read_checkpoint(tmp_path / "best_scripted_loss.pth")["meta"]["epoch"] == 4


def test_explicit_rule_overrides_the_name(tmp_path):
    _run(tmp_path, [3.0, 2.0, 4.0, 1.0, 3.5], name="loss", save_best="scripted/loss", rule="greater")
    assert read_checkpoint(tmp_path / "best_scripted_loss.pth")["meta"]["epoch"] == 3


def test_max_keep_and_latest(tmp_path):
    _run(tmp_path, [1.0], max_keep_ckpts=2)
    assert sorted(p.name for p in tmp_path.glob("*.pth")) == ["epoch_4.pth", "epoch_5.pth", "latest.pth"]
    assert os.path.samefile(tmp_path / "latest.pth", tmp_path / "epoch_5.pth")


def test_interval_and_save_last(tmp_path):
    _run(tmp_path, [1.0], interval=2)
    assert sorted(p.name for p in tmp_path.glob("epoch_*.pth")) == [
        "epoch_2.pth",
        "epoch_4.pth",
        "epoch_5.pth",
    ]


def test_iteration_checkpoints_in_an_epoch_loop(tmp_path):
    _run(tmp_path, [1.0], max_epochs=1, interval=3, by_epoch=False)
    assert sorted(p.name for p in tmp_path.glob("iter_*.pth")) == ["iter_3.pth", "iter_6.pth", "iter_8.pth"]
    assert read_checkpoint(tmp_path / "iter_6.pth")["loop"] == {"epoch": 0, "iter": 6, "epoch_iter": 6}


def test_checkpoint_without_optimizer(tmp_path):
    _run(tmp_path, [1.0], max_epochs=1, save_optimizer=False, save_param_scheduler=False)
    checkpoint = torch.load(tmp_path / "epoch_1.pth", weights_only=True)
    assert "optimizer" not in checkpoint and "param_schedulers" not in checkpoint


def test_unknown_best_metric_names_the_available_ones(tmp_path):
    with pytest.raises(KeyError, match="'scripted/acc' is not among the validation metrics"):
        _run(tmp_path, [1.0], max_epochs=1, save_best="scripted/acc")


@pytest.mark.parametrize(
    "metric, rule",
    [
        ("accuracy/top1", "greater"),
        ("coco/bbox_mAP", "greater"),
        ("mIoU", "greater"),
        ("single-label/f1-score", "greater"),
        ("single-label/recall", "greater"),
        ("val/loss", "less"),
        ("PSNR", "greater"),
        ("error_rate", "less"),
    ],
)
def test_rule_inference_from_metric_names(metric, rule):
    assert infer_rule(metric) == rule


def test_rule_inference_failure_asks_for_a_rule():
    with pytest.raises(ConfigError, match="set rule='greater' or 'less'"):
        infer_rule("throughput")
    assert infer_rule("throughput", greater_keys=("throughput",)) == "greater"


def test_is_improvement():
    assert is_improvement(1.0, None, "greater") and not is_improvement(float("nan"), None, "greater")
    assert is_improvement(0.5, 0.6, "less") and not is_improvement(0.55, 0.6, "less", min_delta=0.1)


def test_iteration_loop_with_epoch_checkpoints_saves_only_the_last(tmp_path):
    cfg = toy_runner_config(
        tmp_path, max_epochs=None, max_iters=5, default_hooks=dict(checkpoint=dict(by_epoch=True))
    )
    Runner.from_cfg(cfg).train()
    assert sorted(p.name for p in tmp_path.glob("*.pth")) == ["iter_5.pth", "latest.pth"]
    assert "saves only the last iteration" in (tmp_path / "log.txt").read_text()
