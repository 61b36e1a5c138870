"""BaseDecodeHead: what every semantic-segmentation head shares (MMSegmentation's ``BaseDecodeHead``).

A head maps the backbone's (or neck's) feature maps to per-class logits (N, num_classes, h, w) at
its own resolution. It owns:

- the choice of inputs (``in_index`` / ``input_transform``: one map, several maps resized to the
  first and concatenated, or several maps as a list);
- the classifier ``conv_seg`` (1x1 conv, after ``Dropout2d(dropout_ratio)``);
- the losses (``loss_decode``, one module or a list; each reports under its ``loss_name``) and an
  optional pixel sampler (OHEM) that weights the pixels;
- ``loss(feats, data_samples)``: logits upsampled (bilinear) to the label size, then the losses and
  ``acc_seg`` (pixel accuracy in percent over non-ignored pixels);
- ``predict(feats, size)``: logits, optionally resized to ``size``.

Subclasses implement :meth:`BaseDecodeHead.forward` (usually ``self.cls_seg(features)``).
"""

from __future__ import annotations

import abc
from collections.abc import Mapping, Sequence
from typing import Any, Literal

import torch
import torch.nn.functional as F
from torch import nn

from ....models.layers.conv_module import ActFactory, NormFactory
from ....models.losses.cross_entropy_loss import CrossEntropyLoss
from ....registry import MODELS
from ....structures import DataSample

__all__ = ["BaseDecodeHead", "pixel_accuracy", "resize", "stack_gt_sem_seg"]

InputTransform = Literal["resize_concat", "multiple_select"]


def resize(x: torch.Tensor, size: Sequence[int], align_corners: bool = False) -> torch.Tensor:
    """Bilinear resize of (N, C, H, W) to ``size`` (h, w); a no-op when the size already matches."""
    size = (size[0], size[1])  # ints, or symbolic sizes while exporting (int() would fix them)
    # (while exporting, comparing symbolic sizes would fix them to the sample's: always interpolate)
    if not torch.compiler.is_exporting() and tuple(x.shape[-2:]) == size:
        return x
    return F.interpolate(x, size=size, mode="bilinear", align_corners=align_corners)


def pixel_accuracy(
    seg_logits: torch.Tensor, seg_label: torch.Tensor, ignore_index: int = 255
) -> torch.Tensor:
    """Top-1 accuracy in percent over the pixels whose label is not ``ignore_index``.

    Args:
        seg_logits: (N, C, H, W) scores.
        seg_label: (N, H, W) int64 labels.

    Returns:
        A scalar tensor (0 when every pixel is ignored).
    """
    valid = seg_label != ignore_index
    correct = (channel_argmax(seg_logits.detach()) == seg_label) & valid
    num_valid = valid.sum()
    if num_valid == 0:
        return seg_logits.new_zeros((), dtype=torch.float32)
    return correct.sum().float() * 100.0 / num_valid


def channel_argmax(seg_logits: torch.Tensor) -> torch.Tensor:
    """``seg_logits.argmax(dim=1)`` of an (N, C, H, W) map, computed over a channels-last copy.

    A reduction over the strided channel axis is about ten times slower on the CPU than over the
    contiguous last axis; the result is the same (ties go to the lowest class either way).
    """
    return seg_logits.permute(0, 2, 3, 1).contiguous().argmax(dim=-1)


def stack_gt_sem_seg(
    data_samples: Sequence[DataSample], ignore_index: int, device: torch.device
) -> torch.Tensor:
    """The samples' ``gt_sem_seg.data`` as one (N, H, W) int64 batch.

    Maps of different sizes are padded at the bottom and right with ``ignore_index`` (the data
    preprocessor normally did that already).
    """
    maps = []
    for index, sample in enumerate(data_samples):
        gt = sample.get("gt_sem_seg") if hasattr(sample, "get") else None
        if gt is None or "data" not in gt:
            raise ValueError(
                f"decode head loss: data sample {index} has no gt_sem_seg; the training pipeline must load "
                "annotations (LoadAnnotations) and end with PackSegInputs"
            )
        data = torch.as_tensor(gt.data, device=device).long()
        maps.append(data[0] if data.ndim == 3 else data)
    height = max(m.shape[-2] for m in maps)
    width = max(m.shape[-1] for m in maps)
    padded = [
        F.pad(m, (0, width - m.shape[-1], 0, height - m.shape[-2]), value=ignore_index)
        if m.shape != (height, width)
        else m
        for m in maps
    ]
    return torch.stack(padded)


class BaseDecodeHead(nn.Module, metaclass=abc.ABCMeta):
    """Base of the decode (and auxiliary) heads.

    Args:
        in_channels: channels of the selected input; a sequence (one per ``in_index``) with an
            ``input_transform``.
        channels: channels of the head's inner layers (before ``conv_seg``).
        num_classes: output classes C.
        in_index: which input map(s) to use (an int, or a sequence with an ``input_transform``).
        input_transform: None (one map), ``"resize_concat"`` (maps resized bilinearly to the first
            one's size and concatenated; ``in_channels`` becomes their sum) or ``"multiple_select"``
            (a list of maps).
        dropout_ratio: ``Dropout2d`` probability before ``conv_seg`` (0 disables it).
        norm_layer: norm factory of the inner convs (BatchNorm by default; None for none).
        act_layer: activation factory of the inner convs.
        align_corners: ``align_corners`` of every bilinear resize of the head and the loss.
        ignore_index: label value that takes no part in the losses and the accuracy.
        loss_decode: a loss module (or config dict), or a list of them; each reports under its
            ``loss_name`` (losses of one name are summed). Default: MMSegmentation's
            ``CrossEntropyLoss`` (mean over all pixels, ignored ones included: ``avg_non_ignore=False``).
        sampler: optional pixel sampler with ``sample(seg_logits, seg_label, ignore_index, loss_fn)``
            returning (N, H, W) pixel weights (e.g. :class:`OHEMPixelSampler`).

    Shapes:
        ``head(feats)``: a sequence of (N, C_l, H_l, W_l) maps -> (N, num_classes, h, w) logits.
    """

    def __init__(
        self,
        in_channels: int | Sequence[int],
        channels: int,
        num_classes: int,
        in_index: int | Sequence[int] = -1,
        input_transform: InputTransform | None = None,
        dropout_ratio: float = 0.1,
        norm_layer: NormFactory | None = nn.BatchNorm2d,
        act_layer: ActFactory | None = nn.ReLU,
        align_corners: bool = False,
        ignore_index: int = 255,
        loss_decode: nn.Module | Mapping[str, Any] | Sequence[nn.Module | Mapping[str, Any]] | None = None,
        sampler: Any = None,
    ) -> None:
        super().__init__()
        name = type(self).__name__
        if num_classes < 1:
            raise ValueError(f"{name}: num_classes must be >= 1, got {num_classes}")
        if not 0.0 <= dropout_ratio < 1.0:
            raise ValueError(f"{name}: dropout_ratio must be in [0, 1), got {dropout_ratio}")
        self._init_inputs(in_channels, in_index, input_transform)
        self.channels = channels
        self.num_classes = num_classes
        self.out_channels = num_classes
        self.dropout_ratio = dropout_ratio
        self.norm_layer = norm_layer
        self.act_layer = act_layer
        self.align_corners = align_corners
        self.ignore_index = ignore_index
        self.loss_decode = self._build_losses(loss_decode)
        self.sampler = MODELS.build(sampler) if isinstance(sampler, Mapping) else sampler
        if self.sampler is not None and not callable(getattr(self.sampler, "sample", None)):
            raise TypeError(f"{name}: sampler must have a sample(seg_logits, seg_label, ...) method")
        self.conv_seg = nn.Conv2d(channels, num_classes, kernel_size=1)
        self.dropout = nn.Dropout2d(dropout_ratio) if dropout_ratio > 0 else None
        # MMSegmentation initialises the classifier with N(0, 0.01) (init_cfg of BaseDecodeHead)
        nn.init.normal_(self.conv_seg.weight, std=0.01)
        nn.init.zeros_(self.conv_seg.bias)

    # ---- inputs -----------------------------------------------------------------------------
    def _init_inputs(
        self, in_channels: int | Sequence[int], in_index: int | Sequence[int], input_transform: str | None
    ) -> None:
        name = type(self).__name__
        if input_transform not in (None, "resize_concat", "multiple_select"):
            raise ValueError(
                f"{name}: input_transform must be None, 'resize_concat' or 'multiple_select', got {input_transform!r}"
            )
        self.input_transform = input_transform
        if input_transform is None:
            if not isinstance(in_channels, int) or not isinstance(in_index, int):
                raise TypeError(
                    f"{name}: without input_transform, in_channels and in_index must be ints (got "
                    f"{in_channels!r}, {in_index!r}); use input_transform='resize_concat' or 'multiple_select'"
                )
            self.in_index: int | list[int] = in_index
            self.in_channels: int | list[int] = in_channels
            return
        if not isinstance(in_channels, Sequence) or not isinstance(in_index, Sequence):
            raise TypeError(
                f"{name}: input_transform={input_transform!r} needs sequences in_channels and in_index"
            )
        if len(in_channels) != len(in_index):
            raise ValueError(
                f"{name}: {len(in_channels)} in_channels for {len(in_index)} in_index entries; give one per input"
            )
        self.in_index = [int(i) for i in in_index]
        channel_list = [int(c) for c in in_channels]
        self.in_channels = sum(channel_list) if input_transform == "resize_concat" else channel_list

    def _transform_inputs(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        """Select (and for ``resize_concat`` merge) the head's input maps."""
        if self.input_transform is None:
            return inputs[self.in_index]
        selected = [inputs[i] for i in self.in_index]
        if self.input_transform == "multiple_select":
            return selected
        size = selected[0].shape[-2:]
        return torch.cat([resize(x, size, self.align_corners) for x in selected], dim=1)

    # ---- forward ----------------------------------------------------------------------------
    @abc.abstractmethod
    def forward(self, inputs: Sequence[torch.Tensor]) -> torch.Tensor:
        """(N, num_classes, h, w) logits of the multi-level features ``inputs``."""

    def cls_seg(self, feat: torch.Tensor) -> torch.Tensor:
        """Classify each pixel: (N, channels, h, w) -> (N, num_classes, h, w)."""
        if self.dropout is not None:
            feat = self.dropout(feat)
        return self.conv_seg(feat)

    def predict(self, inputs: Sequence[torch.Tensor], size: Sequence[int] | None = None) -> torch.Tensor:
        """Logits of ``inputs``, resized (bilinear) to ``size`` (h, w) when given."""
        seg_logits = self(inputs)
        return seg_logits if size is None else resize(seg_logits, size, self.align_corners)

    # ---- losses -----------------------------------------------------------------------------
    def _build_losses(self, loss_decode: Any) -> nn.Module:
        if loss_decode is None:
            loss_decode = CrossEntropyLoss(ignore_index=self.ignore_index, avg_non_ignore=False)
        many = isinstance(loss_decode, (list, tuple))
        modules = [
            MODELS.build(m) if isinstance(m, Mapping) else m for m in (loss_decode if many else [loss_decode])
        ]
        for index, module in enumerate(modules):
            where = f"{type(self).__name__}.loss_decode" + (f"[{index}]" if many else "")
            if not isinstance(module, nn.Module):
                raise TypeError(
                    f"{where}: expected a loss module or config dict, got {type(module).__name__}"
                )
            if not isinstance(getattr(module, "loss_name", None), str):
                raise TypeError(
                    f"{where}: {type(module).__name__} has no loss_name; the head reports losses by it"
                )
        return nn.ModuleList(modules) if many else modules[0]

    def _loss_modules(self) -> list[nn.Module]:
        return list(self.loss_decode) if isinstance(self.loss_decode, nn.ModuleList) else [self.loss_decode]

    def loss(
        self, inputs: Sequence[torch.Tensor], data_samples: Sequence[DataSample]
    ) -> dict[str, torch.Tensor]:
        """Losses and ``acc_seg`` of the head on features whose samples carry ``gt_sem_seg``."""
        return self.loss_by_logits(self(inputs), data_samples)

    def loss_by_logits(
        self, seg_logits: torch.Tensor, data_samples: Sequence[DataSample]
    ) -> dict[str, torch.Tensor]:
        """Losses of (N, C, h, w) logits against the samples' labels (N, H, W).

        The logits are upsampled to the label size (half precision is first cast to float32, as
        MMSegmentation's ``force_fp32``), the sampler (if any) gives pixel weights, and each loss module adds its
        value under its ``loss_name``.
        """
        seg_label = stack_gt_sem_seg(data_samples, self.ignore_index, seg_logits.device)
        if seg_logits.dtype in (torch.float16, torch.bfloat16):
            seg_logits = seg_logits.float()
        seg_logits = resize(seg_logits, seg_label.shape[-2:], self.align_corners)
        seg_weight = None
        if self.sampler is not None:
            seg_weight = self.sampler.sample(seg_logits, seg_label, self.ignore_index, self.pixel_losses)
        losses: dict[str, torch.Tensor] = {}
        for module in self._loss_modules():
            value = module(seg_logits, seg_label, weight=seg_weight, ignore_index=self.ignore_index)
            losses[module.loss_name] = (
                losses[module.loss_name] + value if module.loss_name in losses else value
            )
        losses["acc_seg"] = pixel_accuracy(seg_logits.detach(), seg_label, self.ignore_index)
        return losses

    def pixel_losses(self, seg_logits: torch.Tensor, seg_label: torch.Tensor) -> torch.Tensor:
        """(N, H, W) sum of the per-pixel losses (``reduction_override="none"``), what OHEM ranks."""
        total: torch.Tensor | None = None
        for module in self._loss_modules():
            value = module(seg_logits, seg_label, reduction_override="none", ignore_index=self.ignore_index)
            if value.shape != seg_label.shape:
                raise ValueError(
                    f"{type(self).__name__}: {type(module).__name__} gives no per-pixel loss (shape "
                    f"{tuple(value.shape)} for labels {tuple(seg_label.shape)}); OHEM without thresh ranks "
                    "pixels by loss, so give the sampler a thresh or use per-pixel losses only"
                )
            total = value if total is None else total + value
        return total

    def extra_repr(self) -> str:
        return (
            f"input_transform={self.input_transform}, ignore_index={self.ignore_index}, "
            f"align_corners={self.align_corners}"
        )
