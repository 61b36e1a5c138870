"""Image inpainting: a gated-convolution encoder-decoder and the one-stage ``Inpaintor``.

The network is the coarse stage of DeepFill v2 (Yu et al., "Free-Form Image Inpainting with Gated
Convolution", ICCV 2019), sized for a CPU: every layer is a gated convolution ``ELU(f) * sigmoid(g)``
(one convolution with twice the output channels, split into the feature ``f`` and the gate ``g``), two
stride-2 stages down, four dilated gated convolutions in the middle (dilations 2, 4, 8, 16 at 1/4 size),
nearest up-sampling + gated convolutions back up, and a plain 3 x 3 convolution with ``tanh`` at the end.
The contextual-attention refinement stage of DeepFill is left out (it is what makes DeepFill slow on a
CPU). Submodule names follow MMagic's ``GLEncoderDecoder``: ``encoder``, ``dilation_neck``, ``decoder``.

The training losses are the masked terms of Liu et al., "Image Inpainting for Irregular Holes Using
Partial Convolutions" (ECCV 2018), Sec. 3.3, without the perceptual and style terms:

- ``loss_hole``: L1 between output and ground truth over the hole pixels, averaged over the hole
  (weight 6 as Liu et al.);
- ``loss_valid``: the same over the known pixels (weight 1);
- ``loss_tv``: total variation of the composited image over the 1-pixel dilation of the hole
  (weight 0.1, as Liu et al.), averaged over the neighbouring pixel pairs inside that region.

Unlike Liu et al., who divide every term by the number of all pixels, each term is averaged over its own
region (MMagic's masked L1, ``L1Loss(weight=mask)``), so a small hole is not a small loss.

Masks follow visionstack's convention: (H, W) or (1, H, W), 1 = hole (missing), 0 = known.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from types import MappingProxyType
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ....models.base_model import BaseModel
from ....models.losses.smooth_l1_loss import L1Loss as BoxL1Loss
from ....registry import MODELS
from ....structures import DataSample, PixelData
from .data_preprocessor import EditDataPreprocessor
from .losses import L1Loss

__all__ = [
    "GatedConv2d",
    "GatedConvEncoderDecoder",
    "GatedConvUNet",
    "Inpaintor",
    "MaskedTVLoss",
    "masked_input",
    "pull_push_fill",
    "FillThenRefine",
    "pad_to_multiple",
]


@MODELS.register()
class GatedConv2d(nn.Module):
    """Gated convolution (DeepFill v2): ``activation(f) * sigmoid(g)`` with ``[f, g] = conv(x)``.

    Args:
        in_channels: channels of the input.
        out_channels: channels of the output (the convolution itself has twice as many).
        kernel_size: square kernel size; the padding keeps the size ("same") at stride 1.
        stride: 1, or 2 to halve the size.
        dilation: dilation of the kernel.
        activation: ``"elu"`` (DeepFill) or None (the feature is not activated).
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        kernel_size: int = 3,
        stride: int = 1,
        dilation: int = 1,
        activation: str | None = "elu",
    ) -> None:
        super().__init__()
        if activation not in ("elu", None):
            raise ValueError(f"GatedConv2d: activation must be 'elu' or None, got {activation!r}")
        padding = dilation * (kernel_size - 1) // 2
        self.conv = nn.Conv2d(in_channels, 2 * out_channels, kernel_size, stride, padding, dilation)
        self.activation = nn.ELU() if activation == "elu" else nn.Identity()

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, in_channels, H, W) -> (N, out_channels, H / stride, W / stride)."""
        feature, gate = self.conv(x).chunk(2, dim=1)
        return self.activation(feature) * torch.sigmoid(gate)


def _up_block(in_channels: int, out_channels: int) -> nn.Sequential:
    """Nearest x2 up-sampling then a gated 3 x 3 convolution (DeepFill's ``gen_deconv``)."""
    return nn.Sequential(nn.Upsample(scale_factor=2, mode="nearest"), GatedConv2d(in_channels, out_channels))


def pad_to_multiple(x: torch.Tensor, divisor: int, mode: str = "replicate") -> torch.Tensor:
    """Pad (N, C, H, W) at the bottom and right so that H and W are multiples of ``divisor``."""
    pad_h, pad_w = -x.shape[-2] % divisor, -x.shape[-1] % divisor
    if pad_h == 0 and pad_w == 0:
        return x
    return F.pad(x, (0, pad_w, 0, pad_h), mode=mode)


def masked_input(image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
    """The network input ``cat(image * (1 - mask), mask)``: (N, C, H, W), (N, 1, H, W) -> (N, C + 1, H, W).

    The hole pixels become 0 (mid-grey in [-1, 1] units), so the network never sees them.
    """
    return torch.cat([image * (1 - mask), mask], dim=1)


def pull_push_fill(image: torch.Tensor, known: torch.Tensor, levels: int = 6) -> torch.Tensor:
    """Fill the unknown pixels of ``image`` from the known ones by pull-push (Gortler et al. 1996): average the
    known pixels down a pyramid of ``levels`` halvings (pull), then fill each level's unknown pixels with the
    bilinear up-sampling of the coarser, filled level (push). Known pixels are kept exactly; a hole wider than
    ``2 ** levels`` pixels keeps 0 at its centre. Smooth, like diffusion inpainting, and differentiable.

    Args:
        image: (N, C, H, W).
        known: (N, 1, H, W), 1 where the pixel is known.
    """
    pyramid = [(image * known, known)]
    for _ in range(levels):
        values, weights = pyramid[-1]
        if min(values.shape[-2:]) < 2:
            break
        pyramid.append((F.avg_pool2d(values, 2, ceil_mode=True), F.avg_pool2d(weights, 2, ceil_mode=True)))
    filled = None
    for values, weights in reversed(pyramid):
        present = (weights > 1e-6).to(values.dtype)
        colour = values / weights.clamp_min(1e-6) * present
        if filled is not None:
            coarse = F.interpolate(filled, size=values.shape[-2:], mode="bilinear", align_corners=False)
            colour = colour + coarse * (1 - present)
        filled = colour
    return filled


class FillThenRefine(nn.Module):
    """A pull-push fill of the hole, then the generator's correction of it: ``x = cat(image * (1 - mask), mask)``
    -> ``clamp(fill + generator(cat(fill, mask)), -1, 1)``. What tiling probes and export traces when the
    Inpaintor has ``fill_levels``; it owns no weight of its own (the generator's stay under ``generator.``)."""

    def __init__(self, generator: nn.Module, levels: int) -> None:
        super().__init__()
        self.generator = generator
        self.levels = levels

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        image, mask = x[:, :-1], x[:, -1:]
        fill = pull_push_fill(image, 1 - mask, self.levels)
        return torch.clamp(fill + self.generator(torch.cat([fill, mask], dim=1)), -1.0, 1.0)


@MODELS.register()
class GatedConvEncoderDecoder(nn.Module):
    """DeepFill v2's coarse network at CPU size (see the module docstring for the layout).

    Args:
        in_channels: the masked image's channels + 1 (the mask), 4 for colour.
        out_channels: channels of the output image.
        base_channels: channels at full size; 2x at 1/2 size, 4x at 1/4 size.
        dilations: dilations of the gated convolutions of ``dilation_neck`` (at 1/4 size).

    Call:
        ``net(x)``: x (N, in_channels, H, W) = :func:`masked_input` -> (N, out_channels, H, W) in
        [-1, 1] (``tanh``). Any H, W: the input is padded (replicate, bottom and right) to a multiple
        of ``size_divisor`` (4) and the output cropped back.
    """

    size_divisor = 4

    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 3,
        base_channels: int = 32,
        dilations: Sequence[int] = (2, 4, 8, 16),
    ) -> None:
        super().__init__()
        c = base_channels
        self.encoder = nn.Sequential(
            GatedConv2d(in_channels, c, kernel_size=5),
            GatedConv2d(c, 2 * c, stride=2),
            GatedConv2d(2 * c, 2 * c),
            GatedConv2d(2 * c, 4 * c, stride=2),
            GatedConv2d(4 * c, 4 * c),
            GatedConv2d(4 * c, 4 * c),
        )
        self.dilation_neck = nn.Sequential(*(GatedConv2d(4 * c, 4 * c, dilation=d) for d in dilations))
        self.decoder = nn.Sequential(
            GatedConv2d(4 * c, 4 * c),
            GatedConv2d(4 * c, 4 * c),
            _up_block(4 * c, 2 * c),
            GatedConv2d(2 * c, 2 * c),
            _up_block(2 * c, c),
            GatedConv2d(c, max(c // 2, 1)),
            nn.Conv2d(max(c // 2, 1), out_channels, 3, padding=1),  # no gate on the image (DeepFill)
            nn.Tanh(),
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        features = self.dilation_neck(self.encoder(pad_to_multiple(x, self.size_divisor)))
        return self.decoder(features)[..., :height, :width]


@MODELS.register()
class GatedConvUNet(nn.Module):
    """A U-Net of gated convolutions: the encoder-decoder of Liu et al. 2018 (partial convolutions, skip
    connections at every level) with DeepFill v2's gated convolutions in place of partial ones.

    Without skips (:class:`GatedConvEncoderDecoder`) every known pixel has to pass the 1/4-size bottleneck, which
    takes long to learn; with them the decoder gets the known pixels back at full size and learns the holes.

    Args:
        in_channels: the masked image's channels + 1 (the mask).
        out_channels: channels of the output image.
        base_channels: channels at full size, doubled at each level (capped at 8x).
        depth: stride-2 levels.
        dilations: dilated gated convolutions at the bottom (context across the holes).

    Call:
        ``net(x)``: x (N, in_channels, H, W) = :func:`masked_input` -> (N, out_channels, H, W) in [-1, 1].
        Any H, W: padded (replicate, bottom and right) to a multiple of ``2 ** depth`` and cropped back.
    """

    def __init__(
        self,
        in_channels: int = 4,
        out_channels: int = 3,
        base_channels: int = 16,
        depth: int = 3,
        dilations: Sequence[int] = (2, 4),
    ) -> None:
        super().__init__()
        widths = [base_channels * min(2**level, 8) for level in range(depth + 1)]
        self.size_divisor = 2**depth
        self.stem = GatedConv2d(in_channels, widths[0], kernel_size=5)
        self.down = nn.ModuleList(
            nn.Sequential(
                GatedConv2d(widths[i], widths[i + 1], stride=2), GatedConv2d(widths[i + 1], widths[i + 1])
            )
            for i in range(depth)
        )
        self.bottom = nn.Sequential(*(GatedConv2d(widths[-1], widths[-1], dilation=d) for d in dilations))
        self.up = nn.ModuleList(
            GatedConv2d(widths[i + 1] + widths[i], widths[i]) for i in reversed(range(depth))
        )
        self.head = nn.Sequential(nn.Conv2d(widths[0], out_channels, 3, padding=1), nn.Tanh())

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        height, width = x.shape[-2:]
        skips = [self.stem(pad_to_multiple(x, self.size_divisor))]
        for block in self.down:
            skips.append(block(skips[-1]))
        feature = self.bottom(skips.pop())
        for block in self.up:
            skip = skips.pop()
            feature = block(
                torch.cat([F.interpolate(feature, size=skip.shape[-2:], mode="nearest"), skip], dim=1)
            )
        return self.head(feature)[..., :height, :width]


@MODELS.register()
class MaskedTVLoss(nn.Module):
    """Total variation inside a region: mean |x(i, j+1) - x(i, j)| + mean |x(i+1, j) - x(i, j)|.

    Each mean runs over the neighbouring pairs whose two pixels are both in the region (and over the
    channels), through :class:`L1Loss` with a weight; the result is multiplied by ``loss_weight``.

    Args:
        loss_weight: the factor of the loss.
    """

    def __init__(self, loss_weight: float = 0.1) -> None:
        super().__init__()
        self.loss_weight = loss_weight
        self.l1 = L1Loss(loss_weight=1.0)

    def forward(self, pred: torch.Tensor, region: torch.Tensor) -> torch.Tensor:
        """pred (N, C, H, W); region (N, 1, H, W) 0/1 float. An empty region gives 0 (with a graph)."""
        pairs_x = (region[..., :, 1:] * region[..., :, :-1]).expand_as(pred[..., :, 1:])
        pairs_y = (region[..., 1:, :] * region[..., :-1, :]).expand_as(pred[..., 1:, :])
        loss_x = _masked_l1(self.l1, pred[..., :, 1:], pred[..., :, :-1], pairs_x)
        loss_y = _masked_l1(self.l1, pred[..., 1:, :], pred[..., :-1, :], pairs_y)
        return self.loss_weight * (loss_x + loss_y)


def _masked_l1(
    loss: nn.Module, pred: torch.Tensor, target: torch.Tensor, weight: torch.Tensor
) -> torch.Tensor:
    """``loss(pred, target, weight=weight)``, or an exact 0 tied to the graph when the weight is empty
    (a batch without holes: a mean over no pixel is not NaN here)."""
    if not bool(weight.any()):
        return pred.sum() * 0.0
    return loss(pred, target, weight=weight)


_HOLE_LOSS = MappingProxyType({"type": "PixelL1Loss", "loss_weight": 6.0})
_VALID_LOSS = MappingProxyType({"type": "PixelL1Loss", "loss_weight": 1.0})
_TV_LOSS = MappingProxyType({"type": "MaskedTVLoss", "loss_weight": 0.1})
_INPAINTING_PREPROCESSOR = MappingProxyType({"mean": (127.5,) * 3, "std": (127.5,) * 3, "bgr_to_rgb": True})


def _build_term(cfg: nn.Module | Mapping[str, Any] | None, default_type: type) -> nn.Module | None:
    """A built loss module, a config with ``type``, or ``default_type``'s arguments (no ``type``).

    ``"PixelL1Loss"`` and ``"MaskedTVLoss"`` are built here directly; other types by MODELS.
    """
    if isinstance(cfg, Mapping):
        cfg = dict(cfg)
        kind = cfg.pop("type", default_type)
        kind = _LOCAL_TERMS.get(kind, kind) if isinstance(kind, str) else kind
        cfg = kind(**cfg) if isinstance(kind, type) else MODELS.build({"type": kind, **cfg})
    if cfg is not None and not isinstance(cfg, nn.Module):
        raise TypeError(
            f"Inpaintor: a loss must be a module, a config dict or None, got {type(cfg).__name__}"
        )
    if isinstance(cfg, BoxL1Loss):
        # MODELS' "L1Loss" is the box-regression loss: its weighted mean divides by all elements
        raise TypeError(
            "Inpaintor: the registered 'L1Loss' is the box-regression loss; the masked pixel L1 is "
            "dict(type='PixelL1Loss', ...)"
        )
    return cfg


_LOCAL_TERMS = {"PixelL1Loss": L1Loss, "MaskedTVLoss": MaskedTVLoss}


def _check_no_options(name: str, cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    if cfg:
        raise ValueError(f"Inpaintor: {name} takes no option (got {sorted(cfg)})")
    return dict(cfg or {})


@MODELS.register()
class Inpaintor(BaseModel):
    """One-stage inpainting model (MMagic's ``OneStageInpaintor`` terms).

    ``inputs`` are the whole images (N, 3, H, W) in [-1, 1] RGB (from :class:`EditDataPreprocessor`);
    every data sample carries ``mask`` (PixelData, uint8 (1, H, W), 1 = hole) and optionally ``gt_img``
    (uint8 (3, H, W) BGR; the loss target, else the input image is). The generator sees
    :func:`masked_input` only, never the hole's pixels.

    Args:
        generator: the network, (N, 4, H, W) -> (N, 3, H, W) in [-1, 1] (e.g. GatedConvEncoderDecoder).
        data_preprocessor: an EditDataPreprocessor, or its arguments; None gives mean = std = 127.5
            with BGR -> RGB (images in [-1, 1]).
        loss_hole: L1 over the hole pixels: a module, a config with ``type`` (``"PixelL1Loss"``, not
            the box-regression ``"L1Loss"``: refused), or :class:`L1Loss` arguments.
        loss_valid: L1 over the known pixels (same forms).
        loss_tv: total variation of the composite over the hole's 1-pixel dilation (a module, a config
            with ``type``, or ``MaskedTVLoss`` arguments such as ``dict(loss_weight=0.1)``); None: off.
        train_cfg: no option is read (kept for MMagic configs); must be None or empty.
        test_cfg: ``tile`` (run the network in tiles, equal to the whole image) and ``approximate``.
        fill_levels: start from a pull-push fill of the hole over this many pyramid levels
            (:func:`pull_push_fill`) and let the generator correct it (:class:`FillThenRefine`); None: the
            generator sees the hole as zeros (DeepFill, MMagic).

    Modes:
        ``"loss"``: ``{"loss_hole", "loss_valid", "loss_tv"}`` (the last when ``loss_tv`` is set).
        ``"predict"``: the samples with ``pred_img`` = the composite ``out * mask + image * (1 - mask)``
        as uint8 (3, H, W) BGR (the known pixels are the input's bytes), ``gt_img`` (kept, or the input
        image) and ``mask``.
        ``"tensor"``: the composite (N, 3, H, W) in [-1, 1] RGB, as :meth:`export_forward`.
    """

    task = "inpainting"
    export_output_names = ("output",)

    def __init__(
        self,
        generator: nn.Module,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
        loss_hole: nn.Module | Mapping[str, Any] | None = _HOLE_LOSS,
        loss_valid: nn.Module | Mapping[str, Any] | None = _VALID_LOSS,
        loss_tv: nn.Module | Mapping[str, Any] | None = _TV_LOSS,
        train_cfg: Mapping[str, Any] | None = None,
        test_cfg: Mapping[str, Any] | None = None,
        fill_levels: int | None = None,
    ) -> None:
        if data_preprocessor is None:
            data_preprocessor = EditDataPreprocessor(**_INPAINTING_PREPROCESSOR)
        elif isinstance(data_preprocessor, Mapping):
            data_preprocessor = EditDataPreprocessor(**data_preprocessor)
        super().__init__(data_preprocessor)
        self.generator = generator
        self.fill_levels = fill_levels
        self.loss_hole = _build_term(loss_hole, L1Loss)
        self.loss_valid = _build_term(loss_valid, L1Loss)
        self.loss_tv = _build_term(loss_tv, MaskedTVLoss)
        if self.loss_hole is None and self.loss_valid is None:
            raise ValueError("Inpaintor: give loss_hole or loss_valid (or both); nothing would be trained")
        self.train_cfg = _check_no_options("train_cfg", train_cfg)
        self.test_cfg = dict(test_cfg or {})
        unknown = sorted(set(self.test_cfg) - {"tile", "approximate"})
        if unknown:
            raise ValueError(f"Inpaintor: test_cfg takes tile and approximate only (got {unknown})")
        self._receptive_field = None

    # ---- the network on a batch ----------------------------------------------------------------------
    def complete(
        self, image: torch.Tensor, mask: torch.Tensor, tile: int | None = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """The raw output and the composite of (N, 3, H, W) images with (N, 1, H, W) 0/1 float masks; with
        ``tile``, the generator runs on tiles (:func:`..tiling.tiled_forward`, equal to the whole image)."""
        if tile:
            from ..tiling import tiled_forward

            options = {"approximate": True} if self.test_cfg.get("approximate") else {}
            field = self.receptive_field()
            output = tiled_forward(
                self.network(), masked_input(image, mask), tile=tile, field=field, **options
            )
        else:
            output = self.network()(masked_input(image, mask))
        return output, output * mask + image * (1 - mask)

    def network(self) -> nn.Module:
        """What maps the masked input to the output: the generator, or with ``fill_levels`` the pull-push fill
        refined by it (:class:`FillThenRefine`)."""
        return self.generator if not self.fill_levels else FillThenRefine(self.generator, self.fill_levels)

    def receptive_field(self) -> Any:
        """The generator's measured receptive field (on its 4-channel masked input), measured once."""
        from ..tiling import measure_receptive_field, weights_fingerprint

        key = weights_fingerprint(self.generator)  # a field measured before training or loading is stale
        if self._receptive_field is None or self._receptive_field[0] != key:
            self._receptive_field = (key, measure_receptive_field(self.network(), in_channels=4))
        return self._receptive_field[1]

    def export_forward(self, image: torch.Tensor, mask: torch.Tensor) -> torch.Tensor:
        """The composite (N, 3, H, W) in [-1, 1] of images in [-1, 1] and (N, 1, H, W) masks (1 = hole)."""
        return self.complete(image, mask.to(image.dtype))[1]

    def forward_tensor(self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None):
        mask, _ = self.batch_masks(inputs, data_samples)
        return self.complete(inputs, mask)[1]

    # ---- losses --------------------------------------------------------------------------------------
    def loss(self, inputs: torch.Tensor, data_samples: Sequence[DataSample]) -> dict[str, torch.Tensor]:
        mask, inside = self.batch_masks(inputs, data_samples)
        target = self.batch_targets(inputs, data_samples)
        output, composite = self.complete(inputs, mask)
        return self.masked_losses(output, composite, target, mask, inside)

    def masked_losses(
        self,
        output: torch.Tensor,
        composite: torch.Tensor,
        target: torch.Tensor,
        mask: torch.Tensor,
        inside: torch.Tensor,
    ) -> dict[str, torch.Tensor]:
        """The loss terms of (N, C, H, W) output / composite / target, (N, 1, H, W) hole mask and the
        (N, 1, H, W) region of real pixels (0 where the batch is padded)."""
        hole = mask * inside
        losses = {}
        if self.loss_hole is not None:
            losses["loss_hole"] = _masked_l1(self.loss_hole, output, target, hole.expand_as(output))
        if self.loss_valid is not None:
            known = ((1 - mask) * inside).expand_as(output)
            losses["loss_valid"] = _masked_l1(self.loss_valid, output, target, known)
        if self.loss_tv is not None:
            # the region P of Liu et al.: the hole grown by one pixel (8-neighbourhood), in the image
            region = F.max_pool2d(hole, kernel_size=3, stride=1, padding=1) * inside
            losses["loss_tv"] = self.loss_tv(composite, region)
        return losses

    # ---- predictions ---------------------------------------------------------------------------------
    def predict(self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None) -> list[DataSample]:
        mask, _ = self.batch_masks(inputs, data_samples)
        tile = next((s.metainfo["tile"] for s in data_samples if s.metainfo.get("tile")), None)
        _, composite = self.complete(inputs, mask, tile or self.test_cfg.get("tile"))
        images = self.data_preprocessor.to_image(composite).cpu()
        originals = self.data_preprocessor.to_image(inputs).cpu()
        for index, sample in enumerate(data_samples):
            height, width = sample.mask.data.shape[-2:]
            sample.pred_img = PixelData(data=images[index, :, :height, :width].contiguous())
            if "gt_img" not in sample:
                sample.gt_img = PixelData(data=originals[index, :, :height, :width].contiguous())
        return list(data_samples)

    # ---- batch assembly ------------------------------------------------------------------------------
    def batch_masks(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Each sample's ``mask`` stacked to the batch size: (N, 1, H, W) float hole masks (1 = hole, and
        1 in the batch padding) and (N, 1, H, W) ``inside`` (1 on each sample's own pixels)."""
        if data_samples is None or len(data_samples) != inputs.shape[0]:
            raise ValueError(
                f"{type(self).__name__}: every image needs a data sample with a `mask` "
                f"(got {0 if data_samples is None else len(data_samples)} for {inputs.shape[0]} images)"
            )
        batch_h, batch_w = inputs.shape[-2:]
        masks, insides = [], []
        for sample in data_samples:
            if "mask" not in sample:
                raise ValueError(
                    f"{_name_of(sample)}: no `mask` (inpainting needs one: LoadMask or GenerateMask)"
                )
            mask = sample.mask.data.to(inputs.device)
            height, width = mask.shape[-2:]
            if height > batch_h or width > batch_w:
                raise ValueError(
                    f"{_name_of(sample)}: mask of size {(height, width)} does not fit the image batch "
                    f"{(batch_h, batch_w)}"
                )
            pad = (0, batch_w - width, 0, batch_h - height)
            masks.append(F.pad((mask.reshape(1, height, width) != 0).to(inputs.dtype), pad, value=1.0))
            insides.append(F.pad(inputs.new_ones(1, height, width), pad, value=0.0))
        return torch.stack(masks), torch.stack(insides)

    def batch_targets(self, inputs: torch.Tensor, data_samples: Sequence[DataSample]) -> torch.Tensor:
        """The loss targets (N, 3, H, W) in the inputs' units: the samples' ``gt_img`` (normalised and
        padded to the batch) when every sample has one, else the input images themselves."""
        if not all("gt_img" in sample for sample in data_samples):
            return inputs
        batch_h, batch_w = inputs.shape[-2:]
        padded = []
        for sample in data_samples:
            gt = sample.gt_img.data.to(inputs.device)
            padded.append(F.pad(gt, (0, batch_w - gt.shape[-1], 0, batch_h - gt.shape[-2])))
        return self.data_preprocessor.normalize_gt(torch.stack(padded)).to(inputs.dtype)


def _name_of(sample: DataSample) -> str:
    return str(getattr(sample, "img_path", None) or f"sample {getattr(sample, 'sample_idx', '?')}")
