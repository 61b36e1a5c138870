"""Mix Transformer (MiT), the encoder of SegFormer (Xie et al., "SegFormer: Simple and Efficient
Design for Semantic Segmentation with Transformers", NeurIPS 2021, section 3.1).

Four stages, each an *overlapping* patch embedding (a strided conv larger than its stride, so
neighbouring patches share pixels), a few transformer blocks and a LayerNorm. Two changes to the
ViT block make it cheap and resolution-free:

* efficient self-attention: keys and values come from the tokens shrunk by a conv with kernel =
  stride = ``sr_ratio`` (then LayerNorm), so attention costs O(N^2 / R^2) instead of O(N^2);
* Mix-FFN: a 3x3 depthwise conv between the two 1x1 layers of the MLP leaks enough zero-padding
  position information that no position embedding is needed, so any input size works.

Module and parameter names follow MMSegmentation's ``MixVisionTransformer``: ``layers.{i}.0`` is the
patch embedding (``projection``, ``norm``), ``layers.{i}.1.{j}`` the blocks (``norm1``,
``attn.attn.in_proj_weight`` ... of an ``nn.MultiheadAttention``, ``attn.sr``, ``attn.norm``,
``norm2``, ``ffn.layers.{0,1,4}``), ``layers.{i}.2`` the stage norm. A checkpoint converted for
MMSegmentation (``mit_b0.pth`` ...) therefore loads with :func:`load_mit_checkpoint`.
"""

from __future__ import annotations

import logging
import math
import os
from collections.abc import Callable, Mapping, Sequence
from functools import partial

import torch
from torch import nn

from ...registry import MODELS
from ..layers import (
    DropPath,
    constant_init,
    init_by_type,
    linear_drop_path_rates,
    normal_init,
    trunc_normal_init,
)
from ..pretrained import load_state_dict_strictly, read_state_dict
from ._freezing import FreezingTrainMixin, freeze_modules, normalize_out_indices

NormLayer = Callable[[int], nn.Module]
logger = logging.getLogger(__name__)


def tokens_to_map(tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
    """(N, h * w, C) row-major tokens -> (N, C, h, w) map."""
    return tokens.transpose(1, 2).reshape(tokens.shape[0], -1, *grid)


def map_to_tokens(feature_map: torch.Tensor) -> torch.Tensor:
    """(N, C, h, w) map -> (N, h * w, C) row-major tokens."""
    return feature_map.flatten(2).transpose(1, 2)


def _he_normal_init_per_group(conv: nn.Module) -> None:
    """Weight ~ N(0, 2 / fan_out) with fan_out = k * k * out / groups; zero bias."""
    fan_out = conv.kernel_size[0] * conv.kernel_size[1] * conv.out_channels // conv.groups
    normal_init(conv, std=math.sqrt(2.0 / fan_out))


class OverlapPatchEmbed(nn.Module):
    """Conv with kernel ``patch_size`` > stride and padding ``patch_size // 2``, then LayerNorm.

    Args:
        in_channels: channels of the input map.
        embed_dims: channels of the tokens.
        patch_size: conv kernel (7 for the first stage, 3 after).
        stride: conv stride (4 for the first stage, 2 after).
        norm_layer: factory of the LayerNorm.

    Shapes:
        (N, C_in, H, W) -> tokens (N, h * w, embed_dims) and the grid (h, w) with
        ``h = (H + 2 * (patch_size // 2) - patch_size) // stride + 1`` (= ceil(H / stride) for the
        odd kernels used here).
    """

    def __init__(
        self, in_channels: int, embed_dims: int, patch_size: int, stride: int, norm_layer: NormLayer
    ) -> None:
        super().__init__()
        self.projection = nn.Conv2d(
            in_channels, embed_dims, patch_size, stride=stride, padding=patch_size // 2
        )
        self.norm = norm_layer(embed_dims)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, tuple[int, int]]:
        x = self.projection(x)
        return self.norm(map_to_tokens(x)), (x.shape[2], x.shape[3])


class EfficientSelfAttention(nn.Module):
    """Multi-head self-attention whose keys/values are spatially reduced by ``sr_ratio``.

    The queries keep all h * w tokens; keys and values are computed from the map downsampled by a
    ``sr_ratio`` x ``sr_ratio`` conv of stride ``sr_ratio`` and a LayerNorm (section 3.1, Eq. 2).
    The projections live in an ``nn.MultiheadAttention`` named ``attn`` (packed ``in_proj_weight``
    (3C, C) and ``out_proj``), as in MMSegmentation.

    Args:
        embed_dims: token width C (divisible by ``num_heads``).
        num_heads: attention heads.
        sr_ratio: spatial reduction of keys/values; 1 means none (no ``sr``/``norm`` modules).
        qkv_bias: bias of the query/key/value projection.
        attn_drop: dropout on the attention weights.
        proj_drop: dropout after the output projection.
        norm_layer: factory of the reduction's LayerNorm.

    Shapes:
        (N, h * w, C) with the grid (h, w) -> (N, h * w, C).
    """

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        sr_ratio: int = 1,
        qkv_bias: bool = True,
        attn_drop: float = 0.0,
        proj_drop: float = 0.0,
        norm_layer: NormLayer = partial(nn.LayerNorm, eps=1e-6),
    ) -> None:
        super().__init__()
        if embed_dims % num_heads:
            raise ValueError(
                f"MixVisionTransformer: width {embed_dims} is not divisible by num_heads={num_heads}"
            )
        self.sr_ratio = sr_ratio
        self.attn = nn.MultiheadAttention(
            embed_dims, num_heads, dropout=attn_drop, bias=qkv_bias, batch_first=True
        )
        self.proj_drop = nn.Dropout(proj_drop)
        if sr_ratio > 1:
            self.sr = nn.Conv2d(embed_dims, embed_dims, kernel_size=sr_ratio, stride=sr_ratio)
            self.norm = norm_layer(embed_dims)

    def forward(self, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        keys_values = tokens
        if self.sr_ratio > 1:
            keys_values = self.norm(map_to_tokens(self.sr(tokens_to_map(tokens, grid))))
        out = self.attn(tokens, keys_values, keys_values, need_weights=False)[0]
        return self.proj_drop(out)


class MixFFN(nn.Module):
    """1x1 conv -> 3x3 depthwise conv -> activation -> 1x1 conv (section 3.1, Eq. 3).

    ``layers`` indices 0, 1, 4 hold the convs (2 is the activation, 3 and 5 dropouts), the positions
    of MMSegmentation's ``MixFFN``.

    Args:
        embed_dims: token width C.
        hidden_dims: width of the hidden layer (``mlp_ratio * C``).
        drop: dropout after the activation and after the last conv.
        act_layer: activation factory (GELU in the paper).

    Shapes:
        (N, h * w, C) with the grid (h, w) -> (N, h * w, C).
    """

    def __init__(
        self,
        embed_dims: int,
        hidden_dims: int,
        drop: float = 0.0,
        act_layer: Callable[[], nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(embed_dims, hidden_dims, 1),
            nn.Conv2d(hidden_dims, hidden_dims, 3, padding=1, groups=hidden_dims),
            act_layer(),
            nn.Dropout(drop),
            nn.Conv2d(hidden_dims, embed_dims, 1),
            nn.Dropout(drop),
        )

    def forward(self, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        return map_to_tokens(self.layers(tokens_to_map(tokens, grid)))


class MiTBlock(nn.Module):
    """Pre-norm block: ``x + drop_path(attn(norm1(x)))`` then ``x + drop_path(ffn(norm2(x)))``.

    Args:
        embed_dims: token width C.
        num_heads: attention heads.
        mlp_ratio: hidden width of the Mix-FFN as a multiple of C.
        sr_ratio: spatial reduction of the attention's keys/values.
        qkv_bias: bias of the query/key/value projection.
        drop: dropout after the attention projection and in the Mix-FFN.
        attn_drop: dropout on the attention weights.
        drop_path: probability of dropping each residual branch (training only).
        norm_layer: LayerNorm factory.
        act_layer: activation of the Mix-FFN.

    Shapes:
        (N, h * w, C) with the grid (h, w) -> (N, h * w, C).
    """

    def __init__(
        self,
        embed_dims: int,
        num_heads: int,
        mlp_ratio: float = 4.0,
        sr_ratio: int = 1,
        qkv_bias: bool = True,
        drop: float = 0.0,
        attn_drop: float = 0.0,
        drop_path: float = 0.0,
        norm_layer: NormLayer = partial(nn.LayerNorm, eps=1e-6),
        act_layer: Callable[[], nn.Module] = nn.GELU,
    ) -> None:
        super().__init__()
        self.norm1 = norm_layer(embed_dims)
        self.attn = EfficientSelfAttention(
            embed_dims, num_heads, sr_ratio, qkv_bias, attn_drop, drop, norm_layer
        )
        self.norm2 = norm_layer(embed_dims)
        self.ffn = MixFFN(embed_dims, int(embed_dims * mlp_ratio), drop, act_layer)
        self.drop_path = DropPath(drop_path)

    def forward(self, tokens: torch.Tensor, grid: tuple[int, int]) -> torch.Tensor:
        tokens = tokens + self.drop_path(self.attn(self.norm1(tokens), grid))
        return tokens + self.drop_path(self.ffn(self.norm2(tokens), grid))


@MODELS.register()
class MixVisionTransformer(FreezingTrainMixin, nn.Module):
    """The MiT encoder of SegFormer; returns one (N, C_i, H / s_i, W / s_i) map per stage.

    The defaults are MiT-B0 (3,319,392 parameters); B1..B5 differ in ``embed_dims`` (64 for B1-B5)
    and ``num_layers`` (B1 (2, 2, 2, 2), B2 (3, 4, 6, 3), B3 (3, 4, 18, 3), B4 (3, 8, 27, 3), B5
    (3, 6, 40, 3)); stage ``i`` has ``embed_dims * num_heads[i]`` channels, so every attention head
    is ``embed_dims`` wide.

    Args:
        in_channels: channels of the input images.
        embed_dims: base width; stage ``i`` is ``embed_dims * num_heads[i]`` wide.
        num_stages: number of stages (the sequences below have one entry per stage).
        num_layers: transformer blocks per stage.
        num_heads: attention heads per stage.
        patch_sizes: kernel of each stage's overlapping patch embedding.
        strides: stride of each patch embedding (output strides 4, 8, 16, 32 by default).
        sr_ratios: spatial reduction of keys/values in each stage's attention.
        out_indices: stages (negative counts from the end) whose outputs are returned.
        mlp_ratio: Mix-FFN hidden width as a multiple of the stage width.
        qkv_bias: bias of the query/key/value projections.
        drop_rate: dropout after attention projections and in the Mix-FFNs.
        attn_drop_rate: dropout on attention weights.
        drop_path_rate: stochastic depth of the last block; rises linearly from 0 over all blocks.
        norm_layer: LayerNorm factory (eps 1e-6 as MMSegmentation's SegFormer).
        act_layer: activation of the Mix-FFNs.
        frozen_stages: -1 freezes nothing; ``k`` freezes stages ``0..k-1`` (parameters and mode).
        pretrained: path of a local MMSegmentation-style MiT checkpoint, loaded with
            :func:`load_mit_checkpoint` after initialisation. Nothing is downloaded.

    Attributes:
        out_channels: channels of each returned output, aligned with ``out_indices``.

    Shapes:
        input (N, in_channels, H, W), any H, W -> tuple of (N, C_i, h_i, w_i) with
        ``h_i = ceil(H / (strides[0] * ... * strides[i]))`` for the default odd kernels.
    """

    def __init__(
        self,
        in_channels: int = 3,
        embed_dims: int = 32,
        num_stages: int = 4,
        num_layers: Sequence[int] = (2, 2, 2, 2),
        num_heads: Sequence[int] = (1, 2, 5, 8),
        patch_sizes: Sequence[int] = (7, 3, 3, 3),
        strides: Sequence[int] = (4, 2, 2, 2),
        sr_ratios: Sequence[int] = (8, 4, 2, 1),
        out_indices: Sequence[int] = (0, 1, 2, 3),
        mlp_ratio: float = 4.0,
        qkv_bias: bool = True,
        drop_rate: float = 0.0,
        attn_drop_rate: float = 0.0,
        drop_path_rate: float = 0.0,
        norm_layer: NormLayer = partial(nn.LayerNorm, eps=1e-6),
        act_layer: Callable[[], nn.Module] = nn.GELU,
        frozen_stages: int = -1,
        pretrained: str | os.PathLike | None = None,
    ) -> None:
        super().__init__()
        per_stage = {
            "num_layers": num_layers, "num_heads": num_heads, "patch_sizes": patch_sizes, "strides": strides,
            "sr_ratios": sr_ratios,
        }  # fmt: skip
        wrong = {name: tuple(values) for name, values in per_stage.items() if len(values) != num_stages}
        if wrong:
            raise ValueError(f"MixVisionTransformer: num_stages={num_stages} but {wrong} have other lengths")
        self.out_indices = normalize_out_indices(out_indices, num_stages, "MixVisionTransformer")
        self.frozen_stages = frozen_stages
        widths = [embed_dims * heads for heads in num_heads]
        self.out_channels = tuple(widths[i] for i in self.out_indices)

        rates = linear_drop_path_rates(drop_path_rate, sum(num_layers))
        self.layers = nn.ModuleList()
        first_block = 0
        for index, width in enumerate(widths):
            patch_embed = OverlapPatchEmbed(
                in_channels, width, patch_sizes[index], strides[index], norm_layer
            )
            blocks = nn.ModuleList(
                MiTBlock(
                    width,
                    num_heads[index],
                    mlp_ratio,
                    sr_ratio=sr_ratios[index],
                    qkv_bias=qkv_bias,
                    drop=drop_rate,
                    attn_drop=attn_drop_rate,
                    drop_path=rates[first_block + j],
                    norm_layer=norm_layer,
                    act_layer=act_layer,
                )  # fmt: skip
                for j in range(num_layers[index])
            )
            self.layers.append(nn.ModuleList([patch_embed, blocks, norm_layer(width)]))
            first_block += num_layers[index]
            in_channels = width
        self._init_weights()
        if pretrained is not None:
            load_mit_checkpoint(self, pretrained)
        self._freeze_stages()

    def _init_weights(self) -> None:
        # MMSegmentation's MiT initialisation: truncated normal (0.02) linears, unit LayerNorms,
        # He-normal convs with fan-out = k * k * out / groups (so depthwise convs are not too small).
        init_by_type(
            self,
            [
                (nn.Linear, partial(trunc_normal_init, std=0.02)),
                (nn.LayerNorm, partial(constant_init, val=1.0)),
                (nn.Conv2d, _he_normal_init_per_group),
            ],
        )

    def _freeze_stages(self) -> None:
        freeze_modules(self.layers[: max(self.frozen_stages, 0)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """(N, C, H, W) -> tuple of the stage maps in ``out_indices``, in increasing stage order."""
        outs = []
        for index, (patch_embed, blocks, norm) in enumerate(self.layers):
            tokens, grid = patch_embed(x)
            for block in blocks:
                tokens = block(tokens, grid)
            x = tokens_to_map(norm(tokens), grid)
            if index in self.out_indices:
                outs.append(x)
        return tuple(outs)


def load_mit_checkpoint(
    backbone: MixVisionTransformer, checkpoint: str | os.PathLike | Mapping[str, torch.Tensor]
) -> None:
    """Load an MMSegmentation-style MiT state dict (path or mapping) into ``backbone``, strictly.

    A whole segmentor checkpoint also works: when keys start with ``backbone.``, only those are
    used (prefix removed). Original NVlabs/timm checkpoints (``patch_embed1.proj`` ...) must first
    be converted to MMSegmentation's names (their ``tools/model_converters/mit2mmseg.py``).

    Raises:
        RuntimeError: naming the checkpoint, missing/unexpected keys and shape mismatches.
    """
    state_dict = read_state_dict(checkpoint)
    if any(key.startswith("backbone.") for key in state_dict):
        state_dict = {
            k.removeprefix("backbone."): v for k, v in state_dict.items() if k.startswith("backbone.")
        }
    source = os.fspath(checkpoint) if isinstance(checkpoint, (str, os.PathLike)) else "the given state dict"
    hint = (
        "are embed_dims/num_layers/num_heads those of the checkpoint, and are its keys MMSegmentation's "
        "(layers.0.0.projection.weight ...)?"
    )
    load_state_dict_strictly(backbone, state_dict, source, "MixVisionTransformer", hint)
    logger.info("MixVisionTransformer: loaded %s", source)
