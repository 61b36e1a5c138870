"""RTMPose's gated attention unit (``RTMCCBlock``) against a float64 token-by-token reference, and the rotary
position embedding."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from visionstack.tasks.pose.models import RTMCCBlock, rotary_embedding


def rotate(vector: torch.Tensor, angle: torch.Tensor) -> torch.Tensor:
    """The rotary embedding of one token's vector: pairs (first half, second half) turned by ``angle``."""
    half = len(vector) // 2
    first, second = vector[:half], vector[half:]
    return torch.cat([first * angle.cos() - second * angle.sin(), second * angle.cos() + first * angle.sin()])


def gau_reference(block: RTMCCBlock, x: torch.Tensor) -> torch.Tensor:
    """The block's formulas written token by token (float64)."""
    p = {name: value.detach().double() for name, value in block.named_parameters()}
    act = torch.nn.functional.silu if isinstance(block.act_fn, nn.SiLU) else torch.relu
    batch, tokens, dims = x.shape
    out = []
    for b in range(batch):
        queries, keys, us, vs = [], [], [], []
        for i in range(tokens):
            token = x[b, i]
            normed = token / max(token.norm().item() / math.sqrt(dims), block.ln.eps) * p["ln.g"]
            uv = act(p["uv.weight"] @ normed)
            u, v, z = uv[: block.e], uv[block.e : 2 * block.e], uv[2 * block.e :]
            q, k = z * p["gamma"][0] + p["beta"][0], z * p["gamma"][1] + p["beta"][1]
            if block.pos_enc:
                half = block.s // 2
                angle = torch.tensor([i * 10000.0 ** (m / half) for m in range(half)], dtype=torch.float64)
                q, k = rotate(q, angle), rotate(k, angle)
            queries.append(q), keys.append(k), us.append(u), vs.append(v)
        rows = []
        for i in range(tokens):
            mixed = torch.zeros(block.e, dtype=torch.float64)
            for j in range(tokens):
                score = queries[i] @ keys[j] + (p["w"][j - i + tokens - 1] if block.use_rel_bias else 0.0)
                mixed += torch.relu(score / math.sqrt(block.s)) ** 2 * vs[j]
            row = p["o.weight"] @ (us[i] * mixed)
            rows.append(row + x[b, i] * p["res_scale.scale"] if block.shortcut else row)
        out.append(torch.stack(rows))
    return torch.stack(out)


@pytest.mark.parametrize(
    "use_rel_bias, pos_enc, act_fn, out_dims",
    [(False, False, "SiLU", 12), (True, True, "ReLU", 12), (False, True, "SiLU", 7)],
)
def test_gau_equals_loop_reference(use_rel_bias, pos_enc, act_fn, out_dims):
    torch.manual_seed(0)
    block = RTMCCBlock(
        5, 12, out_dims, expansion_factor=2, s=6, act_fn=act_fn, use_rel_bias=use_rel_bias, pos_enc=pos_enc
    )
    if block.shortcut:
        nn.init.uniform_(block.res_scale.scale, 0.5, 1.5)
    block = block.double().eval()
    x = torch.randn(2, 5, 12, dtype=torch.float64)
    torch.testing.assert_close(block(x), gau_reference(block, x), rtol=1e-10, atol=1e-12)


def test_rotary_embedding_scores_depend_on_the_offset_only():
    torch.manual_seed(0)
    q, k = torch.randn(8), torch.randn(8)
    rq = rotary_embedding(q.expand(1, 6, 8).contiguous())[0]
    rk = rotary_embedding(k.expand(1, 6, 8).contiguous())[0]
    scores = rq @ rk.T
    for offset in range(-5, 6):
        diagonal = torch.diagonal(scores, offset)
        torch.testing.assert_close(diagonal, diagonal[:1].expand_as(diagonal), rtol=1e-5, atol=1e-5)
    torch.testing.assert_close(rq.norm(dim=-1), q.norm().expand(6))
