"""The gated attention unit of RTMPose's coordinate-classification head (``RTMCCBlock``) and its parts.

RTMPose (Jiang et al., "RTMPose: Real-Time Multi-Person Pose Estimation based on MMPose", 2023, section
3.2) refines the K keypoint tokens with one Gated Attention Unit (Hua et al., "Transformer Quality in
Linear Time", ICML 2022): a single-head self-attention whose scores are squared ReLUs (no softmax) and
whose output gates a value branch elementwise. With ``x`` the (B, K, C) tokens and ``e = C *
expansion_factor``:

    u, v, z = split(act(W_uv ScaleNorm(x)), [e, e, s])      # act = SiLU in the published configs
    q, k    = z * gamma_q + beta_q, z * gamma_k + beta_k     # per-dimension scale and offset
    A       = relu(q k^T / sqrt(s)) ** 2                    # (B, K, K), no normalisation over keys
    out     = res_scale * x + W_o (u * (A v))               # when C_in == C_out

The formulas (including RTMPose's departures from the paper: attention not divided by the token count,
a learnt per-channel scale on the shortcut) and the parameter names are those of MMPose's
``rtmcc_block.py``, so published RTMPose head weights load key for key.
"""

from __future__ import annotations

import math

import torch
import torch.nn.functional as F
from torch import nn

from ....models.layers import DropPath

__all__ = ["RTMCCBlock", "Scale", "ScaleNorm", "rotary_embedding"]

_ACTIVATIONS = {"SiLU": nn.SiLU, "ReLU": nn.ReLU}


class ScaleNorm(nn.Module):
    """Scale normalisation (Nguyen and Salazar, "Transformers without Tears", 2019, section 2.3):
    ``g * x / max(||x|| / sqrt(dim), eps)`` over the last axis, with one learnt scalar ``g``.

    Args:
        dim: size of the last axis (the norm is divided by ``sqrt(dim)``, an RMS norm).
        eps: lower bound of the divisor.
    """

    def __init__(self, dim: int, eps: float = 1e-5) -> None:
        super().__init__()
        self.scale = dim**-0.5
        self.eps = eps
        self.g = nn.Parameter(torch.ones(1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., dim) -> (..., dim)."""
        norm = torch.linalg.vector_norm(x, dim=-1, keepdim=True) * self.scale
        return x / norm.clamp(min=self.eps) * self.g


class Scale(nn.Module):
    """A learnt per-channel multiplier ``x * scale`` (``scale`` (dim,), starting at ``init_value``)."""

    def __init__(self, dim: int, init_value: float = 1.0) -> None:
        super().__init__()
        self.scale = nn.Parameter(torch.full((dim,), float(init_value)))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(..., dim) -> (..., dim)."""
        return x * self.scale


def rotary_embedding(x: torch.Tensor, token_dim: int = 1) -> torch.Tensor:
    """Rotary position embedding (Su et al., "RoFormer", 2021) along ``token_dim``, as MMPose's ``rope``.

    The last axis is split into halves ``(a, b)``; pair ``(a_m, b_m)`` of the token at position ``p`` is
    turned by the angle ``p * 10000 ** (m / half)`` (MMPose's frequencies, which grow with ``m``), so
    the dot product of two embedded vectors depends on their positions only through the difference.

    Args:
        x: (..., N, ..., D) with the N tokens on axis ``token_dim`` and an even D.
        token_dim: the token axis (non-negative, before the last axis).

    Returns:
        A tensor of the shape of ``x``.
    """
    if x.shape[-1] % 2:
        raise ValueError(f"rotary_embedding: the last axis must be even, got shape {tuple(x.shape)}")
    if not 0 <= token_dim < x.ndim - 1:
        raise ValueError(f"rotary_embedding: token_dim must be in [0, {x.ndim - 2}], got {token_dim}")
    half = x.shape[-1] // 2
    position = torch.arange(x.shape[token_dim], device=x.device, dtype=x.dtype)
    position = position.reshape([-1] + [1] * (x.ndim - token_dim - 1))
    frequency = 10000.0 ** (torch.arange(half, device=x.device, dtype=x.dtype) / half)
    angle = position * frequency  # (N, 1, ..., half)
    sin, cos = torch.sin(angle), torch.cos(angle)
    first, second = x[..., :half], x[..., half:]
    return torch.cat([first * cos - second * sin, second * cos + first * sin], dim=-1)


class RTMCCBlock(nn.Module):
    """Gated attention unit over a fixed number of tokens (self-attention; RTMPose's head block).

    Args:
        num_token: N, the number of tokens (keypoints); sizes the relative position bias.
        in_token_dims: C_in of each token.
        out_token_dims: C_out; with ``C_in == C_out`` the block is residual (``res_scale * x + ...``).
        expansion_factor: ``e = int(C_in * expansion_factor)``, the width of ``u`` and ``v``.
        s: width of the shared query/key base ``z``.
        eps: ``ScaleNorm``'s lower bound.
        dropout_rate: dropout on the attention matrix.
        drop_path: stochastic depth of the attention branch.
        act_fn: ``"SiLU"`` or ``"ReLU"`` after the ``uv`` projection.
        bias: biases in the ``uv`` and ``o`` projections.
        use_rel_bias: add a learnt Toeplitz bias ``w[j - i + N - 1]`` to the scores ``q_i . k_j``
            (the paper's relative position bias; off in RTMPose's configs).
        pos_enc: rotary position embedding of the query/key base (off in RTMPose's configs).

    Shapes:
        (B, N, C_in) -> (B, N, C_out).
    """

    def __init__(
        self,
        num_token: int,
        in_token_dims: int,
        out_token_dims: int,
        expansion_factor: float = 2,
        s: int = 128,
        eps: float = 1e-5,
        dropout_rate: float = 0.0,
        drop_path: float = 0.0,
        act_fn: str = "SiLU",
        bias: bool = False,
        use_rel_bias: bool = True,
        pos_enc: bool = False,
    ) -> None:
        super().__init__()
        if act_fn not in _ACTIVATIONS:
            raise ValueError(f"RTMCCBlock: act_fn must be one of {sorted(_ACTIVATIONS)}, got {act_fn!r}")
        self.s = s
        self.num_token = num_token
        self.use_rel_bias = use_rel_bias
        self.pos_enc = pos_enc
        self.drop_path = DropPath(drop_path) if drop_path > 0.0 else nn.Identity()
        self.e = int(in_token_dims * expansion_factor)
        if use_rel_bias:
            self.w = nn.Parameter(torch.rand(2 * num_token - 1))
        self.o = nn.Linear(self.e, out_token_dims, bias=bias)
        self.uv = nn.Linear(in_token_dims, 2 * self.e + s, bias=bias)
        # rows: (query, key); uniform [0, 1) starts as in MMPose
        self.gamma = nn.Parameter(torch.rand(2, s))
        self.beta = nn.Parameter(torch.rand(2, s))
        self.ln = ScaleNorm(in_token_dims, eps=eps)
        nn.init.xavier_uniform_(self.uv.weight)
        self.act_fn = _ACTIVATIONS[act_fn]()
        self.shortcut = in_token_dims == out_token_dims
        if self.shortcut:
            self.res_scale = Scale(in_token_dims)
        self.sqrt_s = math.sqrt(s)
        self.dropout = nn.Dropout(dropout_rate) if dropout_rate > 0.0 else nn.Identity()

    def relative_position_bias(self, num_tokens: int) -> torch.Tensor:
        """(N, N) bias with entry ``[i, j] = w[j - i + N - 1]`` (a Toeplitz matrix of the learnt ``w``)."""
        index = torch.arange(num_tokens, device=self.w.device)
        return self.w[index[None, :] - index[:, None] + num_tokens - 1]

    def attention_branch(self, x: torch.Tensor) -> torch.Tensor:
        """The gated attention (without the shortcut): (B, N, C_in) -> (B, N, C_out)."""
        u, v, base = torch.split(self.act_fn(self.uv(self.ln(x))), [self.e, self.e, self.s], dim=-1)
        base = base.unsqueeze(2) * self.gamma + self.beta  # (B, N, 2, s)
        if self.pos_enc:
            base = rotary_embedding(base, token_dim=1)
        query, key = torch.unbind(base, dim=2)
        scores = torch.bmm(query, key.transpose(1, 2))  # (B, N, N)
        if self.use_rel_bias:
            scores = scores + self.relative_position_bias(query.shape[1])
        kernel = self.dropout(torch.square(F.relu(scores / self.sqrt_s)))
        return self.o(u * torch.bmm(kernel, v))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(B, N, C_in) -> (B, N, C_out)."""
        out = self.drop_path(self.attention_branch(x))
        return self.res_scale(x) + out if self.shortcut else out
