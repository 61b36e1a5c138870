"""Re-identification data: the crop list and the identity-balanced sampler batch-hard triplet loss needs.

The list file (written by :func:`~visionstack.tasks.tracking.reid.crops.write_reid_crops`, or MMTracking's
``mot2reid``) holds lines ``relative/crop/path.jpg identity``, paths relative to ``data_prefix``. Identities
are any integers; the dataset relabels them 0..K-1 in increasing order (``gt_label``, what the classifier of
the re-id head is trained on) and keeps the number it read as ``identity``.

Batch-hard triplet loss (Hermans et al., "In Defense of the Triplet Loss for Person Re-Identification",
2017, section 2) needs P identities with K crops each in every batch, so that every anchor has positives.
MMTracking makes each dataset item a whole P x K group (``triplet_sampler=dict(num_ids, ins_per_id)``);
here the items stay single crops and :class:`IdentityBalancedSampler` orders them so that every run of
``P * K`` consecutive indices is such a group; the loader's ``batch_size`` must be ``P * K``.
"""

from __future__ import annotations

import math
import os
from collections.abc import Iterator, Mapping, Sized
from typing import Any

import numpy as np
import torch
from torch.utils.data import Sampler

from ....data.base_dataset import BaseDataset
from ....registry import DATA_SAMPLERS, DATASETS
from ....utils import dist

__all__ = ["IdentityBalancedSampler", "ReIDDataset", "identity_labels"]


@DATASETS.register()
class ReIDDataset(BaseDataset):
    """Crops of objects listed as ``relative/path identity`` lines (MMTracking's ``ReIDDataset``).

    Records: ``{"img_path": str, "gt_label": int (0..K-1), "identity": int (as in the file), "frame_id": int}``,
    ``frame_id`` being the file name's number when the name is one (``write_reid_crops`` names crops by MOT
    frame), else -1; ``metainfo["num_identities"]`` is K. Blank lines and ``#`` comments are skipped; a malformed line
    raises :class:`~visionstack.data.DatasetError` naming the file and line (or is counted and skipped
    with ``skip_bad_samples``).

    Args:
        ann_file: the list file (relative to ``data_root`` unless absolute).
        data_root: the dataset root.
        data_prefix: the folder below ``data_root`` the listed paths start from (a str, or
            ``dict(img_path=...)``).
        **kwargs: the other :class:`BaseDataset` arguments (``pipeline``, ``indices``, ``test_mode`` ...).
    """

    def __init__(
        self,
        ann_file: str,
        data_root: str = "",
        data_prefix: str | Mapping[str, str] = "",
        **kwargs: Any,
    ) -> None:
        if not ann_file:
            raise ValueError(
                "ReIDDataset: ann_file is required (a text file of 'relative/path identity' lines)"
            )
        prefix = {"img_path": data_prefix} if isinstance(data_prefix, str) else dict(data_prefix)
        super().__init__(ann_file=ann_file, data_root=data_root, data_prefix=prefix, **kwargs)

    def load_data_list(self) -> list[dict]:
        folder = self.data_prefix.get("img_path", "") or self.data_root
        entries = []
        with open(self.ann_file, encoding="utf-8") as handle:
            for line_number, line in enumerate(handle, start=1):
                text = line.strip()
                if not text or text.startswith("#"):
                    continue
                parts = text.rsplit(maxsplit=1)
                if len(parts) != 2 or not parts[1].lstrip("-").isdigit():
                    self.report_bad_record(
                        line_number, f"expected 'relative/path identity', got {text!r}", unit="line"
                    )
                    continue
                entries.append((parts[0], int(parts[1])))
        relabel = {identity: label for label, identity in enumerate(sorted({ident for _, ident in entries}))}
        self._metainfo["num_identities"] = len(relabel)
        return [
            {
                "img_path": os.path.join(folder, path),
                "gt_label": relabel[ident],
                "identity": ident,
                "frame_id": _frame_number(path),
            }
            for path, ident in entries
        ]

    def identity_labels(self) -> np.ndarray:
        """(N,) int64 ``gt_label`` of every record, in dataset order (what the sampler groups by)."""
        return np.array([self.get_data_info(index)["gt_label"] for index in range(len(self))], dtype=np.int64)


def _frame_number(path: str) -> int:
    """The MOT frame a crop was cut from, when its file name is the number (``.../000123.jpg``), else -1."""
    stem = os.path.splitext(os.path.basename(path))[0]
    return int(stem) if stem.isdigit() else -1


def identity_labels(dataset: Sized) -> np.ndarray:
    """(N,) int64 identity label per index: ``dataset.identity_labels()`` when it has one, else the
    ``gt_label`` of ``dataset.get_data_info(i)``."""
    if hasattr(dataset, "identity_labels"):
        return np.asarray(dataset.identity_labels(), dtype=np.int64)
    if not hasattr(dataset, "get_data_info"):
        raise TypeError(
            f"IdentityBalancedSampler: {type(dataset).__name__} has neither identity_labels() nor get_data_info()"
        )
    return np.array([int(dataset.get_data_info(i)["gt_label"]) for i in range(len(dataset))], dtype=np.int64)


@DATA_SAMPLERS.register()
class IdentityBalancedSampler(Sampler[int]):
    """Index order whose every ``P * K`` consecutive indices are P distinct identities x K crops each.

    Each epoch, every identity's crops are shuffled and cut into chunks of K (the last chunk, and an
    identity with fewer than K crops, is filled by drawing its crops again). A batch takes one chunk from
    each of P distinct identities drawn with probability proportional to their chunks left, so an epoch
    visits about every crop once; an identity whose chunks are used up is refilled. The order is drawn
    from ``seed + epoch``, the same on every rank; rank r of W takes batches r, r + W, ...

    Args:
        dataset: a dataset with ``identity_labels()`` (:class:`ReIDDataset`) or ``get_data_info(i)
            ["gt_label"]``.
        num_identities: P, identities per batch (at most the dataset's identity count).
        num_instances: K, crops per identity in a batch (>= 2 for triplet positives).
        seed: None means the runner's seed.

    The dataloader's ``batch_size`` must equal ``num_identities * num_instances`` (:attr:`batch_size`).
    """

    def __init__(
        self, dataset: Sized, num_identities: int = 8, num_instances: int = 4, seed: int | None = None
    ) -> None:
        if num_instances < 1 or num_identities < 1:
            raise ValueError(
                f"IdentityBalancedSampler: num_identities and num_instances must be >= 1, got "
                f"{num_identities} and {num_instances}"
            )
        self.dataset = dataset
        self.num_identities = num_identities
        self.num_instances = num_instances
        self.seed = 0 if seed is None else int(seed)
        self.epoch = 0
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        labels = identity_labels(dataset)
        self._members = [np.flatnonzero(labels == label) for label in np.unique(labels)]
        if len(self._members) < num_identities:
            raise ValueError(
                f"IdentityBalancedSampler: the dataset has {len(self._members)} identities, fewer than "
                f"num_identities={num_identities}"
            )
        num_chunks = sum(math.ceil(len(members) / num_instances) for members in self._members)
        self.num_batches = max(1, num_chunks // num_identities // self.world_size)  # per rank

    @property
    def batch_size(self) -> int:
        """P * K: the dataloader batch size this order is made for."""
        return self.num_identities * self.num_instances

    def _chunks(self, members: np.ndarray, generator: torch.Generator) -> list[list[int]]:
        order = members[torch.randperm(len(members), generator=generator).numpy()].tolist()
        shortfall = -len(order) % self.num_instances
        if shortfall:
            extra = torch.randint(len(members), (shortfall,), generator=generator).numpy()
            order += members[extra].tolist()
        return [order[i : i + self.num_instances] for i in range(0, len(order), self.num_instances)]

    def _batches(self) -> list[list[int]]:
        generator = torch.Generator().manual_seed(self.seed + self.epoch)
        queues = [self._chunks(members, generator) for members in self._members]
        batches = []
        for _ in range(self.num_batches * self.world_size):
            weights = torch.tensor([float(len(queue)) for queue in queues])
            if int((weights > 0).sum()) < self.num_identities:  # refill the exhausted identities
                for label, queue in enumerate(queues):
                    if not queue:
                        queue.extend(self._chunks(self._members[label], generator))
                weights = torch.tensor([float(len(queue)) for queue in queues])
            chosen = torch.multinomial(weights, self.num_identities, replacement=False, generator=generator)
            batches.append([index for label in chosen.tolist() for index in queues[label].pop()])
        return batches

    def __iter__(self) -> Iterator[int]:
        batches = self._batches()[self.rank :: self.world_size]
        return iter([index for batch in batches for index in batch])

    def __len__(self) -> int:
        return self.num_batches * self.batch_size

    def set_epoch(self, epoch: int) -> None:
        """Use the order of ``epoch`` (the runner calls it before each epoch)."""
        self.epoch = int(epoch)
