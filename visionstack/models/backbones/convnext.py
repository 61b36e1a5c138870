"""ConvNeXt (Liu et al., "A ConvNet for the 2020s", CVPR 2022).

Parameter names follow timm's ``convnext_*`` (``stem.0``, ``stages.{i}.downsample.{0,1}``,
``stages.{i}.blocks.{j}.conv_dw``/``norm``/``mlp.fc1``/``mlp.fc2``/``gamma``). The outputs in
``out_indices`` each get a channels-first LayerNorm (``out_norms.{i}``), applied to the map before
any pooling, as for dense tasks; with ``gap_before_final_norm=True`` they are pooled first and the
pooled vector normalised, the paper's classifier order (timm's ``head.norm``, MMPretrain's
``gap_before_final_norm``), which the ImageNet classifier config uses.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import partial

import torch
from torch import nn

from ...registry import MODELS
from ..layers import DropPath, LayerNorm2d, Mlp, init_by_type, linear_drop_path_rates, trunc_normal_init
from ._freezing import FreezingTrainMixin, freeze_modules, normalize_out_indices, run_stages

# arch -> (blocks per stage, channels per stage); section 2.6 of the paper.
CONVNEXT_ARCHS: dict[str, dict[str, tuple[int, ...]]] = {
    "tiny": {"depths": (3, 3, 9, 3), "dims": (96, 192, 384, 768)},
    "small": {"depths": (3, 3, 27, 3), "dims": (96, 192, 384, 768)},
    "base": {"depths": (3, 3, 27, 3), "dims": (128, 256, 512, 1024)},
    "large": {"depths": (3, 3, 27, 3), "dims": (192, 384, 768, 1536)},
}


class ConvNeXtBlock(nn.Module):
    """7x7 depthwise conv -> LayerNorm -> Linear(4C) -> GELU -> Linear(C) -> layer scale, + shortcut.

    The norm and MLP run channels-last (pointwise linears equal 1x1 convs, and are faster).

    Args:
        dim: channels C.
        drop_path: stochastic-depth probability of the residual branch.
        layer_scale_init: initial value of the per-channel scale ``gamma`` (Touvron et al.,
            "Going deeper with Image Transformers", 2021); 0 disables the scale.
        mlp_ratio: hidden width of the MLP in units of C.
    """

    def __init__(
        self, dim: int, drop_path: float = 0.0, layer_scale_init: float = 1e-6, mlp_ratio: float = 4.0
    ) -> None:
        super().__init__()
        self.conv_dw = nn.Conv2d(dim, dim, kernel_size=7, padding=3, groups=dim)
        self.norm = nn.LayerNorm(dim, eps=1e-6)
        self.mlp = Mlp(dim, int(mlp_ratio * dim))
        self.gamma = nn.Parameter(torch.full((dim,), layer_scale_init)) if layer_scale_init > 0 else None
        self.drop_path = DropPath(drop_path)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, C, H, W) -> (N, C, H, W)."""
        branch = self.mlp(self.norm(self.conv_dw(x).permute(0, 2, 3, 1)))
        if self.gamma is not None:
            branch = branch * self.gamma
        return x + self.drop_path(branch.permute(0, 3, 1, 2))


class ConvNeXtStage(nn.Module):
    """Optional downsampling (LayerNorm then 2x2 stride-2 conv) followed by ConvNeXt blocks."""

    def __init__(
        self, in_dim: int, dim: int, depth: int, drop_paths: Sequence[float], layer_scale_init: float
    ) -> None:
        super().__init__()
        if in_dim != dim:
            self.downsample: nn.Module = nn.Sequential(
                LayerNorm2d(in_dim), nn.Conv2d(in_dim, dim, kernel_size=2, stride=2)
            )
        else:
            self.downsample = nn.Identity()
        self.blocks = nn.Sequential(
            *(ConvNeXtBlock(dim, drop_paths[index], layer_scale_init) for index in range(depth))
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.blocks(self.downsample(x))


@MODELS.register()
class ConvNeXt(FreezingTrainMixin, nn.Module):
    """ConvNeXt backbone: a 4x4 stride-4 "patchify" stem and four stages (strides 4, 8, 16, 32).

    Args:
        arch: ``"tiny"``, ``"small"``, ``"base"``, ``"large"``, or a dict with ``depths`` and ``dims``
            (four entries each).
        in_channels: channels of the input images.
        out_indices: stages (0..3, negative from the end) whose normalised outputs are returned.
        drop_path_rate: stochastic depth of the last block; rates rise linearly from 0 over blocks
            (the paper uses 0.1 for tiny on ImageNet-1k).
        layer_scale_init: initial layer-scale value (1e-6 in the paper).
        frozen_stages: -1 freezes nothing; 0 freezes the stem; ``k`` freezes the stem and stages
            ``0..k-1``.
        gap_before_final_norm: pool each output globally first and normalise the pooled vector
            (the paper's classifier, MMPretrain's and timm's order; outputs are then (N, dims[i])
            and the classifier needs no pooling neck). False normalises the map, for dense tasks.

    Attributes:
        out_channels: channels of each returned output, aligned with ``out_indices``.

    Shapes:
        input (N, in_channels, H, W) -> tuple of (N, dims[i], H / 2**(i+2), W / 2**(i+2)).
    """

    def __init__(
        self,
        arch: str | Mapping[str, Sequence[int]] = "tiny",
        in_channels: int = 3,
        out_indices: Sequence[int] = (3,),
        drop_path_rate: float = 0.0,
        layer_scale_init: float = 1e-6,
        frozen_stages: int = -1,
        gap_before_final_norm: bool = False,
    ) -> None:
        super().__init__()
        depths, dims = _resolve_arch(arch)
        self.gap_before_final_norm = gap_before_final_norm
        self.out_indices = normalize_out_indices(out_indices, len(depths), "ConvNeXt")
        self.frozen_stages = frozen_stages
        self.out_channels = tuple(dims[index] for index in self.out_indices)  # per returned output
        self.stem = nn.Sequential(
            nn.Conv2d(in_channels, dims[0], kernel_size=4, stride=4), LayerNorm2d(dims[0])
        )
        rates = linear_drop_path_rates(drop_path_rate, sum(depths))
        stages, in_dim, first_block = [], dims[0], 0
        for depth, dim in zip(depths, dims):
            block_rates = rates[first_block : first_block + depth]
            stages.append(ConvNeXtStage(in_dim, dim, depth, block_rates, layer_scale_init))
            in_dim, first_block = dim, first_block + depth
        self.stages = nn.Sequential(*stages)
        self.out_norms = nn.ModuleDict({str(index): LayerNorm2d(dims[index]) for index in self.out_indices})
        self._init_weights()
        self._freeze_stages()

    def _init_weights(self) -> None:
        # truncated normal (std 0.02) for convs and linears, as in the paper's training recipe.
        init_by_type(self, [((nn.Conv2d, nn.Linear), partial(trunc_normal_init, std=0.02))])

    def _freeze_stages(self) -> None:
        if self.frozen_stages >= 0:
            freeze_modules([self.stem])
        freeze_modules(self.stages[: max(self.frozen_stages, 0)])

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        """Return the normalised outputs of the stages in ``out_indices`` (pooled first if so set)."""

        def output(index: int, out: torch.Tensor) -> torch.Tensor:
            if self.gap_before_final_norm:
                return self.out_norms[str(index)](out.mean((2, 3), keepdim=True)).flatten(1)
            return self.out_norms[str(index)](out)

        return run_stages(self.stem(x), self.stages, self.out_indices, output)


def _resolve_arch(arch: str | Mapping[str, Sequence[int]]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    if isinstance(arch, str):
        if arch not in CONVNEXT_ARCHS:
            raise ValueError(
                f"ConvNeXt: unknown arch {arch!r}; choose one of {sorted(CONVNEXT_ARCHS)} or a dict"
            )
        arch = CONVNEXT_ARCHS[arch]
    if set(arch) != {"depths", "dims"}:
        raise ValueError(
            f"ConvNeXt: an arch dict needs exactly the keys 'depths' and 'dims', got {sorted(arch)}"
        )
    depths, dims = tuple(arch["depths"]), tuple(arch["dims"])
    if len(depths) != 4 or len(dims) != 4:
        raise ValueError(f"ConvNeXt: arch needs 4 depths and 4 dims, got {depths} and {dims}")
    return depths, dims
