"""Runner builders: default hooks merging, evaluators, models."""

from __future__ import annotations

import pytest
import torch

from visionstack.engine import DEFAULT_HOOKS, build_evaluator, build_hooks, build_model
from visionstack.engine.builders import loop_cfg_with_type, merged_hook_cfgs
from visionstack.evaluation import Evaluator
from visionstack.testing import ToyMetric, ToyModel


def test_merged_hook_cfgs():
    merged = merged_hook_cfgs(dict(checkpoint=None, logger=dict(interval=5), ema=dict(type="EMAHook")))
    assert "checkpoint" not in merged and merged["logger"] == {"type": "LoggerHook", "interval": 5}
    assert merged["ema"] == {"type": "EMAHook"} and list(merged)[: len(DEFAULT_HOOKS) - 1] == [
        "timer",
        "sampler_seed",
        "logger",
        "param_scheduler",
    ]
    assert DEFAULT_HOOKS["logger"] == {"type": "LoggerHook", "interval": 10}  # defaults untouched


def test_build_hooks_reads_priority():
    ((hook, priority),) = build_hooks(dict.fromkeys(DEFAULT_HOOKS), [dict(type="EMAHook", priority="LOW")])
    assert type(hook).__name__ == "EMAHook" and priority == 70


def test_build_evaluator_forms():
    single = build_evaluator(dict(type="ToyMetric"))
    assert isinstance(single, Evaluator) and isinstance(single.metrics[0], ToyMetric)
    double = build_evaluator([dict(type="ToyMetric"), dict(type="ToyMetric", prefix="other")])
    assert [m.prefix for m in double.metrics] == ["toy", "other"]
    assert build_evaluator(single) is single and build_evaluator(None) is None


def test_build_model_moves_to_the_device():
    model = build_model(dict(type="ToyModel", width=4), torch.device("cpu"), distributed=False)
    assert isinstance(model, ToyModel) and model.conv.out_channels == 4
    with pytest.raises(Exception, match="expected an nn.Module"):
        build_model(dict(type="ToyMetric"), torch.device("cpu"), distributed=False)


def test_loop_cfg_with_type():
    assert loop_cfg_with_type("train_cfg", dict(max_epochs=3))["type"] == "EpochBasedTrainLoop"
    assert loop_cfg_with_type("train_cfg", dict(max_iters=3))["type"] == "IterBasedTrainLoop"
    assert loop_cfg_with_type("test_cfg", None) == {"type": "TestLoop"}
