"""Vision Transformer (Dosovitskiy et al., "An Image is Worth 16x16 Words", ICLR 2021).

Parameter names follow timm's ``vit_*`` (``cls_token``, ``pos_embed``, ``patch_embed.proj``,
``blocks.{i}.norm1``/``attn.qkv``/``attn.proj``/``norm2``/``mlp.fc1``/``mlp.fc2``, ``norm``), so timm
backbone weights load with ``load_state_dict`` (its ``head.*`` belongs in a classification head).
A checkpoint whose ``pos_embed`` was trained on another grid is resized on load (bicubic), as is
the position embedding at run time when the input size differs from ``img_size`` (section 3.2).
"""

from __future__ import annotations

import math
from collections.abc import Callable, Mapping, Sequence
from functools import partial
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ...registry import MODELS
from ..layers import DropPath, Mlp, init_by_type, linear_drop_path_rates, trunc_normal_init
from ._freezing import FreezingTrainMixin, freeze_modules, normalize_out_indices

NormLayer = Callable[[int], nn.Module]
OutType = Literal["cls_token", "featmap", "avg_featmap", "raw"]

# arch -> widths from Table 1 of the paper (Base/Large) and DeiT (Tiny/Small).
VIT_ARCHS: dict[str, dict[str, int]] = {
    "tiny": {"embed_dims": 192, "num_layers": 12, "num_heads": 3},
    "small": {"embed_dims": 384, "num_layers": 12, "num_heads": 6},
    "base": {"embed_dims": 768, "num_layers": 12, "num_heads": 12},
    "large": {"embed_dims": 1024, "num_layers": 24, "num_heads": 16},
}


def resize_pos_embed(
    pos_embed: torch.Tensor,
    src_grid: tuple[int, int],
    dst_grid: tuple[int, int],
    num_extra_tokens: int = 1,
    mode: str = "bicubic",
) -> torch.Tensor:
    """Interpolate the patch part of a position embedding to another grid.

    Args:
        pos_embed: (1, num_extra_tokens + src_h * src_w, D); extra tokens (cls) come first and are
            kept as they are.
        src_grid: (src_h, src_w) the embedding was made for.
        dst_grid: (dst_h, dst_w) wanted.
        num_extra_tokens: leading tokens that are not on the grid.
        mode: ``F.interpolate`` mode.

    Returns:
        (1, num_extra_tokens + dst_h * dst_w, D).
    """
    if tuple(src_grid) == tuple(dst_grid):
        return pos_embed
    expected = num_extra_tokens + src_grid[0] * src_grid[1]
    if pos_embed.shape[1] != expected:
        raise ValueError(
            f"resize_pos_embed: pos_embed has {pos_embed.shape[1]} tokens, expected {expected} for grid "
            f"{tuple(src_grid)} with {num_extra_tokens} extra tokens"
        )
    extra, grid = pos_embed[:, :num_extra_tokens], pos_embed[:, num_extra_tokens:]
    grid = grid.reshape(1, src_grid[0], src_grid[1], -1).permute(0, 3, 1, 2)
    grid = F.interpolate(grid.float(), size=tuple(dst_grid), mode=mode, align_corners=False).to(
        pos_embed.dtype
    )
    return torch.cat([extra, grid.flatten(2).transpose(1, 2)], dim=1)


class Attention(nn.Module):
    """Multi-head self-attention through ``F.scaled_dot_product_attention``.

    Args:
        dim: token width D (split into ``num_heads`` heads of D / num_heads).
        num_heads: number of heads.
        qkv_bias: bias on the query/key/value projection.
        attn_drop: dropout on the attention weights (training only).
        proj_drop: dropout after the output projection.

    Shapes:
        (N, L, D) -> (N, L, D).
    """

    def __init__(
        self, dim: int, num_heads: int, qkv_bias: bool = True, attn_drop: float = 0.0, proj_drop: float = 0.0
    ) -> None:
        super().__init__()
        if dim % num_heads:
            raise ValueError(f"Attention: width {dim} is not divisible by num_heads={num_heads}")
        self.num_heads = num_heads
        self.qkv = nn.Linear(dim, dim * 3, bias=qkv_bias)
        self.attn_drop = attn_drop
        self.proj = nn.Linear(dim, dim)
        self.proj_drop = nn.Dropout(proj_drop)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        batch, length, dim = x.shape
        qkv = self.qkv(x).reshape(batch, length, 3, self.num_heads, dim // self.num_heads)
        query, key, value = qkv.permute(2, 0, 3, 1, 4).unbind(0)  # each (N, heads, L, D / heads)
        dropout = self.attn_drop if self.training else 0.0
        out = F.scaled_dot_product_attention(query, key, value, dropout_p=dropout)
        return self.proj_drop(self.proj(out.transpose(1, 2).reshape(batch, length, dim)))


class TransformerBlock(nn.Module):
    """Pre-norm block: ``x + attn(norm1(x))`` then ``x + mlp(norm2(x))``, with drop path."""

    def __init__(
        self,
        dim: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        norm_layer: NormLayer = partial(nn.LayerNorm, eps=1e-6),
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(dim)
        self.attn = Attention(dim, num_heads, qkv_bias, attn_drop, drop)
        self.norm2 = norm_layer(dim)
        self.mlp = Mlp(dim, int(dim * mlp_ratio), drop=drop)
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = x + self.drop_path(self.attn(self.norm1(x)))
        return x + self.drop_path(self.mlp(self.norm2(x)))


class PatchEmbed(nn.Module):
    """Non-overlapping ``patch_size`` patches projected to D by a strided conv.

    Shapes:
        (N, C, H, W) -> (N, H/p * W/p, D) tokens in row-major order, and the grid (H/p, W/p).
    """

    def __init__(self, in_channels: int, embed_dims: int, patch_size: int) -> None:
        super().__init__()
        self.patch_size = patch_size
        self.proj = nn.Conv2d(in_channels, embed_dims, kernel_size=patch_size, stride=patch_size)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        height, width = x.shape[-2:]
        if height % self.patch_size or width % self.patch_size:
            raise ValueError(
                f"VisionTransformer: input size {height}x{width} is not a multiple of patch_size="
                f"{self.patch_size}; resize the images or pad them (DataPreprocessor pad_size_divisor)"
            )
        x = self.proj(x)
        return x.flatten(2).transpose(1, 2), (x.shape[2], x.shape[3])


@MODELS.register()
class VisionTransformer(FreezingTrainMixin, nn.Module):
    """ViT backbone: patch embedding, a class token, learned position embeddings, pre-norm blocks.

    Args:
        arch: ``"tiny"``, ``"small"``, ``"base"``, ``"large"`` or a dict with ``embed_dims``,
            ``num_layers``, ``num_heads`` (and optionally ``mlp_ratio``, default 4).
        img_size: training size (int or (h, w)); sets the position-embedding grid.
        patch_size: side of the square patches.
        in_channels: channels of the input images.
        out_indices: blocks (0..num_layers-1, negative from the end) whose outputs are returned.
        out_type: ``"cls_token"`` (N, D); ``"featmap"`` patch tokens as (N, D, h, w);
            ``"avg_featmap"`` mean of the patch tokens (N, D); ``"raw"`` all tokens (N, 1 + h*w, D).
        qkv_bias: bias on the attention's query/key/value projection.
        drop_rate: dropout after the position embedding, in the MLPs and attention projections.
        attn_drop_rate: dropout on attention weights.
        drop_path_rate: stochastic depth of the last block (linear from 0 over blocks).
        final_norm: apply the final LayerNorm (``norm``) to the last block's output.
        norm_layer: factory for the LayerNorms (eps 1e-6 by default, as timm).
        frozen_stages: -1 freezes nothing; 0 freezes the patch/position embeddings and class
            token; ``k`` also freezes blocks ``0..k-1`` (and ``norm`` when ``k == num_layers``).

    Attributes:
        out_channels: D for each returned output.

    Shapes:
        input (N, in_channels, H, W) with H, W multiples of ``patch_size`` -> tuple of outputs
        shaped by ``out_type``. The class token is first in the sequence.
    """

    num_extra_tokens = 1

    def __init__(
        self,
        arch: str | Mapping[str, Any] = "base",
        img_size: int | Sequence[int] = 224,
        patch_size: int = 16,
        in_channels: int = 3,
        out_indices: Sequence[int] = (-1,),
        out_type: OutType = "cls_token",
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        final_norm: bool = True,
        norm_layer: NormLayer = partial(nn.LayerNorm, eps=1e-6),
        frozen_stages: int = -1,
    ) -> None:
        super().__init__()
        settings = _resolve_arch(arch)
        dims, num_layers = settings["embed_dims"], settings["num_layers"]
        if out_type not in ("cls_token", "featmap", "avg_featmap", "raw"):
            raise ValueError(f"VisionTransformer: unknown out_type {out_type!r}")
        img_size = (img_size, img_size) if isinstance(img_size, int) else tuple(img_size)
        if img_size[0] % patch_size or img_size[1] % patch_size:
            raise ValueError(
                f"VisionTransformer: img_size {img_size} is not a multiple of patch_size={patch_size}"
            )
        self.patch_grid = (img_size[0] // patch_size, img_size[1] // patch_size)
        self.embed_dims = dims
        self.out_type = out_type
        self.out_indices = normalize_out_indices(out_indices, num_layers, "VisionTransformer")
        self.frozen_stages = frozen_stages
        self.out_channels = (dims,) * len(self.out_indices)

        self.patch_embed = PatchEmbed(in_channels, dims, patch_size)
        self.cls_token = nn.Parameter(torch.zeros(1, 1, dims))
        self.pos_embed = nn.Parameter(
            torch.zeros(1, self.num_extra_tokens + math.prod(self.patch_grid), dims)
        )
        self.drop_after_pos = nn.Dropout(drop_rate)
        rates = linear_drop_path_rates(drop_path_rate, num_layers)
        self.blocks = nn.Sequential(
            *(
                TransformerBlock(
                    dims,
                    settings["num_heads"],
                    settings.get("mlp_ratio", 4.0),
                    qkv_bias,
                    drop_rate,
                    attn_drop_rate,
                    rates[index],
                    norm_layer,
                )
                for index in range(num_layers)
            )
        )
        self.norm = norm_layer(dims) if final_norm else nn.Identity()
        self._init_weights()
        self.register_load_state_dict_pre_hook(_resize_pos_embed_on_load)
        self._freeze_stages()

    def _init_weights(self) -> None:
        nn.init.trunc_normal_(self.pos_embed, std=0.02)
        nn.init.trunc_normal_(self.cls_token, std=0.02)
        init_by_type(self.blocks, [(nn.Linear, partial(trunc_normal_init, std=0.02))])

    def _freeze_stages(self) -> None:
        if self.frozen_stages < 0:
            return
        freeze_modules([self.patch_embed])
        self.cls_token.requires_grad = False
        self.pos_embed.requires_grad = False
        freeze_modules(self.blocks[: self.frozen_stages])
        if self.frozen_stages >= len(self.blocks):
            freeze_modules([self.norm])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(N, C, H, W) -> tuple with one output per entry of ``out_indices`` (see ``out_type``)."""
        tokens, grid = self.patch_embed(x)
        pos_embed = resize_pos_embed(self.pos_embed, self.patch_grid, grid, self.num_extra_tokens)
        cls_tokens = self.cls_token.expand(tokens.shape[0], -1, -1)
        tokens = self.drop_after_pos(torch.cat([cls_tokens, tokens], dim=1) + pos_embed)
        outs = []
        last = len(self.blocks) - 1
        for index, block in enumerate(self.blocks):
            tokens = block(tokens)
            if index == last:
                tokens = self.norm(tokens)
            if index in self.out_indices:
                outs.append(self._format_output(tokens, grid))
        return tuple(outs)

    def _format_output(self, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        if self.out_type == "raw":
            return tokens
        if self.out_type == "cls_token":
            return tokens[:, 0]
        patches = tokens[:, self.num_extra_tokens :]
        if self.out_type == "avg_featmap":
            return patches.mean(dim=1)
        return patches.transpose(1, 2).reshape(tokens.shape[0], -1, *grid)


def _resize_pos_embed_on_load(module: VisionTransformer, state_dict: dict, prefix: str, *args: Any) -> None:
    """Load-state-dict pre-hook: bring a checkpoint's square ``pos_embed`` grid to ours."""
    key = prefix + "pos_embed"
    if key not in state_dict or state_dict[key].shape == module.pos_embed.shape:
        return
    checkpoint_embed = state_dict[key]
    num_patches = checkpoint_embed.shape[1] - module.num_extra_tokens
    side = math.isqrt(num_patches)
    if side * side != num_patches or checkpoint_embed.shape[2] != module.embed_dims:
        raise ValueError(
            f"VisionTransformer: checkpoint {key} has shape {tuple(checkpoint_embed.shape)}; expected a square "
            f"grid of width {module.embed_dims} plus {module.num_extra_tokens} class token"
        )
    state_dict[key] = resize_pos_embed(
        checkpoint_embed, (side, side), module.patch_grid, module.num_extra_tokens
    )


def _resolve_arch(arch: str | Mapping[str, Any]) -> dict[str, Any]:
    if isinstance(arch, str):
        if arch not in VIT_ARCHS:
            raise ValueError(
                f"VisionTransformer: unknown arch {arch!r}; choose one of {sorted(VIT_ARCHS)} or a dict"
            )
        return dict(VIT_ARCHS[arch])
    required = {"embed_dims", "num_layers", "num_heads"}
    if not required <= set(arch) or not set(arch) <= required | {"mlp_ratio"}:
        raise ValueError(
            f"VisionTransformer: an arch dict needs keys {sorted(required)} (and optionally 'mlp_ratio'), "
            f"got {sorted(arch)}"
        )
    return dict(arch)
