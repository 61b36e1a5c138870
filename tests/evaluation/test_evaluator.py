"""Evaluator: fan-out to metrics, dataset_meta, merged keys, offline evaluation, errors."""

from __future__ import annotations

import pytest

from visionstack.evaluation import BaseMetric, Evaluator


class MeanOf(BaseMetric):
    """Mean of the numbers it is given; remembers its batches and its dataset_meta."""

    default_prefix = "mean"

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.batches: list = []

    def process(self, data_batch, data_samples) -> None:
        self.batches.append(data_batch)
        self.results.extend(data_samples)

    def compute_metrics(self, results):
        return {
            "value": sum(results) / len(results),
            "classes": len((self.dataset_meta or {}).get("classes", ())),
        }


class MaxOf(MeanOf):
    default_prefix = "max"

    def compute_metrics(self, results):
        return {"value": float(max(results))}


def test_one_metric_or_a_list():
    single = Evaluator(MeanOf())
    assert len(single.metrics) == 1
    evaluator = Evaluator([MeanOf(), MaxOf()])
    evaluator.process(None, [1, 2])
    evaluator.process(None, [6])
    assert evaluator.evaluate(3) == {"mean/value": 3.0, "mean/classes": 0, "max/value": 6.0}
    assert all(metric.results == [] for metric in evaluator.metrics)


def test_dataset_meta_reaches_every_metric():
    evaluator = Evaluator([MeanOf(), MaxOf()])
    evaluator.dataset_meta = {"classes": ("a", "b", "c")}
    assert all(metric.dataset_meta == {"classes": ("a", "b", "c")} for metric in evaluator.metrics)
    evaluator.process(None, [1.0])
    assert evaluator.evaluate(1)["mean/classes"] == 3


def test_size_truncates_padding():
    evaluator = Evaluator(MeanOf())
    evaluator.process(None, [1, 2, 3, 100])  # the last one is sampler padding
    assert evaluator.evaluate(3)["mean/value"] == 2.0


def test_duplicate_keys_are_an_error_and_every_metric_is_cleared():
    evaluator = Evaluator([MeanOf(), MeanOf()])
    evaluator.process(None, [1])
    with pytest.raises(ValueError, match="both produce the key 'mean/value'.*different `prefix`"):
        evaluator.evaluate(1)
    assert all(metric.results == [] for metric in evaluator.metrics)
    renamed = Evaluator([MeanOf(), MeanOf(prefix="mean_b")])
    renamed.process(None, [1])
    assert set(renamed.evaluate(1)) == {"mean/value", "mean/classes", "mean_b/value", "mean_b/classes"}


@pytest.mark.parametrize("chunk_size", [1, 3, 10])
def test_offline_evaluate_chunks_samples_and_batches(chunk_size):
    evaluator = Evaluator(MeanOf())
    values = [3, 1, 4, 1, 5, 9, 2]
    inputs = [f"img{i}" for i in range(len(values))]
    assert evaluator.offline_evaluate(values, inputs, chunk_size=chunk_size)["mean/value"] == pytest.approx(
        25 / 7
    )
    batches = evaluator.metrics[0].batches
    assert len(batches) == -(-len(values) // chunk_size)
    assert [item for batch in batches for item in batch] == inputs


def test_offline_evaluate_without_batches():
    evaluator = Evaluator(MeanOf())
    assert evaluator.offline_evaluate([2, 4], chunk_size=2)["mean/value"] == 3.0
    assert evaluator.metrics[0].batches == [None]


def test_errors_name_the_problem():
    with pytest.raises(TypeError, match=r"metrics\[1\] is a dict.*build"):
        Evaluator([MeanOf(), {"type": "Accuracy"}])
    with pytest.raises(ValueError, match="3 data_samples but 2 data_batches"):
        Evaluator(MeanOf()).offline_evaluate([1, 2, 3], ["a", "b"])
    with pytest.raises(ValueError, match="chunk_size must be >= 1"):
        Evaluator(MeanOf()).offline_evaluate([1], chunk_size=0)


def test_evaluate_without_results_warns_instead_of_crashing():
    evaluator = Evaluator([MeanOf(), MaxOf()])
    with pytest.warns(UserWarning, match="got no results"):
        assert evaluator.evaluate(0) == {}
