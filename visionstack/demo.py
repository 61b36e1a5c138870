"""``visionstack demo``: the embedded default job that ``make demo`` runs.

For every task whose adapter names a demo job (``TaskAdapter.demo``: today the ResNet-18 Digits classifier
and a briefly trained FCOS on the synthetic shapes), in task order: write the synthetic data if the config's
``data_root`` is empty and the job asks for it, train the config (for the job's epochs), report the job's
validation metric against its floor, and run ``visionstack infer`` on a few validation images through the
same command-line path a user would take, drawing the predictions.
"""

from __future__ import annotations

import time
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from .config import Config
from .registry import TASKS


def find_config(relative: str) -> Path:
    """A config shipped in the repository's ``configs/`` (next to the package or the cwd)."""
    for root in (Path.cwd(), Path(__file__).resolve().parent.parent):
        if (root / relative).is_file():
            return root / relative
    raise FileNotFoundError(f"{relative} not found next to the package or in the current folder")


def run_demo(work_root: Path) -> int:
    """Run every task's demo job; returns 0 when each reaches its floor."""
    from .tasks.adapter import get_adapter

    passed = []
    for name in TASKS.keys():
        adapter = get_adapter(name)
        if adapter.demo is not None:
            passed.append(run_task_demo(name, adapter.demo, work_root))
    return 0 if all(passed) else 1


def run_task_demo(task: str, job: Mapping[str, Any], work_root: Path) -> bool:
    """Train, evaluate and infer one demo job; True if its metric reaches the floor."""
    from .engine import Runner
    from .tasks.adapter import get_adapter

    config_path = find_config(job["config"])
    cfg = Config.fromfile(config_path)
    data_root = Path(cfg["data_root"])
    if job.get("synthetic") and not (data_root.is_dir() and any(data_root.iterdir())):
        print(f"[demo] writing the synthetic {task} dataset to {data_root}")
        get_adapter(task).write_synthetic(data_root)
    cfg["work_dir"] = str(work_root / config_path.stem)
    epochs = job.get("epochs")
    if epochs is not None:
        cfg["train_cfg"]["max_epochs"] = epochs
        cfg["train_cfg"]["val_interval"] = epochs
        cfg["default_hooks"]["checkpoint"]["interval"] = epochs
    start = time.perf_counter()
    runner = Runner.from_cfg(cfg)
    runner.train()
    value = float(runner.val()[job["metric"]])
    seconds = time.perf_counter() - start
    schedule = f"{epochs} epochs" if epochs is not None else "the full schedule"
    print(
        f"\n[demo] {task}, {config_path.name}, {schedule}: {job['metric']} = {value:.4g} after {seconds:.0f} s"
    )
    infer_dir = work_root / f"infer_{task}"
    _infer_examples(config_path, cfg, job, infer_dir)
    ok = value >= job["floor"]
    print(
        f"[demo] {'PASS' if ok else 'FAIL'}: {job['metric']} {value:.4g} (floor {job['floor']}); pictures in {infer_dir}"
    )
    return ok


def _infer_examples(config_path: Path, cfg: Config, job: Mapping[str, Any], infer_dir: Path) -> None:
    """``visionstack infer`` on validation images spread evenly over the val set."""
    from .cli import main as cli_main
    from .registry import DATASETS, build

    dataset = build(cfg["val_dataloader"]["dataset"], DATASETS)
    count = min(int(job.get("infer_images", 4)), len(dataset))
    indices = sorted({index * len(dataset) // count for index in range(count)})
    images = [str(dataset.get_data_info(index)["img_path"]) for index in indices]
    print(f"[demo] visionstack infer on {len(images)} validation images:")
    checkpoint = Path(cfg["work_dir"]) / "latest.pth"
    cli_main(
        [
            "infer",
            str(config_path),
            str(checkpoint),
            *images,
            "--out-dir",
            str(infer_dir),
            *job.get("infer_args", ()),
        ]
    )
