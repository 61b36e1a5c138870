"""Runner: exact resume, config errors, work directory, load_from / val / test."""

from __future__ import annotations

import json

import pytest
import torch

from visionstack.engine import Runner, read_checkpoint
from visionstack.registry import ConfigError
from visionstack.testing import toy_runner_config

from .conftest import CrashHook, SimulatedCrash, assert_states_equal, state_of


def _train(cfg: dict) -> dict[str, torch.Tensor]:
    runner = Runner.from_cfg(cfg)
    runner.train()
    return state_of(runner.model)


def _crash_then_resume(tmp_path, crash: CrashHook, **options) -> tuple[dict, dict]:
    """(weights of an uninterrupted run, weights of a crashed-and-resumed run)."""
    reference = _train(toy_runner_config(tmp_path / "reference", **options))
    work_dir = tmp_path / "interrupted"
    with pytest.raises(SimulatedCrash):
        _train(toy_runner_config(work_dir, custom_hooks=[crash], **options))
    resumed = _train(toy_runner_config(work_dir, resume=True, **options))
    return reference, resumed


@pytest.mark.parametrize("num_workers, persistent", [(0, False), (2, False), (2, True)])
def test_resume_after_epoch_equals_uninterrupted_run(tmp_path, num_workers, persistent):
    reference, resumed = _crash_then_resume(
        tmp_path, CrashHook(epoch=1), max_epochs=3, num_workers=num_workers, persistent_workers=persistent
    )
    assert_states_equal(reference, resumed)


@pytest.mark.parametrize("num_workers", [0, 2])
def test_resume_iter_based_mid_epoch_equals_uninterrupted_run(tmp_path, num_workers):
    # 8 batches per pass; the checkpoint at iteration 12 is in the middle of the second pass.
    reference, resumed = _crash_then_resume(
        tmp_path, CrashHook(iteration=12), max_epochs=None, max_iters=20, num_workers=num_workers
    )
    assert_states_equal(reference, resumed)


def test_resume_epoch_based_from_mid_epoch_checkpoint(tmp_path):
    hooks = dict(logger=dict(interval=2), checkpoint=dict(interval=3, by_epoch=False))
    reference, resumed = _crash_then_resume(
        tmp_path, CrashHook(iteration=6), max_epochs=2, default_hooks=hooks
    )
    assert_states_equal(reference, resumed)


def test_resume_with_ema_and_accumulation(tmp_path):
    options = dict(
        max_epochs=3,
        custom_hooks=[dict(type="EMAHook", momentum=0.1)],
        optim_wrapper=dict(
            type="OptimWrapper",
            accumulative_counts=3,
            clip_grad=dict(max_norm=1.0),
            optimizer=dict(type="AdamW", lr=0.01),
        ),
    )
    reference = _train(toy_runner_config(tmp_path / "reference", **options))
    work_dir = tmp_path / "interrupted"
    crash_options = dict(options, custom_hooks=options["custom_hooks"] + [CrashHook(epoch=2)])
    with pytest.raises(SimulatedCrash):
        _train(toy_runner_config(work_dir, **crash_options))
    assert_states_equal(reference, _train(toy_runner_config(work_dir, resume=True, **options)))


def test_resume_with_random_seed_adopts_the_checkpoint_seed(tmp_path):
    work_dir = tmp_path / "run"
    with pytest.raises(SimulatedCrash):
        _train(toy_runner_config(work_dir, seed=None, custom_hooks=[CrashHook(epoch=1)], max_epochs=2))
    seed = read_checkpoint(work_dir / "latest.pth")["meta"]["seed"]
    assert isinstance(seed, int)
    runner = Runner.from_cfg(toy_runner_config(work_dir, seed=None, resume=True, max_epochs=2))
    runner.train()
    assert runner.seed == seed
    reference = _train(toy_runner_config(tmp_path / "reference", seed=seed, max_epochs=2))
    assert_states_equal(reference, state_of(runner.model))


def test_resume_true_without_checkpoint_starts_afresh(tmp_path):
    runner = Runner.from_cfg(toy_runner_config(tmp_path, resume=True, max_epochs=1))
    runner.train()
    assert runner.epoch == 1


def test_resume_from_explicit_path(tmp_path):
    first = tmp_path / "first"
    _train(toy_runner_config(first, max_epochs=1))
    runner = Runner.from_cfg(
        toy_runner_config(tmp_path / "second", max_epochs=2, resume=str(first / "epoch_1.pth"))
    )
    runner.train()
    assert (runner.epoch, runner.iter) == (2, 16)
    assert not (tmp_path / "second" / "epoch_1.pth").exists()


def test_work_dir_contents_and_checkpoint_format(tmp_path):
    runner = Runner.from_cfg(toy_runner_config(tmp_path, max_epochs=2))
    runner.train()
    names = {path.name for path in tmp_path.iterdir()}
    assert {"config.py", "log.txt", "scalars.jsonl", "epoch_1.pth", "epoch_2.pth", "latest.pth"} <= names
    checkpoint = torch.load(tmp_path / "latest.pth", weights_only=True)
    assert set(checkpoint) >= {"meta", "state_dict", "optimizer", "param_schedulers", "rng", "loop", "config"}
    assert checkpoint["meta"]["epoch"] == 2 and checkpoint["meta"]["iter"] == 16
    assert checkpoint["meta"]["dataset_meta"]["classes"] == ("class_0", "class_1", "class_2", "class_3")
    assert "ToyModel" in checkpoint["config"]
    config_text = (tmp_path / "config.py").read_text()
    assert "model = dict(" in config_text and "train_dataloader" in config_text
    records = [json.loads(line) for line in (tmp_path / "scalars.jsonl").read_text().splitlines()]
    assert {record["mode"] for record in records} == {"train", "val"}


def test_config_with_dump_method_is_dumped_by_it(tmp_path):
    from visionstack.config import Config

    cfg = Config(toy_runner_config(tmp_path, max_epochs=1))
    Runner.from_cfg(cfg)
    assert (tmp_path / "config.py").read_text() == cfg.pretty_text


def test_load_from_then_test(tmp_path):
    trained = Runner.from_cfg(toy_runner_config(tmp_path / "train", max_epochs=3))
    trained.train()
    test_cfg = toy_runner_config(tmp_path / "test", load_from=str(tmp_path / "train" / "latest.pth"))
    for key in ("train_dataloader", "train_cfg", "optim_wrapper", "param_scheduler"):
        test_cfg.pop(key)
    test_cfg.update(
        test_dataloader=test_cfg["val_dataloader"], test_cfg=dict(), test_evaluator=dict(type="ToyMetric")
    )
    runner = Runner.from_cfg(test_cfg)
    metrics = runner.test()
    assert_states_equal(state_of(trained.model), state_of(runner.model))
    assert metrics == trained.val()
    assert metrics["toy/accuracy"] > 50
    assert not list((tmp_path / "test").glob("*.pth"))


def test_train_without_train_parts_is_a_clear_error(tmp_path):
    cfg = toy_runner_config(tmp_path)
    for key in ("train_dataloader", "train_cfg", "optim_wrapper", "param_scheduler"):
        cfg.pop(key)
    with pytest.raises(ConfigError, match="train\\(\\) needs train_dataloader"):
        Runner.from_cfg(cfg).train()


@pytest.mark.parametrize(
    "mutate, message",
    [
        (
            lambda c: c.__setitem__("train_dataloder", c.pop("train_dataloader")),
            "train_dataloder: unknown top-level key; did you mean 'train_dataloader'",
        ),
        (
            lambda c: c["model"].__setitem__("type", "ToyModle"),
            "model.type: 'ToyModle' is not a registered model",
        ),
        (lambda c: c["model"].__setitem__("widht", 4), "model.widht: .* has no argument 'widht'.*'width'"),
        (
            lambda c: c["train_dataloader"].__setitem__("batchsize", 4),
            "train_dataloader.batchsize: not a dataloader option. Did you mean: 'batch_size'",
        ),
        (
            lambda c: c["train_dataloader"]["dataset"].__setitem__("num_sample", 4),
            "train_dataloader.dataset.num_sample: .*'num_samples'",
        ),
        (
            lambda c: c["train_dataloader"]["sampler"].__setitem__("type", "DefaultSampeler"),
            "train_dataloader.sampler.type: 'DefaultSampeler'.*'DefaultSampler'",
        ),
        (
            lambda c: c["optim_wrapper"]["optimizer"].__setitem__("type", "SDG"),
            "optim_wrapper.optimizer.type: 'SDG'.*'SGD'",
        ),
        (
            lambda c: c["param_scheduler"][1].__setitem__("milestone", [1]),
            "param_scheduler.1.milestone: .*'milestones'",
        ),
        (
            lambda c: c["default_hooks"].__setitem__("checkpoint", dict(intervl=2)),
            "default_hooks.checkpoint.intervl: .*'interval'",
        ),
        (
            lambda c: c["default_hooks"].__setitem__("checkpont", dict(interval=2)),
            "default_hooks.checkpont: not a default hook .*'checkpoint'",
        ),
        (
            lambda c: c.__setitem__("custom_hooks", [dict(type="EMAHok")]),
            "custom_hooks.0.type: 'EMAHok'.*'EMAHook'",
        ),
        (lambda c: c["val_evaluator"].__setitem__("type", "ToyMetrik"), "val_evaluator.type: 'ToyMetrik'"),
        (lambda c: c["train_cfg"].__setitem__("max_epoch", 2), "train_cfg.max_epoch: .*'max_epochs'"),
        (
            lambda c: c.pop("val_evaluator"),
            "val_evaluator: val_dataloader, val_cfg, val_evaluator go together",
        ),
        (
            lambda c: c["randomness"].__setitem__("sead", 1),
            "randomness.sead: unknown option. Did you mean: 'seed'",
        ),
    ],
)
def test_from_cfg_reports_misspellings_with_path_and_suggestion(tmp_path, mutate, message):
    cfg = toy_runner_config(tmp_path)
    mutate(cfg)
    with pytest.raises(ConfigError, match=message):
        Runner.from_cfg(cfg)
    assert not (tmp_path / "log.txt").exists(), "nothing may be built before the config is valid"


def test_unknown_top_level_keys_far_from_runner_keys_are_user_variables(tmp_path):
    cfg = toy_runner_config(tmp_path, max_epochs=1, data_root="data/toy", train_pipeline=[dict(type="X")])
    Runner.from_cfg(cfg).train()
    assert (tmp_path / "latest.pth").is_file()


def test_hooks_run_in_priority_then_registration_order(tmp_path):
    from visionstack.engine import Hook

    calls = []

    class Recorder(Hook):
        def __init__(self, name: str, priority) -> None:
            self.name, self.priority = name, priority

        def before_run(self, runner) -> None:
            calls.append(self.name)

    hooks = [
        Recorder("normal-1", "NORMAL"),
        Recorder("lowest", 100),
        Recorder("high", "HIGH"),
        Recorder("normal-2", 50),
        Recorder("highest", 0),
    ]
    runner = Runner.from_cfg(toy_runner_config(tmp_path, max_epochs=1, custom_hooks=hooks))
    runner.call_hook("before_run")
    assert calls == ["highest", "high", "normal-1", "normal-2", "lowest"]
    priorities = [hook.priority for hook in runner.hooks]
    assert priorities == sorted(priorities)
    # default hooks are registered first, so NORMAL defaults precede NORMAL custom hooks
    names = [getattr(hook, "name", type(hook).__name__) for hook in runner.hooks]
    assert names.index("IterTimerHook") < names.index("DistSamplerSeedHook") < names.index("normal-1")


def test_default_hooks_can_be_removed_and_updated(tmp_path):
    cfg = toy_runner_config(
        tmp_path, max_epochs=1, default_hooks=dict(checkpoint=None, logger=dict(interval=3))
    )
    runner = Runner.from_cfg(cfg)
    names = [type(hook).__name__ for hook in runner.hooks]
    assert "CheckpointHook" not in names
    assert next(h for h in runner.hooks if type(h).__name__ == "LoggerHook").interval == 3
    runner.train()
    assert not list(tmp_path.glob("*.pth"))


def test_custom_hook_priority_key_overrides_the_class_priority(tmp_path):
    cfg = toy_runner_config(tmp_path, custom_hooks=[dict(type="EMAHook", priority="HIGHEST")])
    runner = Runner.from_cfg(cfg)
    assert type(runner.hooks[0]).__name__ == "EMAHook" and runner.hooks[0].priority == 0


def test_amp_bfloat16_training_through_enable_amp(tmp_path):
    from visionstack.engine import AmpOptimWrapper, enable_amp

    runner = Runner.from_cfg(enable_amp(toy_runner_config(tmp_path, max_epochs=2), dtype="bfloat16"))
    runner.train()
    assert isinstance(runner.optim_wrapper, AmpOptimWrapper) and runner.optim_wrapper.dtype is torch.bfloat16
    assert all(torch.isfinite(p).all() and p.dtype == torch.float32 for p in runner.model.parameters())
    assert runner.val()["toy/accuracy"] > 50
