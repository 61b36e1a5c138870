"""BaseMetric: collection across (simulated) ranks, rank-0 compute, prefixes, clearing, warnings."""

from __future__ import annotations

import math

import pytest
import torch

from visionstack.evaluation import BaseMetric
from visionstack.utils import dist


class IndexRecorder(BaseMetric):
    """Records each sample's dataset index; computes the list it was given and its sum."""

    default_prefix = "recorder"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.computed_on: list[list[int]] = []

    def process(self, data_batch, data_samples) -> None:
        self.results.extend({"index": torch.tensor(index)} for index in data_samples)

    def compute_metrics(self, results):
        indices = [int(r["index"]) for r in results]
        self.computed_on.append(indices)
        return {"count": len(indices), "sum": float(sum(indices))}


def shard(num_samples: int, world_size: int, rank: int) -> list[int]:
    """The indices DefaultSampler(shuffle=False, round_up=True) gives ``rank``."""
    total = math.ceil(num_samples / world_size) * world_size
    padded = list(range(num_samples)) + list(range(total - num_samples))
    return padded[rank::world_size]


def test_single_process_prefix_and_clearing():
    metric = IndexRecorder()
    metric.process(None, [0, 1, 2])
    metric.process(None, [3])
    assert metric.evaluate(4) == {"recorder/count": 4, "recorder/sum": 6.0}
    assert metric.results == []


def test_prefix_override_and_empty_prefix():
    named = IndexRecorder(prefix="val")
    named.process(None, [5])
    assert named.evaluate(1) == {"val/count": 1, "val/sum": 5.0}
    bare = IndexRecorder(prefix="")
    bare.process(None, [5])
    assert bare.evaluate(1) == {"count": 1, "sum": 5.0}


@pytest.mark.parametrize(("num_samples", "world_size"), [(10, 2), (11, 2), (7, 3), (2, 4)])
def test_fake_ranks_restore_dataset_order_and_drop_padding(monkeypatch, num_samples, world_size):
    parts = []
    for rank in range(world_size):
        metric = IndexRecorder()
        for index in shard(num_samples, world_size, rank):
            metric.process(None, [index])
        parts.append(list(metric.results))
    main = IndexRecorder()
    main.results = list(parts[0])

    def fake_all_gather(obj):
        assert [int(r["index"]) for r in obj] == shard(num_samples, world_size, 0)
        return [obj] + parts[1:]

    monkeypatch.setattr(dist, "all_gather_object", fake_all_gather)
    result = main.evaluate(num_samples)
    assert main.computed_on == [list(range(num_samples))]
    assert result == {"recorder/count": num_samples, "recorder/sum": float(sum(range(num_samples)))}


def test_other_ranks_receive_the_broadcast_and_do_not_compute(monkeypatch):
    metric = IndexRecorder()
    metric.process(None, [1, 3])
    sent = {}

    def fake_broadcast(obj, src=0):
        sent["from_this_rank"] = obj
        return {"recorder/count": 4, "recorder/sum": 6.0}

    monkeypatch.setattr(dist, "get_rank", lambda: 1)
    monkeypatch.setattr(dist, "all_gather_object", lambda obj: [[{"index": torch.tensor(0)}], obj])
    monkeypatch.setattr(dist, "broadcast_object", fake_broadcast)
    assert metric.evaluate(4) == {"recorder/count": 4, "recorder/sum": 6.0}
    assert metric.computed_on == [] and sent["from_this_rank"] is None
    assert metric.results == []


class Holder:
    """A record type with ``.cpu()`` (like a DataSample): returns a moved copy."""

    def __init__(self, moved: bool = False) -> None:
        self.moved = moved

    def cpu(self) -> Holder:
        return Holder(moved=True)


@pytest.mark.parametrize(("collect_device", "moved"), [("cpu", True), ("gpu", False)])
def test_collect_device_decides_whether_records_move(monkeypatch, collect_device, moved):
    seen = {}

    def fake_collect(results, size):
        seen["results"] = results
        return []

    monkeypatch.setattr(dist, "collect_results", fake_collect)
    metric = IndexRecorder(collect_device=collect_device)
    metric.results = [{"holder": Holder(), "nested": [(Holder(),)]}]
    metric.evaluate(1)
    record = seen["results"][0]
    assert record["holder"].moved is moved and record["nested"][0][0].moved is moved


@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cpu_collection_moves_cuda_tensors(monkeypatch):
    seen = {}
    monkeypatch.setattr(dist, "collect_results", lambda results, size: seen.setdefault("r", results)[:size])
    metric = IndexRecorder(collect_device="cpu")
    metric.results = [{"index": torch.tensor(1, device="cuda")}]
    assert metric.evaluate(1) == {"recorder/count": 1, "recorder/sum": 1.0}
    assert seen["r"][0]["index"].device.type == "cpu"


def test_no_results_warns_and_returns_empty():
    metric = IndexRecorder()
    with pytest.warns(UserWarning, match="IndexRecorder got no results"):
        assert metric.evaluate(0) == {}
    assert metric.computed_on == []


def test_constructor_and_size_checks():
    with pytest.raises(ValueError, match="collect_device must be one of"):
        IndexRecorder(collect_device="tpu")
    with pytest.raises(ValueError, match="size must be >= 0"):
        IndexRecorder().evaluate(-1)
    with pytest.raises(TypeError):
        BaseMetric()  # abstract


def test_dataset_meta_is_a_copy():
    meta = {"classes": ["a", "b"]}
    metric = IndexRecorder()
    metric.dataset_meta = meta
    meta["classes"].append("c")
    assert metric.dataset_meta == {"classes": ["a", "b"]}
