"""Non-finite losses stop a run (or skip the step) and safe checkpoint loading needs an opt-in."""

from __future__ import annotations

import json

import pytest
import torch

from visionstack.engine import NonFiniteLossError, Runner, load_checkpoint, read_checkpoint
from visionstack.engine.checkpoint import UnsafeCheckpointError
from visionstack.registry import ConfigError
from visionstack.testing import ToyModel, toy_runner_config

from .conftest import assert_states_equal, state_of


def _cfg(tmp_path, max_epochs=3, **overrides):
    cfg = toy_runner_config(tmp_path, max_epochs=max_epochs, val=False, **overrides)
    cfg["default_hooks"]["logger"] = dict(interval=1, progress_bar=False, tensorboard=False)
    return cfg


def test_nonfinite_loss_stops_the_run_naming_iteration_and_term(tmp_path):
    # 8 iterations per epoch: iteration 13 is epoch 2, batch 5; the epoch-1 checkpoint stays the last
    cfg = _cfg(tmp_path, custom_hooks=[dict(type="PoisonBatchHook", iteration=13)])
    runner = Runner.from_cfg(cfg)
    with pytest.raises(NonFiniteLossError, match=r"loss_cls is nan.*epoch 2 iter 5 \(iteration 13\)"):
        runner.train()
    assert sorted(p.name for p in tmp_path.glob("*.pth")) == ["epoch_1.pth", "latest.pth"]
    # the optimizer did not step on the bad batch: the weights are those after iteration 12
    assert all(torch.isfinite(p).all() for p in runner.model.parameters())
    assert runner.iter == 12


def test_nonfinite_loss_skip_mode_skips_the_update_and_counts_it(tmp_path):
    optim = dict(
        type="OptimWrapper",
        optimizer=dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=1e-4),
        nonfinite="skip",
    )
    seen = {}

    class Snapshot(__import__("visionstack").engine.Hook):
        def before_train_iter(self, runner, batch_idx, data_batch=None):
            if runner.iter + 1 == 5:
                seen["before"] = state_of(runner.model)

        def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None):
            if runner.iter == 5:
                seen["after"] = state_of(runner.model)

    cfg = _cfg(
        tmp_path, optim_wrapper=optim, custom_hooks=[dict(type="PoisonBatchHook", iteration=5), Snapshot()]
    )
    runner = Runner.from_cfg(cfg)
    runner.train()
    weights = [name for name, _ in runner.model.named_parameters()]  # BatchNorm statistics move in forward
    assert_states_equal({k: seen["before"][k] for k in weights}, {k: seen["after"][k] for k in weights})
    assert runner.optim_wrapper.skipped_steps == 1 and runner.iter == 24
    records = [json.loads(line) for line in (tmp_path / "scalars.jsonl").read_text().splitlines()]
    assert "loss" not in records[4]  # the skipped iteration logs no (NaN) loss
    assert all(torch.isfinite(torch.tensor(r["loss"])) for r in records if r["iter"] != 5)
    assert [r.get("skipped_steps", 0) for r in records][3:6] == [0, 1, 1]
    assert read_checkpoint(tmp_path / "latest.pth")["optimizer"]["skipped_steps"] == 1


def test_nonfinite_policy_is_validated(tmp_path):
    optim = dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=0.1), nonfinite="ignore")
    with pytest.raises(ConfigError, match="nonfinite"):
        Runner.from_cfg(_cfg(tmp_path, optim_wrapper=optim)).train()


class _Pickled:
    """A Python object inside a checkpoint: needs full unpickling."""

    def __init__(self) -> None:
        self.value = 3


def test_runner_checkpoints_load_with_weights_only(tmp_path):
    Runner.from_cfg(_cfg(tmp_path, max_epochs=1)).train()
    checkpoint = torch.load(tmp_path / "latest.pth", weights_only=True)
    assert {"meta", "state_dict", "optimizer", "rng", "loop"} <= set(checkpoint)


def test_loading_a_pickled_checkpoint_needs_an_explicit_opt_in(tmp_path):
    model = ToyModel()
    path = tmp_path / "pickled.pth"
    torch.save({"state_dict": model.state_dict(), "extra": _Pickled()}, path)
    with pytest.raises(
        UnsafeCheckpointError, match=r"full unpickling.*unsafe_pickle=True.*load_from_unsafe=True"
    ):
        load_checkpoint(ToyModel(), path)
    other = ToyModel(width=8)
    load_checkpoint(other, path, unsafe_pickle=True)
    assert_states_equal(state_of(model), state_of(other))
    # the runner: load_from refuses the file unless load_from_unsafe=True
    cfg = _cfg(tmp_path / "run", max_epochs=1, load_from=str(path))
    cfg["model"] = dict(type="ToyModel", num_classes=4, width=8)
    with pytest.raises(UnsafeCheckpointError):
        Runner.from_cfg(cfg).train()
    cfg["load_from_unsafe"] = True
    Runner.from_cfg(cfg).train()


def test_resume_auto_starts_fresh_then_resumes(tmp_path):
    first = Runner.from_cfg(_cfg(tmp_path, max_epochs=1, resume="auto"))
    first.train()
    assert first.iter == 8
    second = Runner.from_cfg(_cfg(tmp_path, max_epochs=2, resume="auto"))
    second.train()
    assert "resumed from" in (tmp_path / "log.txt").read_text() and second.iter == 16


def test_model_wrapper_cfg_is_validated(tmp_path):
    with pytest.raises(ConfigError, match="model_wrapper_cfg.*shard_modules"):
        Runner.from_cfg(_cfg(tmp_path, model_wrapper_cfg=dict(type="DDP", shard_modules=["conv"])))
    with pytest.raises(ConfigError, match="model_wrapper_cfg.type"):
        Runner.from_cfg(_cfg(tmp_path, model_wrapper_cfg=dict(type="ZeRO")))


def test_sync_bn_is_refused_on_cpu_and_converts_batch_norm():
    from visionstack.engine.model_wrapper import wrap_model

    with pytest.raises(ConfigError, match="sync_bn"):
        wrap_model(ToyModel(batch_norm=True), torch.device("cpu"), dict(sync_bn=True))
    converted = torch.nn.SyncBatchNorm.convert_sync_batchnorm(ToyModel(batch_norm=True))
    assert isinstance(converted.norm, torch.nn.SyncBatchNorm)
