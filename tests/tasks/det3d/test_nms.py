"""Fixed-point rotated / circle NMS equals the greedy loop; ONNX exports (both exporters) give the same keep mask."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.tasks.det3d.ops.nms import batched_rotated_nms, circle_nms, rotated_nms, rotated_nms_loop


def _random_set(seed: int, count: int, spread: float = 10.0, tie_levels: int | None = None):
    rng = np.random.default_rng(seed)
    centres = rng.uniform(0, spread, (count, 2))
    sizes = rng.uniform(1.0, 4.0, (count, 2))
    boxes = np.concatenate([centres, sizes, rng.uniform(-3.2, 3.2, (count, 1))], axis=1)
    scores = rng.uniform(0, 1, count)
    if tie_levels is not None:
        scores = np.round(scores * tie_levels) / tie_levels
    return torch.tensor(boxes, dtype=torch.float32), torch.tensor(scores, dtype=torch.float32)


def _circle_nms_loop(centres: torch.Tensor, scores: torch.Tensor, min_radius: float) -> torch.Tensor:
    order = sorted(range(len(scores)), key=lambda i: (-float(scores[i]), i))
    keep = torch.zeros(len(scores), dtype=torch.bool)
    kept: list[int] = []
    for j in order:
        if all(float(((centres[i] - centres[j]) ** 2).sum()) > min_radius for i in kept):
            kept.append(j)
            keep[j] = True
    return keep


@pytest.mark.parametrize("seed", range(6))
@pytest.mark.parametrize("iou_thr", [0.01, 0.1, 0.5])
def test_rotated_nms_equals_greedy_loop(seed, iou_thr):
    boxes, scores = _random_set(seed, 80, tie_levels=5 if seed % 2 else None)
    valid = torch.from_numpy(np.random.default_rng(seed + 100).uniform(size=80) > 0.2)
    for mask in (None, valid):
        keep = rotated_nms(boxes, scores, iou_thr, valid=mask)
        expected = rotated_nms_loop(boxes, scores, iou_thr, valid=mask)
        assert keep.dtype == torch.bool and keep.shape == (80,)
        assert torch.equal(keep, expected)
    assert not (rotated_nms(boxes, scores, iou_thr, valid=valid) & ~valid).any()


def test_rotated_nms_extreme_sets():
    # All identical boxes, equal scores: only the first survives (ties by index).
    boxes = torch.tensor([[1.0, 2.0, 4.0, 2.0, 0.3]]).repeat(7, 1)
    scores = torch.full((7,), 0.5)
    assert rotated_nms(boxes, scores, 0.5).tolist() == [True] + [False] * 6
    # Highest score last: it survives alone.
    scores = torch.arange(7, dtype=torch.float32)
    assert rotated_nms(boxes, scores, 0.5).tolist() == [False] * 6 + [True]
    # None overlapping: all kept. A chain a > b > c where a suppresses b and b (removed) does not suppress c.
    apart = torch.tensor([[10.0 * i, 0, 2, 2, 0] for i in range(5)])
    assert rotated_nms(apart, torch.rand(5), 0.1).all()
    chain = torch.tensor([[0.0, 0, 2, 2, 0], [1.0, 0, 2, 2, 0], [2.0, 0, 2, 2, 0]])
    assert rotated_nms(chain, torch.tensor([0.9, 0.8, 0.7]), 0.2).tolist() == [True, False, True]
    # No valid row: nothing kept.
    assert not rotated_nms(
        chain, torch.tensor([0.9, 0.8, 0.7]), 0.2, valid=torch.zeros(3, dtype=torch.bool)
    ).any()


def test_max_iters_converges_on_chains():
    # A long suppression chain needs many greedy steps; eager (early stop) and K iterations agree.
    chain = torch.tensor([[0.9 * i, 0, 2, 2, 0] for i in range(30)])
    scores = torch.linspace(1, 0, 30)
    expected = rotated_nms_loop(chain, scores, 0.3)
    assert torch.equal(rotated_nms(chain, scores, 0.3), expected)
    assert expected.tolist() == [i % 2 == 0 for i in range(30)]


def test_batched_rotated_nms_only_suppresses_within_a_label():
    boxes, scores = _random_set(7, 60, spread=6.0)
    labels = torch.from_numpy(np.random.default_rng(7).integers(0, 3, 60))
    keep = batched_rotated_nms(boxes, scores, labels, 0.1)
    expected = torch.zeros(60, dtype=torch.bool)
    for label in range(3):
        rows = torch.nonzero(labels == label).flatten()
        expected[rows] = rotated_nms_loop(boxes[rows], scores[rows], 0.1)
    assert torch.equal(keep, expected)
    # Two identical boxes of different labels both survive.
    pair = torch.tensor([[0.0, 0, 2, 2, 0], [0.0, 0, 2, 2, 0]])
    assert batched_rotated_nms(pair, torch.tensor([0.5, 0.4]), torch.tensor([0, 1]), 0.5).all()


@pytest.mark.parametrize("seed", range(4))
def test_circle_nms_equals_greedy_loop_on_squared_distance(seed):
    boxes, scores = _random_set(seed, 70, spread=8.0, tie_levels=4 if seed % 2 else None)
    centres = boxes[:, :2]
    for min_radius in (0.5, 4.0):
        assert torch.equal(
            circle_nms(centres, scores, min_radius), _circle_nms_loop(centres, scores, min_radius)
        )
    # Squared distance: centres 1.5 apart are suppressed with min_radius 4 (2.25 <= 4) but not with 2.
    pair = torch.tensor([[0.0, 0.0], [1.5, 0.0]])
    assert circle_nms(pair, torch.tensor([0.9, 0.8]), 4.0).tolist() == [True, False]
    assert circle_nms(pair, torch.tensor([0.9, 0.8]), 2.0).tolist() == [True, True]


class _NmsModule(torch.nn.Module):
    def forward(self, boxes, scores, valid):
        return rotated_nms(boxes, scores, 0.1, valid=valid)


def _nms_inputs():
    boxes, scores = _random_set(11, 24, spread=6.0, tie_levels=6)
    valid = torch.from_numpy(np.random.default_rng(11).uniform(size=24) > 0.2)
    return boxes, scores, valid


def _run_onnx(path, inputs):
    onnxruntime = pytest.importorskip("onnxruntime")
    session = onnxruntime.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    feeds = {inp.name: value.numpy() for inp, value in zip(session.get_inputs(), inputs)}
    return session.run(None, feeds)[0]


@pytest.mark.filterwarnings("ignore::DeprecationWarning")  # the legacy exporter the spec asks for
def test_rotated_nms_torchscript_onnx_export_matches(tmp_path):
    torch.set_num_threads(1)
    inputs = _nms_inputs()
    expected = rotated_nms_loop(inputs[0], inputs[1], 0.1, valid=inputs[2])
    assert 3 <= int(expected.sum()) < int(inputs[2].sum())  # some suppression happens
    path = tmp_path / "nms.onnx"
    torch.onnx.export(_NmsModule(), inputs, str(path), opset_version=17, dynamo=False)
    np.testing.assert_array_equal(_run_onnx(path, inputs), expected.numpy())


def test_rotated_nms_dynamo_onnx_export_matches(tmp_path):
    pytest.importorskip("onnxscript")
    from visionstack.export.onnx_export import export_onnx

    torch.set_num_threads(1)
    inputs = _nms_inputs()
    path = export_onnx(_NmsModule(), inputs, tmp_path / "nms.onnx", ["boxes", "scores", "valid"], ["keep"])
    expected = rotated_nms_loop(inputs[0], inputs[1], 0.1, valid=inputs[2])
    np.testing.assert_array_equal(_run_onnx(path, inputs), expected.numpy())


def test_empty_inputs_give_empty_masks():
    empty_boxes, empty_scores = torch.zeros((0, 5)), torch.zeros(0)
    assert rotated_nms(empty_boxes, empty_scores, 0.5).shape == (0,)
    assert batched_rotated_nms(empty_boxes, empty_scores, torch.zeros(0, dtype=torch.int64), 0.5).shape == (
        0,
    )
    assert circle_nms(torch.zeros((0, 2)), empty_scores, 1.0).shape == (0,)
