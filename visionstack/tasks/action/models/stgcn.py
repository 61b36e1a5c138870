"""ST-GCN: spatial temporal graph convolutional network (Yan et al., AAAI 2018).

A stack of blocks, each a graph convolution over the joints of every frame (K adjacency subsets of
:class:`~.graph.Graph`, each with its own 1x1 weights), then a temporal convolution (kernel 9) over
each joint's sequence, with batch norms, ReLU and a residual connection. Every block multiplies the
fixed adjacency by a learnable edge-importance mask (section 3.6 of the paper), initialised to ones.
A batch norm over the raw coordinates ("data BN") comes first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ....registry import MODELS
from .graph import Graph


class GraphConv(nn.Module):
    """Spatial graph convolution ``out_w = sum_k sum_v (W_k x_v) A[k, v, w]``.

    Args:
        in_channels: C_in. out_channels: C_out. num_subsets: K, the adjacency subsets.

    Shapes:
        x (N, C_in, T, V), adjacency (K, V, V) -> (N, C_out, T, V).
    """

    def __init__(self, in_channels: int, out_channels: int, num_subsets: int) -> None:
        super().__init__()
        self.num_subsets = num_subsets
        self.out_channels = out_channels
        self.conv = nn.Conv2d(in_channels, out_channels * num_subsets, kernel_size=1)

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        n, _, t, v = x.shape
        x = self.conv(x).reshape(n, self.num_subsets, self.out_channels, t, v)
        return torch.einsum("nkctv,kvw->nctw", x, adjacency)


class STGCNBlock(nn.Module):
    """Graph conv -> BN -> ReLU -> temporal conv (9, 1) -> BN (-> dropout), + residual, ReLU.

    Args:
        in_channels, out_channels: channels in and out.
        num_subsets: K of the adjacency stack.
        num_node: V, for the edge-importance mask.
        stride: temporal stride of the temporal convolution (and of the residual projection).
        residual: add the (projected when shapes change) input.
        edge_importance: learn a (K, V, V) mask multiplying the adjacency, initialised to ones.
        temporal_kernel: length of the temporal convolution (9 in the paper).
        dropout: dropout after the temporal convolution's norm (0 in MMAction2's configs).

    Shapes:
        x (N, C_in, T, V), adjacency (K, V, V) -> (N, C_out, ceil(T / stride), V).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        num_subsets: int,
        num_node: int,
        stride: int = 1,
        residual: bool = True,
        edge_importance: bool = True,
        temporal_kernel: int = 9,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.gcn = GraphConv(in_channels, out_channels, num_subsets)
        self.gcn_norm = nn.BatchNorm2d(out_channels)
        self.relu = nn.ReLU(inplace=True)
        padding = ((temporal_kernel - 1) // 2, 0)
        self.tcn = nn.Conv2d(out_channels, out_channels, (temporal_kernel, 1), (stride, 1), padding)
        self.tcn_norm = nn.BatchNorm2d(out_channels)
        self.dropout = nn.Dropout(dropout) if dropout > 0 else nn.Identity()
        self.residual: nn.Module | None
        if not residual:
            self.residual = None
        elif in_channels == out_channels and stride == 1:
            self.residual = nn.Identity()
        else:
            self.residual = nn.Sequential(
                nn.Conv2d(in_channels, out_channels, 1, (stride, 1)), nn.BatchNorm2d(out_channels)
            )
        self.edge_importance = (
            nn.Parameter(torch.ones(num_subsets, num_node, num_node)) if edge_importance else None
        )

    def forward(self, x: torch.Tensor, adjacency: torch.Tensor) -> torch.Tensor:
        if self.edge_importance is not None:
            adjacency = adjacency * self.edge_importance
        out = self.relu(self.gcn_norm(self.gcn(x, adjacency)))
        out = self.dropout(self.tcn_norm(self.tcn(out)))
        if self.residual is not None:
            out = out + self.residual(x)
        return self.relu(out)


@MODELS.register()
class STGCN(nn.Module):
    """The ST-GCN backbone.

    Block 1 maps ``in_channels`` to ``base_channels`` without a residual; blocks 2..num_stages keep
    the width except those in ``inflate_stages`` (1-based), which double it, and those in
    ``down_stages``, whose temporal stride is 2. The defaults are the paper's ten blocks: 64 x 4,
    128 x 3 (the first with stride 2), 256 x 3 (the first with stride 2).

    Args:
        graph_cfg: keyword arguments of :class:`~.graph.Graph` (``layout``, ``mode``, ``max_hop``).
        in_channels: C, the coordinates per joint (2 for (x, y), 3 with the score or for 3D).
        base_channels: width of the first block.
        num_stages: number of blocks.
        inflate_stages: blocks (1-based) that double the width.
        down_stages: blocks (1-based) with temporal stride 2.
        edge_importance: learnable edge-importance masks (one per block).
        data_bn_type: ``"VC"`` (a batch norm per joint and coordinate, shared by persons; the
            paper's), ``"MVC"`` (per person too) or None (no data BN).
        num_person: M, the persons per clip (for ``"MVC"``).
        dropout: dropout inside each block (after the temporal conv).

    Shapes:
        x (N, M, T, V, C) -> (N, M, C_out, T / 4, V) with the defaults (C_out = 4 * base_channels).
    """

    def __init__(
        self,
        graph_cfg: Mapping[str, Any] | None = None,
        in_channels: int = 3,
        base_channels: int = 64,
        num_stages: int = 10,
        inflate_stages: Sequence[int] = (5, 8),
        down_stages: Sequence[int] = (5, 8),
        edge_importance: bool = True,
        data_bn_type: str | None = "VC",
        num_person: int = 2,
        dropout: float = 0.0,
    ) -> None:
        super().__init__()
        self.graph = Graph(**dict(graph_cfg or {"layout": "coco", "mode": "spatial"}))
        adjacency = torch.from_numpy(self.graph.A)
        self.register_buffer("A", adjacency)
        num_subsets, num_node = adjacency.shape[0], adjacency.shape[1]
        self.in_channels = in_channels
        self.num_person = num_person
        if data_bn_type not in ("VC", "MVC", None):
            raise ValueError(f"STGCN: data_bn_type must be 'VC', 'MVC' or None, got {data_bn_type!r}")
        self.data_bn_type = data_bn_type
        bn_width = {"VC": in_channels * num_node, "MVC": num_person * in_channels * num_node}
        self.data_bn = nn.BatchNorm1d(bn_width[data_bn_type]) if data_bn_type else nn.Identity()

        common = {"num_subsets": num_subsets, "num_node": num_node, "edge_importance": edge_importance}
        blocks = [STGCNBlock(in_channels, base_channels, residual=False, dropout=dropout, **common)]
        width = base_channels
        for stage in range(2, num_stages + 1):
            out_width = width * 2 if stage in inflate_stages else width
            stride = 2 if stage in down_stages else 1
            blocks.append(STGCNBlock(width, out_width, stride=stride, dropout=dropout, **common))
            width = out_width
        self.blocks = nn.ModuleList(blocks)
        self.out_channels = width

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        if x.ndim != 5 or x.shape[-1] != self.in_channels or x.shape[-2] != self.graph.num_node:
            raise ValueError(
                f"STGCN: expected keypoints (N, M, T, {self.graph.num_node}, {self.in_channels}) "
                f"(graph_cfg layout with {self.graph.num_node} joints, in_channels={self.in_channels}), "
                f"got {tuple(x.shape)}"
            )
        n, m, t, v, c = x.shape
        x = x.permute(0, 1, 3, 4, 2)  # (N, M, V, C, T): the data BN normalises each (joint, coordinate)
        if self.data_bn_type == "MVC":
            x = self.data_bn(x.reshape(n, m * v * c, t))
        else:
            x = self.data_bn(x.reshape(n * m, v * c, t))
        x = x.reshape(n, m, v, c, t).permute(0, 1, 3, 4, 2).reshape(n * m, c, t, v)
        for block in self.blocks:
            x = block(x, self.A)
        return x.reshape(n, m, *x.shape[1:])
