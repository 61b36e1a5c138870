"""How much time does the Runner add per training iteration compared with a bare PyTorch loop?

Both loops train the same network (32x32 inputs, batch 32, 10 classes) with the same optimizer on
the same in-memory tensors, read through a DataLoader with the same batch size. ``--network small``
(default) is a small ResNet; ``--network tiny`` is two convolutions and a linear layer, whose compute
is so small that the framework's own cost per iteration shows (the script then also prints the
difference in milliseconds, the figure to compare with MMEngine's):

* bare: ``for batch in loader: loss = CE(net(x), y); loss.backward(); opt.step(); opt.zero_grad()``
* runner: ``Runner.train()`` with its default hooks (timer, sampler seed, logger every 10 iterations,
  scheduler hook) and checkpointing off, the model wrapped as a BaseModel (data preprocessor,
  ``train_step``, ``parse_losses``, ``OptimWrapper.update_params``).

The two are run alternately (``--rounds`` times each) and the time between consecutive iteration
ends is collected; the script prints the median iteration time of each and their ratio.

Usage: ``python benchmarks/engine_overhead.py [--network small|tiny] [--iters 100] [--rounds 5] [--device cpu|cuda]``
"""

from __future__ import annotations

import argparse
import statistics
import tempfile
import time
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn
from torch.utils.data import DataLoader, Dataset, RandomSampler

import visionstack  # noqa: F401  (registers samplers, collate functions, hooks)
from visionstack.engine import Hook, Runner
from visionstack.engine.logger import release_logger
from visionstack.models.base_model import BaseModel

BATCH_SIZE = 32
NUM_SAMPLES = 2048
WARMUP_ITERS = 10


class BasicBlock(nn.Module):
    def __init__(self, in_channels: int, out_channels: int, stride: int = 1) -> None:
        super().__init__()
        self.conv1 = nn.Conv2d(in_channels, out_channels, 3, stride, 1, bias=False)
        self.bn1 = nn.BatchNorm2d(out_channels)
        self.conv2 = nn.Conv2d(out_channels, out_channels, 3, 1, 1, bias=False)
        self.bn2 = nn.BatchNorm2d(out_channels)
        self.shortcut = nn.Identity()
        if stride != 1 or in_channels != out_channels:
            self.shortcut = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, stride, bias=False), nn.BatchNorm2d(out_channels)
            )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        out = F.relu(self.bn1(self.conv1(x)))
        return F.relu(self.bn2(self.conv2(out)) + self.shortcut(x))


def small_resnet(width: int = 24, num_classes: int = 10) -> nn.Module:
    """stem (width) -> basic blocks width, 2*width/2, 4*width/2 -> global pool -> linear."""
    return nn.Sequential(
        nn.Conv2d(3, width, 3, 1, 1, bias=False),
        nn.BatchNorm2d(width),
        nn.ReLU(),
        BasicBlock(width, width),
        BasicBlock(width, 2 * width, 2),
        BasicBlock(2 * width, 4 * width, 2),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(4 * width, num_classes),
    )


def tiny_cnn(num_classes: int = 10) -> nn.Module:
    """conv 3->16, conv 16->32 (stride 2), global pool, linear: framework cost is a large share."""
    return nn.Sequential(
        nn.Conv2d(3, 16, 3, 1, 1),
        nn.ReLU(),
        nn.Conv2d(16, 32, 3, 2, 1),
        nn.ReLU(),
        nn.AdaptiveAvgPool2d(1),
        nn.Flatten(),
        nn.Linear(32, num_classes),
    )


NETWORKS = {"small": small_resnet, "tiny": tiny_cnn}
NETWORK = ["small"]  # set by --network


class TensorPairs(Dataset):
    """In-memory images (N, 3, 32, 32) and labels (N,); items are ``{"inputs", "data_samples"}``
    with the label tensor as the data sample (the bare loop reads the same dicts)."""

    def __init__(self, images: torch.Tensor, labels: torch.Tensor) -> None:
        self.images, self.labels = images, labels

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict[str, torch.Tensor]:
        return {"inputs": self.images[index], "data_samples": self.labels[index]}


class Classifier(BaseModel):
    """The network under the model contract; ``data_samples`` are the label tensors."""

    def __init__(self, network: nn.Module) -> None:
        super().__init__()
        self.network = network

    def loss(self, inputs: torch.Tensor, data_samples: Any) -> dict[str, torch.Tensor]:
        labels = (
            torch.stack(list(data_samples)) if not isinstance(data_samples, torch.Tensor) else data_samples
        )
        return {"loss": F.cross_entropy(self.network(inputs), labels)}


class ComputeWindow:
    """The time from the network's forward pre-hook to the optimizer's step post-hook, per iteration:
    forward, loss, backward and step. The rest of an iteration is the loop's own cost (data, collate,
    preprocessor, hooks, logging), the figure to compare between frameworks."""

    def __init__(self) -> None:
        self.windows: list[float] = []
        self._start: float | None = None

    def attach(self, network: nn.Module, optimizer: torch.optim.Optimizer) -> None:
        network.register_forward_pre_hook(self._pre)
        optimizer.register_step_post_hook(self._post)

    def _pre(self, *_: Any) -> None:
        if self._start is None:
            self._start = time.perf_counter()

    def _post(self, *_: Any) -> None:
        self.windows.append(time.perf_counter() - self._start)
        self._start = None


class IterationClock(Hook):
    """Records the time at the end of every training iteration."""

    priority = "LOWEST"

    def __init__(self, stamps: list[float], window: ComputeWindow) -> None:
        self.stamps = stamps
        self.window = window

    def before_train(self, runner) -> None:
        self.window.attach(runner.model.network, runner.optim_wrapper.optimizer)

    def after_train_iter(self, runner, batch_idx, data_batch=None, outputs=None) -> None:
        self.stamps.append(time.perf_counter())


def _data() -> TensorPairs:
    generator = torch.Generator().manual_seed(0)
    images = torch.randn(NUM_SAMPLES, 3, 32, 32, generator=generator)
    labels = torch.randint(0, 10, (NUM_SAMPLES,), generator=generator)
    return TensorPairs(images, labels)


def _network(device: torch.device) -> nn.Module:
    torch.manual_seed(0)
    return NETWORKS[NETWORK[0]]().to(device)


def _optimizer(params: Any) -> torch.optim.Optimizer:
    return torch.optim.SGD(params, lr=0.05, momentum=0.9, weight_decay=1e-4)


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize()


def run_bare(
    dataset: TensorPairs, device: torch.device, iterations: int, window: ComputeWindow
) -> list[float]:
    network = _network(device)
    optimizer = _optimizer(network.parameters())
    window.attach(network, optimizer)
    loader = DataLoader(
        dataset, batch_size=BATCH_SIZE, sampler=RandomSampler(dataset, generator=torch.Generator())
    )
    stamps: list[float] = []
    network.train()
    while len(stamps) < iterations:
        for batch in loader:
            inputs = batch["inputs"].to(device)
            labels = batch["data_samples"].to(device)
            loss = F.cross_entropy(network(inputs), labels)
            loss.backward()
            optimizer.step()
            optimizer.zero_grad()
            loss.item()  # what a bare loop prints; the runner's parse_losses reads it the same way
            stamps.append(time.perf_counter())
            if len(stamps) == iterations:
                break
    _sync(device)
    return stamps


def run_runner(
    dataset: TensorPairs, device: torch.device, iterations: int, window: ComputeWindow
) -> list[float]:
    stamps: list[float] = []
    with tempfile.TemporaryDirectory() as work_dir:
        cfg = dict(
            work_dir=work_dir,
            model=dict(type=Classifier, network=_network(device)),
            train_dataloader=dict(
                batch_size=BATCH_SIZE,
                num_workers=0,
                sampler=dict(type="DefaultSampler"),
                collate_fn=dict(type="default_collate"),
                dataset=dataset,
            ),
            train_cfg=dict(type="IterBasedTrainLoop", max_iters=iterations),
            optim_wrapper=dict(
                type="OptimWrapper", optimizer=dict(type="SGD", lr=0.05, momentum=0.9, weight_decay=1e-4)
            ),
            default_hooks=dict(checkpoint=None),
            custom_hooks=[IterationClock(stamps, window)],
            env_cfg=dict(device=str(device)),
            randomness=dict(seed=0),
            log_level="WARNING",
        )
        Runner.from_cfg(cfg).train()
        release_logger()
    _sync(device)
    return stamps


def _intervals(stamps: list[float]) -> list[float]:
    return [b - a for a, b in zip(stamps[WARMUP_ITERS:], stamps[WARMUP_ITERS + 1 :])]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--iters", type=int, default=100, help="iterations per run")
    parser.add_argument("--rounds", type=int, default=5, help="alternating runs of each loop")
    parser.add_argument("--device", default="cuda" if torch.cuda.is_available() else "cpu")
    parser.add_argument("--network", choices=sorted(NETWORKS), default="small")
    args = parser.parse_args()
    NETWORK[0] = args.network
    device = torch.device(args.device)
    dataset = _data()
    bare: list[float] = []
    runner: list[float] = []
    bare_outside: list[float] = []
    runner_outside: list[float] = []
    for _ in range(args.rounds):
        for run, walls, outside in ((run_bare, bare, bare_outside), (run_runner, runner, runner_outside)):
            window = ComputeWindow()
            intervals = _intervals(run(dataset, device, args.iters, window))
            walls += intervals
            # stamps[k] ends iteration k, so interval j is iteration WARMUP_ITERS + j + 1
            computes = window.windows[WARMUP_ITERS + 1 : WARMUP_ITERS + 1 + len(intervals)]
            outside += [wall - compute for wall, compute in zip(intervals, computes)]
    bare_ms, runner_ms = statistics.median(bare) * 1e3, statistics.median(runner) * 1e3
    bare_out, runner_out = statistics.median(bare_outside) * 1e3, statistics.median(runner_outside) * 1e3
    print(
        f"device: {device} ({torch.get_num_threads()} threads), {args.network} network, batch {BATCH_SIZE}, 32x32, "
        f"{args.rounds} x {args.iters} iterations per loop"
    )
    print(f"bare PyTorch loop : median {bare_ms:.2f} ms/iter, outside forward..step {bare_out:.3f} ms")
    print(f"visionstack Runner: median {runner_ms:.2f} ms/iter, outside forward..step {runner_out:.3f} ms")
    print(f"ratio runner / bare: {runner_ms / bare_ms:.3f} (requirement <= 1.05)")
    print(
        f"runner - bare outside forward..step: {runner_out - bare_out:+.3f} ms/iter "
        "(the loop's own cost; goal for the tiny network: <= +0.3)"
    )


if __name__ == "__main__":
    main()
