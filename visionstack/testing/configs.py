"""Tiny runner configs on the toy model and dataset (a complete run takes well under a second)."""

from __future__ import annotations

import os
from typing import Any

__all__ = ["toy_runner_config"]


def toy_runner_config(
    work_dir: str | os.PathLike,
    *,
    max_epochs: int | None = 2,
    max_iters: int | None = None,
    num_samples: int = 32,
    batch_size: int = 4,
    num_workers: int = 0,
    persistent_workers: bool = False,
    augment: bool = True,
    seed: int = 0,
    val: bool = True,
    **overrides: Any,
) -> dict[str, Any]:
    """A full runner config: ToyModel, ToyDataset (train and val), SGD with momentum, a warm-up
    plus step schedule, ToyMetric, checkpoints every epoch (or every 4 iterations).

    Args:
        work_dir: the run's directory.
        max_epochs: epochs of an epoch-based run (ignored when ``max_iters`` is given).
        max_iters: iterations of an iteration-based run.
        num_samples: training set size (the validation set has half as many).
        batch_size: batch size of both loaders.
        num_workers: DataLoader workers of the training loader.
        persistent_workers: keep the workers across epochs.
        augment: random augmentation in the training set.
        seed: ``randomness.seed``.
        val: include the validation triple.
        **overrides: top-level keys replacing the defaults (``default_hooks=...`` ...).
    """
    by_epoch = max_iters is None
    cfg: dict[str, Any] = dict(
        work_dir=str(work_dir),
        model=dict(type="ToyModel", num_classes=4, width=8, dropout=0.1),
        train_dataloader=dict(
            batch_size=batch_size,
            num_workers=num_workers,
            persistent_workers=persistent_workers,
            sampler=dict(type="DefaultSampler", shuffle=True),
            collate_fn=dict(type="pseudo_collate"),
            dataset=dict(type="ToyDataset", num_samples=num_samples, augment=augment, seed=1),
        ),
        train_cfg=dict(type="EpochBasedTrainLoop", max_epochs=max_epochs)
        if by_epoch
        else dict(type="IterBasedTrainLoop", max_iters=max_iters, val_interval=max_iters),
        optim_wrapper=dict(
            type="OptimWrapper", optimizer=dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=1e-4)
        ),
        param_scheduler=[
            dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=4),
            dict(type="MultiStepLR", milestones=[1], gamma=0.5, by_epoch=by_epoch),
        ],
        default_hooks=dict(
            logger=dict(interval=2),
            checkpoint=dict(interval=1 if by_epoch else 4, by_epoch=by_epoch),
        ),
        randomness=dict(seed=seed),
    )
    if val:
        cfg.update(
            val_dataloader=dict(
                batch_size=batch_size,
                sampler=dict(type="DefaultSampler", shuffle=False),
                dataset=dict(type="ToyDataset", num_samples=max(num_samples // 2, 1), seed=1, sample_seed=2),
            ),
            val_cfg=dict(),
            val_evaluator=dict(type="ToyMetric"),
        )
    cfg.update(overrides)
    return cfg
