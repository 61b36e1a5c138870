"""Skeleton graphs (partitions against a slow restatement) and the ST-GCN backbone."""

from __future__ import annotations

from collections import deque

import numpy as np
import pytest
import torch

from visionstack.structures import DataSample, LabelData
from visionstack.tasks.action.models import STGCN, GCNHead, Graph, RecognizerGCN
from visionstack.tasks.action.models.graph import LAYOUTS

from .conftest import onnx_and_eager_scores

# a hand-made skeleton: 0 - 1 - 2 - 3 and 1 - 4 - 5, centre 1
SMALL = {"num_node": 6, "inward": [(0, 1), (2, 1), (3, 2), (4, 1), (5, 4)], "center": 1}


def bfs_distances(num_node: int, edges) -> np.ndarray:
    neighbours = {node: set() for node in range(num_node)}
    for a, b in edges:
        neighbours[a].add(b)
        neighbours[b].add(a)
    distance = np.full((num_node, num_node), np.inf)
    for source in range(num_node):
        distance[source, source] = 0
        queue = deque([source])
        while queue:
            node = queue.popleft()
            for other in neighbours[node]:
                if np.isinf(distance[source, other]):
                    distance[source, other] = distance[source, node] + 1
                    queue.append(other)
    return distance


def slow_spatial_partition(num_node: int, edges, center: int, max_hop: int) -> np.ndarray:
    """The paper's partition restated element by element: root, then per hop the senders at least as
    far from the centre as the receiver, and the nearer ones; column-normalised neighbourhood."""
    distance = bfs_distances(num_node, edges)
    in_reach = distance <= max_hop
    normalized = np.zeros((num_node, num_node))
    for receiver in range(num_node):
        degree = sum(in_reach[sender, receiver] for sender in range(num_node))
        for sender in range(num_node):
            if in_reach[sender, receiver]:
                normalized[sender, receiver] = 1.0 / degree
    subsets = [np.zeros((num_node, num_node))]
    for _ in range(max_hop):
        subsets += [np.zeros((num_node, num_node)), np.zeros((num_node, num_node))]
    for sender in range(num_node):
        for receiver in range(num_node):
            hop = distance[sender, receiver]
            if hop > max_hop:
                continue
            if hop == 0:
                subsets[0][sender, receiver] = normalized[sender, receiver]
            elif distance[sender, center] >= distance[receiver, center]:
                subsets[2 * int(hop) - 1][sender, receiver] = normalized[sender, receiver]
            else:
                subsets[2 * int(hop)][sender, receiver] = normalized[sender, receiver]
    return np.stack(subsets)


@pytest.mark.parametrize("max_hop", [1, 2])
def test_spatial_partition_matches_the_slow_restatement(max_hop):
    graph = Graph(SMALL, "spatial", max_hop=max_hop)
    expected = slow_spatial_partition(6, SMALL["inward"], SMALL["center"], max_hop)
    assert graph.A.shape == (2 * max_hop + 1, 6, 6)
    np.testing.assert_allclose(graph.A, expected, atol=1e-7)
    # each receiver averages over its neighbourhood
    np.testing.assert_allclose(graph.A.sum(axis=(0, 1)), np.ones(6), atol=1e-6)


def test_spatial_partition_by_hand():
    a = Graph(SMALL, "spatial").A
    # joint 2 (1 hop from the centre 1) receives from itself, from 3 (farther) and from 1 (nearer)
    assert a[0, 2, 2] == pytest.approx(1 / 3)
    assert a[1, 3, 2] == pytest.approx(1 / 3) and a[2, 3, 2] == 0
    assert a[2, 1, 2] == pytest.approx(1 / 3) and a[1, 1, 2] == 0
    # the centre has no nearer neighbour
    assert a[2, :, 1].sum() == 0


def test_stgcn_spatial_is_the_published_codes_cut_distance():
    # every joint within max_hop of the centre: both agree
    np.testing.assert_allclose(Graph(SMALL, "stgcn_spatial", 2).A, Graph(SMALL, "spatial", 2).A)
    # COCO with max_hop=1: the published code counts the wrist and the elbow as equally far (inf)
    coco_published, coco_paper = Graph("coco", "stgcn_spatial").A, Graph("coco", "spatial").A
    wrist, elbow = 9, 7
    assert coco_paper[2, elbow, wrist] > 0 and coco_paper[1, elbow, wrist] == 0
    assert coco_published[1, elbow, wrist] > 0 and coco_published[2, elbow, wrist] == 0
    np.testing.assert_allclose(coco_published.sum(axis=0), coco_paper.sum(axis=0))


@pytest.mark.parametrize(
    ("layout", "num_node", "num_edges"), [("coco", 17, 16), ("openpose", 18, 17), ("nturgb+d", 25, 24)]
)
def test_layouts(layout, num_node, num_edges):
    assert LAYOUTS[layout][0] == num_node and len(LAYOUTS[layout][1]) == num_edges
    graph = Graph(layout, "spatial")
    assert graph.A.shape == (3, num_node, num_node)
    # a tree: connected, and bones + self links fill the one-hop neighbourhood
    assert np.isfinite(bfs_distances(num_node, graph.edges)).all()
    assert int((graph.A.sum(axis=0) > 0).sum()) == num_node + 2 * num_edges


def test_uniform_and_distance_modes():
    uniform, distance = Graph(SMALL, "uniform").A, Graph(SMALL, "distance").A
    assert uniform.shape == (1, 6, 6) and distance.shape == (2, 6, 6)
    np.testing.assert_allclose(distance.sum(axis=0), uniform[0])
    np.testing.assert_allclose(np.diag(distance[0]), np.diag(uniform[0]))
    assert np.diag(distance[1]).sum() == 0
    with pytest.raises(ValueError, match="mode"):
        Graph("coco", "radial")
    with pytest.raises(ValueError, match="layout"):
        Graph("kinect")


def test_stgcn_shapes_and_structure():
    torch.manual_seed(0)
    model = STGCN(base_channels=32).eval()
    with torch.no_grad():
        out = model(torch.randn(1, 2, 48, 17, 3))
    assert out.shape == (1, 2, 128, 12, 17) and model.out_channels == 128
    assert len(model.blocks) == 10 and model.blocks[0].residual is None
    assert [block.tcn.stride[0] for block in model.blocks] == [1, 1, 1, 1, 2, 1, 1, 2, 1, 1]
    assert model.blocks[0].tcn.kernel_size == (9, 1)
    for block in model.blocks:
        assert torch.equal(block.edge_importance, torch.ones(3, 17, 17))
    assert isinstance(model.data_bn, torch.nn.BatchNorm1d) and model.data_bn.num_features == 17 * 3
    plain = STGCN(base_channels=8, edge_importance=False, data_bn_type="MVC", num_person=2)
    assert all(block.edge_importance is None for block in plain.blocks)
    assert plain.data_bn.num_features == 2 * 17 * 3
    with pytest.raises(ValueError, match="in_channels=3"):
        model(torch.randn(1, 2, 48, 17, 2))


def test_stgcn_gradients_reach_every_parameter_including_edge_importance():
    torch.manual_seed(0)
    model = RecognizerGCN(STGCN(base_channels=8), GCNHead(num_classes=3, in_channels=32))
    inputs = torch.randn(2, 1, 2, 16, 17, 3)
    samples = [DataSample(gt_label=LabelData(label=torch.tensor([i]))) for i in (0, 2)]
    losses = model.loss(inputs, samples)
    losses["loss_cls"].backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name
    importance = model.backbone.blocks[3].edge_importance.grad
    adjacency = model.backbone.A
    # only entries on graph edges (and self links) matter
    assert (importance[adjacency == 0] == 0).all()


def test_stgcn_recognizer_predicts_probabilities():
    torch.manual_seed(0)
    backbone = STGCN(graph_cfg=dict(layout="coco", mode="stgcn_spatial"), base_channels=8)
    model = RecognizerGCN(backbone, GCNHead(num_classes=5, in_channels=32)).eval()
    samples = model.predict(torch.randn(2, 1, 2, 8, 17, 3))
    assert samples[0].pred_label.score.shape == (5,)
    assert samples[0].pred_label.score.sum().item() == pytest.approx(1.0, abs=1e-5)
    assert samples[0].pred_label.label.shape == (1,)


def test_onnx_stgcn_recognizer(tmp_path):
    torch.manual_seed(0)
    model = RecognizerGCN(STGCN(base_channels=8), GCNHead(3, 32))
    for onnx_scores, eager in onnx_and_eager_scores(
        model, [torch.randn(1, 2, 2, 16, 17, 3), torch.randn(2, 2, 2, 16, 17, 3)], tmp_path
    ):
        np.testing.assert_allclose(onnx_scores, eager, atol=1e-4)
