"""Skeleton graphs and their adjacency partitions for ST-GCN.

A layout is a set of joints (nodes), the bones between them (undirected edges, listed once each as
``(child, parent)``, the child farther from the centre) and a centre joint. From it, :class:`Graph`
builds the stack of K adjacency matrices ``A`` (K, V, V) that a graph convolution sums over
(Yan et al., "Spatial Temporal Graph Convolutional Networks for Skeleton-Based Action
Recognition", AAAI 2018, section 3.6 "Partition strategies"):

- ``"uniform"``: K = 1, every joint within ``max_hop`` hops (itself included) in one subset;
- ``"distance"``: K = max_hop + 1, one subset per hop distance (0 = the joint itself);
- ``"spatial"``: the paper's partition by distance to the centre joint. Subset 0 is the root (the
  joint itself); for each hop h >= 1 the neighbours at that hop split in two: those at least as far
  from the centre as the root (centrifugal and the same ring) and those nearer to it
  (centripetal). With ``max_hop=1``, K = 3. The distance to the centre is the graph's true hop
  distance, as the paper defines it.
- ``"stgcn_spatial"``: the same partition as the published code computes it (the authors'
  ``st-gcn`` repository and MMAction2's ``stgcn_spatial``): there the distance to the centre is
  cut at ``max_hop`` (``inf`` beyond), so all joints farther than ``max_hop`` from the centre count
  as equally far and their bones fall in the centrifugal subset both ways. Use it to reproduce
  those models; the partitions agree wherever every joint is within ``max_hop`` of the centre.

Convention: ``A[k, v, w]`` is the weight with which joint ``v`` sends its feature to joint ``w``
(the graph convolution computes ``out[..., w] = sum_k sum_v x_k[..., v] A[k, v, w]``). Each
subset keeps the entries of the normalised adjacency ``A_hat D^-1`` with ``D`` the column sums
(the in-degree of the receiving joint, itself counted), so that a joint averages over its
neighbourhood.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

# name -> (number of joints, bones as (child, parent) 0-based, centre joint). The edge lists are
# those of MMAction2's ``Graph`` layouts (COCO-17 keypoints, OpenPose-18, NTU RGB+D 25 joints).
_NTU_BONES_1_BASED = (
    (1, 2), (2, 21), (3, 21), (4, 3), (5, 21), (6, 5), (7, 6), (8, 7), (9, 21), (10, 9), (11, 10),
    (12, 11), (13, 1), (14, 13), (15, 14), (16, 15), (17, 1), (18, 17), (19, 18), (20, 19),
    (22, 8), (23, 8), (24, 12), (25, 12),
)  # fmt: skip
LAYOUTS: dict[str, tuple[int, tuple[tuple[int, int], ...], int]] = {
    "coco": (
        17,
        (
            (15, 13),
            (13, 11),
            (16, 14),
            (14, 12),
            (11, 5),
            (12, 6),
            (9, 7),
            (7, 5),
            (10, 8),
            (8, 6),
            (5, 0),
            (6, 0),
            (1, 0),
            (3, 1),
            (2, 0),
            (4, 2),
        ),  # fmt: skip
        0,
    ),
    "openpose": (
        18,
        (
            (4, 3),
            (3, 2),
            (7, 6),
            (6, 5),
            (13, 12),
            (12, 11),
            (10, 9),
            (9, 8),
            (11, 5),
            (8, 2),
            (5, 1),
            (2, 1),
            (0, 1),
            (15, 0),
            (14, 0),
            (17, 15),
            (16, 14),
        ),  # fmt: skip
        1,
    ),
    "nturgb+d": (25, tuple((a - 1, b - 1) for a, b in _NTU_BONES_1_BASED), 20),
}
# (MMAction2's own "spatial" mode is another partition: identity, inward and outward bones)
MODES = ("spatial", "stgcn_spatial", "uniform", "distance")


def hop_distance(num_node: int, edges: Sequence[tuple[int, int]], max_hop: int) -> np.ndarray:
    """Hop distances (V, V) between joints; ``inf`` beyond ``max_hop``.

    Reachability in exactly-at-most ``d`` steps is read from powers of ``I + adjacency``.
    """
    adjacency = np.eye(num_node)
    for i, j in edges:
        adjacency[i, j] = adjacency[j, i] = 1
    distance = np.full((num_node, num_node), np.inf)
    reach = np.eye(num_node)
    for hop in range(max_hop + 1):
        distance[(reach > 0) & np.isinf(distance)] = hop
        reach = reach @ adjacency
    return distance


def normalize_digraph(adjacency: np.ndarray) -> np.ndarray:
    """``adjacency @ D^-1`` with ``D`` the diagonal of column sums (zero columns stay zero)."""
    column_sums = adjacency.sum(axis=0)
    inverse = np.zeros_like(column_sums, dtype=np.float64)
    inverse[column_sums > 0] = 1.0 / column_sums[column_sums > 0]
    return adjacency * inverse[None, :]


class Graph:
    """The adjacency stack of a skeleton layout under a partition strategy.

    Args:
        layout: ``"coco"`` (17 joints, centre = nose), ``"openpose"`` (18, neck), ``"nturgb+d"``
            (25, spine), or a mapping with ``num_node``, ``inward`` (edges) and ``center``.
        mode: ``"spatial"``, ``"stgcn_spatial"``, ``"uniform"`` or ``"distance"`` (see the module
            docstring).
        max_hop: neighbourhood radius in hops.

    Attributes:
        num_node: V. edges: the bones. center: the centre joint. hop_dis: (V, V) hop distances.
        A: (K, V, V) float32 adjacency stack.
    """

    def __init__(
        self, layout: str | Mapping[str, Any] = "coco", mode: str = "spatial", max_hop: int = 1
    ) -> None:
        self.num_node, self.edges, self.center = _read_layout(layout)
        if mode not in MODES:
            raise ValueError(f"Graph: mode must be one of {MODES}, got {mode!r}")
        if max_hop < 1:
            raise ValueError(f"Graph: max_hop must be >= 1, got {max_hop}")
        self.mode = mode
        self.max_hop = max_hop
        self.hop_dis = hop_distance(self.num_node, self.edges, max_hop)
        build = {
            "spatial": lambda: self._spatial(hop_distance(self.num_node, self.edges, self.num_node)),
            "stgcn_spatial": lambda: self._spatial(self.hop_dis),
            "uniform": self._uniform,
            "distance": self._distance,
        }[mode]
        self.A = build().astype(np.float32)

    @property
    def num_subsets(self) -> int:
        return self.A.shape[0]

    def _normalized_neighbourhood(self) -> np.ndarray:
        return normalize_digraph((self.hop_dis <= self.max_hop).astype(np.float64))

    def _uniform(self) -> np.ndarray:
        return self._normalized_neighbourhood()[None]

    def _distance(self) -> np.ndarray:
        normalized = self._normalized_neighbourhood()
        return np.stack([normalized * (self.hop_dis == hop) for hop in range(self.max_hop + 1)])

    def _spatial(self, distances: np.ndarray) -> np.ndarray:
        """The root / centripetal / centrifugal split, with distances to the centre from ``distances``."""
        normalized = self._normalized_neighbourhood()
        to_center = distances[:, self.center]
        # sender v, receiver w: is v at least as far from the centre as w?
        not_nearer = to_center[:, None] >= to_center[None, :]
        subsets = []
        for hop in range(self.max_hop + 1):
            at_hop = self.hop_dis == hop
            subsets.append(normalized * (at_hop & not_nearer))
            if hop > 0:
                subsets.append(normalized * (at_hop & ~not_nearer))
        return np.stack(subsets)


def _read_layout(layout: str | Mapping[str, Any]) -> tuple[int, tuple[tuple[int, int], ...], int]:
    if isinstance(layout, Mapping):
        missing = {"num_node", "inward", "center"} - set(layout)
        if missing:
            raise ValueError(
                f"Graph: a layout mapping needs num_node, inward and center; missing {sorted(missing)}"
            )
        num_node = int(layout["num_node"])
        edges = tuple((int(a), int(b)) for a, b in layout["inward"])
        center = int(layout["center"])
    elif layout in LAYOUTS:
        num_node, edges, center = LAYOUTS[layout]
    else:
        raise ValueError(f"Graph: layout must be one of {sorted(LAYOUTS)} or a mapping, got {layout!r}")
    bad = [edge for edge in edges if not all(0 <= node < num_node for node in edge)]
    if bad or not 0 <= center < num_node:
        raise ValueError(f"Graph: edges {bad} or center {center} outside the {num_node} joints")
    return num_node, edges, center
