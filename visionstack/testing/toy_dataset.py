"""ToyDataset: a deterministic in-memory classification set, optionally randomly augmented."""

from __future__ import annotations

import random

import numpy as np
import torch
from torch.utils.data import Dataset

from ..registry import DATASETS
from ..structures import DataSample, LabelData

__all__ = ["ToyDataset"]


@DATASETS.register()
class ToyDataset(Dataset):
    """``num_samples`` images ``(channels, H, W)`` float32: a per-class prototype plus noise.

    A prototype is a per-channel offset plus a spatial pattern, so even a globally pooled conv net
    separates the classes within a few epochs. The data are a pure function of the seeds (own
    generators; the global ones are untouched).

    Args:
        num_samples: dataset length.
        num_classes: number of classes (labels cycle 0, 1, ..., num_classes - 1).
        image_size: H (= W) or (H, W).
        channels: image channels.
        noise: standard deviation of the per-sample noise around the prototype.
        augment: apply a random augmentation drawing from all three global generators: a horizontal
            flip (Python ``random``), a brightness factor (NumPy) and additive noise (PyTorch). Used to
            prove that a resumed run restores every generator.
        seed: seed of the class prototypes (the "task"): a validation set uses the same one.
        sample_seed: seed of the per-sample noise (defaults to ``seed``); give a validation set
            another one to get new samples of the same classes.

    Each item is ``{"inputs": (C, H, W) float32, "data_samples": DataSample}`` with ``gt_label``
    (LabelData, label (1,) int64) and metainfo ``sample_idx``, ``img_shape``, ``ori_shape``.
    """

    def __init__(
        self,
        num_samples: int = 32,
        num_classes: int = 4,
        image_size: int | tuple[int, int] = 8,
        channels: int = 3,
        noise: float = 0.5,
        augment: bool = False,
        seed: int = 0,
        sample_seed: int | None = None,
    ) -> None:
        height, width = (image_size, image_size) if isinstance(image_size, int) else tuple(image_size)
        generator = torch.Generator().manual_seed(seed)
        prototypes = torch.randn(num_classes, channels, 1, 1, generator=generator) + 0.5 * torch.randn(
            num_classes, channels, height, width, generator=generator
        )
        generator = torch.Generator().manual_seed(seed if sample_seed is None else sample_seed)
        self.labels = torch.arange(num_samples) % num_classes
        noise_images = torch.randn(num_samples, channels, height, width, generator=generator)
        self.images = prototypes[self.labels] + noise * noise_images
        self.augment = augment
        self.metainfo = {"classes": tuple(f"class_{k}" for k in range(num_classes))}

    def __len__(self) -> int:
        return len(self.labels)

    def __getitem__(self, index: int) -> dict:
        image = self.images[index].clone()
        if self.augment:
            if random.random() < 0.5:
                image = image.flip(-1)
            image = image * float(np.random.uniform(0.8, 1.2))
            image = image + 0.1 * torch.randn_like(image)
        shape = tuple(image.shape[-2:])
        sample = DataSample(
            metainfo={"sample_idx": index, "img_shape": shape, "ori_shape": shape},
            gt_label=LabelData(label=self.labels[index : index + 1].clone()),
        )
        return {"inputs": image, "data_samples": sample}
