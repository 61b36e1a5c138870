"""DistributedModel: a two-process torchrun (gloo) run trains, evaluates and checkpoints correctly."""

from __future__ import annotations

import subprocess
import sys
import textwrap

import torch

from visionstack.engine import read_checkpoint

_SCRIPT = textwrap.dedent(
    """
    import sys, torch
    import visionstack.testing
    from visionstack.engine import DistributedModel, Runner
    from visionstack.testing import toy_runner_config

    torch.set_num_threads(1)
    work_dir = sys.argv[1]
    runner = Runner.from_cfg(toy_runner_config(work_dir, max_epochs=2))
    assert isinstance(runner.model, DistributedModel), type(runner.model)
    runner.train()
    metrics = runner.val()
    torch.save({"state_dict": runner.model.module.state_dict(), "metrics": metrics},
               f"{work_dir}/rank{runner.rank}.pt")
    torch.distributed.barrier()  # no rank closes its connections while another still uses them
    torch.distributed.destroy_process_group()
    """
)


def test_two_process_torchrun_training(tmp_path):
    script = tmp_path / "train.py"
    script.write_text(_SCRIPT)
    # --standalone: torchrun picks its own free rendezvous port (no race with other tests)
    command = [
        sys.executable,
        "-m",
        "torch.distributed.run",
        "--standalone",
        "--nproc-per-node",
        "2",
        str(script),
        str(tmp_path),
    ]
    completed = subprocess.run(command, capture_output=True, text=True, timeout=300)
    assert completed.returncode == 0, completed.stderr[-3000:]
    rank0, rank1 = (torch.load(tmp_path / f"rank{r}.pt", weights_only=True) for r in (0, 1))
    for key, value in rank0["state_dict"].items():
        if "running" not in key and "num_batches" not in key:  # BatchNorm statistics are per rank
            assert torch.equal(value, rank1["state_dict"][key]), key
    assert rank0["metrics"] == rank1["metrics"]
    checkpoint = read_checkpoint(tmp_path / "latest.pth")
    assert checkpoint["meta"]["world_size"] == 2 and len(checkpoint["rng_per_rank"]) == 2
    assert checkpoint["loop"]["iter"] == 8  # 32 samples over 2 ranks at batch 4: 4 iterations per epoch
    assert (tmp_path / "log.txt").read_text().count("Epoch(train) [2][4/4]") == 1  # only rank 0 writes
