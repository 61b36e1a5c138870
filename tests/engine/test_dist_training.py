"""Distributed training under torchrun (CPU, gloo): DDP equals one process on the global batch,
distributed validation equals single-process validation, a killed worker is survived by an elastic
restart from the latest checkpoint, and FSDP trains, checkpoints and resumes."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import torch

from visionstack.engine import Runner, read_checkpoint
from visionstack.testing import toy_runner_config

PER_RANK_BATCH = 2
WORLD_SIZE = 2


def _config(work_dir: Path, batch_size: int, **overrides) -> dict:
    """Two epochs of the toy run without BatchNorm, dropout or augmentation (so a sample's loss does
    not depend on which process computes it), logging every iteration, 17 validation samples (an odd
    count: the distributed sampler pads, the evaluator must drop the padding)."""
    cfg = toy_runner_config(work_dir, max_epochs=2, batch_size=batch_size, augment=False, seed=3, **overrides)
    cfg["model"] = dict(type="ToyModel", num_classes=4, width=8, dropout=0.0, batch_norm=False)
    cfg["val_dataloader"]["dataset"]["num_samples"] = 17
    cfg["default_hooks"]["logger"] = dict(interval=1, progress_bar=False, tensorboard=False)
    cfg["resume"] = "auto"
    return cfg


def _torchrun(tmp_path: Path, name: str, max_restarts: int = 0, **overrides) -> Path:
    """Run ``torchrun -m visionstack train`` on a config file; returns the work directory."""
    work_dir = tmp_path / name
    config = tmp_path / f"{name}.py"
    cfg = _config(work_dir, PER_RANK_BATCH, **overrides)
    config.write_text("\n".join(f"{key} = {value!r}" for key, value in cfg.items()) + "\n")
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        str(WORLD_SIZE),
        "--max-restarts",
        str(max_restarts),
        "--monitor-interval",
        "0.1",
        "-m",
        "visionstack",
        "train",
        str(config),
        "--work-dir",
        str(work_dir),
    ]
    completed = subprocess.run(
        command,
        capture_output=True,
        text=True,
        timeout=300,
        env={**__import__("os").environ, "OMP_NUM_THREADS": "1"},
    )
    assert completed.returncode == 0, completed.stderr[-4000:]
    return work_dir


def _records(work_dir: Path, mode: str) -> list[dict]:
    lines = (work_dir / "scalars.jsonl").read_text().splitlines()
    return [record for record in map(json.loads, lines) if record["mode"] == mode]


def _train_losses(work_dir: Path) -> dict[int, float]:
    """Loss per iteration (the last record wins: a restarted run logs the redone iterations again)."""
    return {record["iter"]: record["loss"] for record in _records(work_dir, "train")}


@pytest.fixture(scope="module")
def single_process_run(tmp_path_factory) -> Path:
    """One process, global batch = 2 ranks x 2 samples."""
    work_dir = tmp_path_factory.mktemp("single") / "run"
    torch.set_num_threads(1)
    Runner.from_cfg(_config(work_dir, PER_RANK_BATCH * WORLD_SIZE)).train()
    return work_dir


@pytest.fixture(scope="module")
def ddp_run(tmp_path_factory) -> Path:
    return _torchrun(tmp_path_factory.mktemp("ddp"), "ddp")


def test_ddp_losses_and_metrics_equal_single_process(single_process_run, ddp_run):
    single, distributed = _train_losses(single_process_run), _train_losses(ddp_run)
    assert (
        sorted(single) == sorted(distributed) == list(range(1, 17))
    )  # 32 samples / global batch 4, 2 epochs
    for iteration, loss in single.items():
        assert distributed[iteration] == pytest.approx(loss, abs=1e-5), iteration
    single_val, distributed_val = _records(single_process_run, "val"), _records(ddp_run, "val")
    assert len(single_val) == len(distributed_val) == 2
    for expected, actual in zip(single_val, distributed_val):
        assert set(expected) == set(actual)
        for key in ("toy/accuracy", "toy/loss"):
            assert actual[key] == pytest.approx(expected[key], abs=1e-6), key
    assert [r["toy/accuracy"] for r in single_val] == [r["toy/accuracy"] for r in distributed_val]
    log = (ddp_run / "log.txt").read_text()
    assert log.count("Epoch(train) [2][8/8]") == 1  # one writer: rank 0
    assert not list(ddp_run.glob("*rank1*"))


def test_elastic_restart_after_a_killed_worker_matches_the_uninterrupted_run(tmp_path, ddp_run):
    # rank 1 dies (os._exit) after iteration 11 (epoch 2, after the epoch-1 checkpoint) on the first
    # launch only; torchrun restarts the group, which resumes from latest.pth (resume='auto')
    work_dir = _torchrun(
        tmp_path, "elastic", max_restarts=1, custom_hooks=[dict(type="KillWorkerHook", iteration=11, rank=1)]
    )
    log = (work_dir / "log.txt").read_text()
    assert "resumed from" in log and "epoch 1, iteration 8" in log
    restarted, reference = read_checkpoint(work_dir / "latest.pth"), read_checkpoint(ddp_run / "latest.pth")
    assert restarted["meta"]["iter"] == reference["meta"]["iter"] == 16
    for key, value in reference["state_dict"].items():
        assert torch.equal(restarted["state_dict"][key], value), key
    assert _train_losses(work_dir) == _train_losses(ddp_run)


def test_fsdp_trains_checkpoints_and_resumes_like_a_single_process(tmp_path, single_process_run):
    # FSDP2 (fully_shard) on CPU/gloo, killed once after iteration 11 and restarted from the full
    # (gathered) checkpoint of epoch 1: model and optimizer states are re-sharded on load
    work_dir = _torchrun(
        tmp_path,
        "fsdp",
        max_restarts=1,
        model_wrapper_cfg=dict(type="FSDP"),
        custom_hooks=[dict(type="KillWorkerHook", iteration=11, rank=1)],
    )
    assert "resumed from" in (work_dir / "log.txt").read_text()
    single, sharded = _train_losses(single_process_run), _train_losses(work_dir)
    assert sorted(sharded) == list(range(1, 17))
    for iteration, loss in single.items():
        assert sharded[iteration] == pytest.approx(loss, abs=1e-5), iteration
    final = read_checkpoint(work_dir / "latest.pth")
    expected = read_checkpoint(single_process_run / "latest.pth")
    assert final["state_dict"].keys() == expected["state_dict"].keys()
    for key, value in expected["state_dict"].items():
        assert torch.allclose(final["state_dict"][key], value, atol=1e-5), key
    assert final["optimizer"]["state"], "the full optimizer state is stored"
