"""CRNN (Shi, Bai and Yao, TPAMI 2017, arXiv:1507.05717) as MMOCR's ``crnn_mini-vgg``.

A VGG-style CNN turns a 32 x W crop into a feature sequence of height 1 and width W/4 + 1
(26 frames for W = 100), two bidirectional LSTMs and a linear layer give per-frame class logits,
trained with CTC. MMOCR's config: ``MiniVGG(leaky_relu=False, input_channels=1)`` on gray crops
resized to 32 x 100 and normalised by ``mean=[127], std=[127]``; ``CRNNDecoder(in_channels=512,
rnn_flag=True)``; the dictionary ``lower_english_digits`` with padding (the blank) and
``CTCModuleLoss(letter_case="lower")``.
"""

from __future__ import annotations

from collections import OrderedDict
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ....registry import MODELS
from ....structures import DataSample
from ..dictionary import Dictionary
from .ctc import CTCModuleLoss
from .recognizer import EncoderDecoderRecognizer, build_dictionary

__all__ = ["CRNN", "CRNNDecoder", "MiniVGG"]

MINI_VGG_CHANNELS = (64, 128, 256, 256, 512, 512, 512)


@MODELS.register()
class MiniVGG(nn.Module):
    """CRNN's CNN: 7 convolutions (3x3 but the last 2x2 without padding), BN after the 3rd, 5th
    and 7th, max-pooling 2x2 after the 1st and 2nd and 2x2 with stride (2, 1), padding (0, 1)
    after the 4th and 6th (keeping the width for narrow characters). A 32 x W input gives
    (N, channels[-1], 1, W // 4 + 1).

    Args:
        leaky_relu: LeakyReLU(0.2) instead of ReLU (MMOCR's default True; its CRNN config: False).
        input_channels: 1 for gray crops (MMOCR's CRNN), 3 for colour.
        channels: the 7 convolutions' widths; the published ``(64, 128, 256, 256, 512, 512, 512)``,
            narrower for CPU training (e.g. ``(32, 64, 128, 128, 256, 256, 256)``).
        norm_every_conv: BN after every convolution, not only the 3rd, 5th and 7th (a CPU recipe: from
            scratch, CTC leaves its all-blank plateau several times sooner; the published layout is False).
    """

    def __init__(
        self,
        leaky_relu: bool = True,
        input_channels: int = 3,
        channels: Sequence[int] = MINI_VGG_CHANNELS,
        norm_every_conv: bool = False,
    ) -> None:
        super().__init__()
        if len(channels) != 7:
            raise ValueError(f"MiniVGG: channels must list 7 widths, got {len(channels)}")
        layers: list[tuple[str, nn.Module]] = []

        def conv(i: int, batch_norm: bool = False) -> None:
            kernel, padding = (2, 0) if i == 6 else (3, 1)
            source = input_channels if i == 0 else channels[i - 1]
            layers.append((f"conv{i}", nn.Conv2d(source, channels[i], kernel, 1, padding)))
            if batch_norm or norm_every_conv:
                layers.append((f"batchnorm{i}", nn.BatchNorm2d(channels[i])))
            layers.append(
                (f"relu{i}", nn.LeakyReLU(0.2, inplace=True) if leaky_relu else nn.ReLU(inplace=True))
            )

        conv(0)
        layers.append(("pooling0", nn.MaxPool2d(2, 2)))
        conv(1)
        layers.append(("pooling1", nn.MaxPool2d(2, 2)))
        conv(2, True)
        conv(3)
        layers.append(("pooling2", nn.MaxPool2d((2, 2), (2, 1), (0, 1))))
        conv(4, True)
        conv(5)
        layers.append(("pooling3", nn.MaxPool2d((2, 2), (2, 1), (0, 1))))
        conv(6, True)
        # ``cnn.conv0`` ... as MMOCR names them, so its checkpoints' keys match
        self.cnn = nn.Sequential(OrderedDict(layers))
        self.out_channels = channels[-1]

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, input_channels, 32, W) -> (N, channels[-1], 1, W // 4 + 1)."""
        return self.cnn(x)


class BidirectionalLSTM(nn.Module):
    """A bidirectional LSTM and a linear layer on its (T, N, 2 * hidden) output."""

    def __init__(self, in_channels: int, hidden_channels: int, out_channels: int) -> None:
        super().__init__()
        self.rnn = nn.LSTM(in_channels, hidden_channels, bidirectional=True)
        self.embedding = nn.Linear(hidden_channels * 2, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(T, N, in_channels) -> (T, N, out_channels)."""
        recurrent, _ = self.rnn(x)
        return self.embedding(recurrent)


@MODELS.register()
class CRNNDecoder(nn.Module):
    """Per-frame class logits from a height-1 feature map.

    Args:
        in_channels: the backbone's output channels.
        dictionary: the dictionary (its ``num_classes`` are the outputs).
        rnn_flag: two BiLSTM layers (hidden ``hidden_channels``, the second's linear layer giving the
            classes), as the paper; False: a 1x1 convolution only.
        hidden_channels: the LSTMs' hidden size (256 in the paper and MMOCR).
    """

    output_kind = "ctc"

    def __init__(
        self,
        in_channels: int,
        dictionary: Dictionary | Mapping[str, Any],
        rnn_flag: bool = True,
        hidden_channels: int = 256,
    ) -> None:
        super().__init__()
        self.dictionary = build_dictionary(dictionary)
        num_classes = self.dictionary.num_classes
        self.rnn_flag = rnn_flag
        if rnn_flag:
            self.decoder = nn.Sequential(
                BidirectionalLSTM(in_channels, hidden_channels, hidden_channels),
                BidirectionalLSTM(hidden_channels, hidden_channels, num_classes),
            )
        else:
            self.decoder = nn.Conv2d(in_channels, num_classes, kernel_size=1)

    def forward_train(
        self,
        feat: torch.Tensor,
        out_enc: Any = None,
        data_samples: Sequence[DataSample] | None = None,
        targets: Mapping[str, Any] | None = None,
    ) -> torch.Tensor:
        """(N, C_in, 1, T) features -> (N, T, num_classes) logits."""
        if feat.shape[2] != 1:
            raise ValueError(
                f"CRNNDecoder: the feature map must have height 1, got {tuple(feat.shape)}; feed 32-pixel-high crops"
            )
        if self.rnn_flag:
            sequence = feat.squeeze(2).permute(2, 0, 1)  # (T, N, C)
            return self.decoder(sequence).permute(1, 0, 2).contiguous()
        return self.decoder(feat).squeeze(2).permute(0, 2, 1).contiguous()

    def forward_test(
        self, feat: torch.Tensor, out_enc: Any = None, data_samples: Sequence[DataSample] | None = None
    ) -> torch.Tensor:
        """(N, T, num_classes) per-frame probabilities."""
        return self.forward_train(feat, out_enc, data_samples).softmax(dim=-1)


@MODELS.register()
class CRNN(EncoderDecoderRecognizer):
    """CRNN: :class:`MiniVGG` + :class:`CRNNDecoder`, CTC loss (default ``CTCModuleLoss(dictionary)``),
    greedy or beam-search CTC decoding. See :class:`EncoderDecoderRecognizer` for the arguments."""

    def default_module_loss(self) -> nn.Module:
        return CTCModuleLoss(self.dictionary)

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.decoder.output_kind != "ctc":
            raise ValueError("CRNN: the decoder must be a CTC decoder (e.g. CRNNDecoder)")
        if self.dictionary.padding_idx is None:
            raise ValueError("CRNN: the dictionary needs with_padding=True (the CTC blank)")
