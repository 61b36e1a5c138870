from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.data import default_collate, pseudo_collate
from visionstack.registry import FUNCTIONS
from visionstack.structures import DataSample, LabelData


def _packed(height: int, width: int, label: int) -> dict:
    sample = DataSample(
        metainfo={"img_shape": (height, width)}, gt_label=LabelData(label=torch.tensor([label]))
    )
    return {"inputs": torch.zeros(3, height, width, dtype=torch.uint8), "data_samples": sample}


def test_pseudo_collate_keeps_images_separate_and_uint8():
    batch = [_packed(4, 5, 1), _packed(6, 7, 2)]
    collated = pseudo_collate(batch)
    assert set(collated) == {"inputs", "data_samples"}
    assert [tuple(image.shape) for image in collated["inputs"]] == [(3, 4, 5), (3, 6, 7)]
    assert all(image.dtype == torch.uint8 for image in collated["inputs"])
    assert [sample.gt_label.label.item() for sample in collated["data_samples"]] == [1, 2]
    assert collated["data_samples"][1].img_shape == (6, 7)


def test_default_collate_stacks_tensors_arrays_and_numbers():
    batch = [
        {
            "inputs": torch.full((3, 4, 4), i),
            "array": np.full(2, i, dtype=np.float32),
            "n": i,
            "f": 0.5 * i,
            "flag": bool(i),
            "name": f"s{i}",
            "pair": (i, 10 * i),
            "nested": {"x": torch.tensor([i])},
            "data_samples": _packed(4, 4, i)["data_samples"],
        }
        for i in range(3)
    ]
    collated = default_collate(batch)
    assert collated["inputs"].shape == (3, 3, 4, 4) and collated["inputs"][2, 0, 0, 0] == 2
    assert collated["array"].dtype == torch.float32 and collated["array"].shape == (3, 2)
    assert torch.equal(collated["n"], torch.tensor([0, 1, 2]))
    assert torch.allclose(collated["f"], torch.tensor([0.0, 0.5, 1.0], dtype=torch.float64))
    assert torch.equal(collated["flag"], torch.tensor([False, True, True]))
    assert collated["name"] == ["s0", "s1", "s2"]
    assert [t.tolist() for t in collated["pair"]] == [[0, 1, 2], [0, 10, 20]]
    assert collated["nested"]["x"].shape == (3, 1)
    assert isinstance(collated["data_samples"], list) and len(collated["data_samples"]) == 3


def test_default_collate_names_the_key_of_mismatched_shapes():
    with pytest.raises(ValueError, match=r"batch\.inputs.*pseudo_collate"):
        default_collate([_packed(4, 5, 0), _packed(6, 7, 0)])


def test_collate_checks_keys_and_lengths():
    with pytest.raises(KeyError, match="different keys"):
        pseudo_collate([{"a": 1}, {"b": 2}])
    with pytest.raises(ValueError, match="differ in length"):
        pseudo_collate([[1, 2], [1]])
    assert pseudo_collate([]) == []


def test_collate_functions_are_registered_and_work_in_a_dataloader():
    assert FUNCTIONS.get("pseudo_collate") is pseudo_collate
    assert FUNCTIONS.get("default_collate") is default_collate
    samples = [_packed(4, 4 + i, i) for i in range(5)]
    loader = torch.utils.data.DataLoader(samples, batch_size=2, collate_fn=pseudo_collate)
    batches = list(loader)
    assert [len(batch["inputs"]) for batch in batches] == [2, 2, 1]
    assert batches[2]["inputs"][0].shape == (3, 4, 8)
