"""The data interface end to end: registry configs -> dataset -> sampler -> DataLoader workers -> batch."""

from __future__ import annotations

import torch

from visionstack.registry import DATA_SAMPLERS, DATASETS, FUNCTIONS, build
from visionstack.structures import DataSample


def test_digits_through_a_dataloader_with_workers(tmp_path):
    dataset = build(
        dict(
            type="Digits",
            data_root=str(tmp_path / "digits"),
            split="val",
            pipeline=[
                dict(type="LoadImage"),
                dict(type="RandomResizedCrop", scale=24),
                dict(type="RandomFlip", prob=0.5),
                dict(type="RandAugment", magnitude_std=0.5),
                dict(type="PackInputs"),
            ],
        ),
        DATASETS,
    )
    sampler = build(dict(type="DefaultSampler", shuffle=True, seed=3), DATA_SAMPLERS, dataset=dataset)
    collate = FUNCTIONS.get("pseudo_collate")
    loader = torch.utils.data.DataLoader(
        dataset, batch_size=64, sampler=sampler, num_workers=2, collate_fn=collate, drop_last=False
    )
    seen = []
    for batch in loader:
        assert all(
            tuple(image.shape) == (3, 24, 24) and image.dtype == torch.uint8 for image in batch["inputs"]
        )
        assert all(isinstance(sample, DataSample) for sample in batch["data_samples"])
        seen.extend(sample.sample_idx for sample in batch["data_samples"])
        for sample in batch["data_samples"]:
            assert sample.gt_label.label.item() == int(sample.img_path.split("/")[-2])
    assert sorted(seen) == list(range(len(dataset))) == sorted(sampler)
