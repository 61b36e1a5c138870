"""NRTR (Sheng, Chen and Xu, ICDAR 2019, arXiv:1806.00926) as MMOCR's ``nrtr_modality-transform``.

- :class:`NRTRModalityTransform`: two 3x3 stride-2 convolutions (each conv, ReLU, BN: MMOCR's
  order), then each column's (height x channels) values through a linear layer: the image becomes a
  sequence of W/4 vectors.
- :class:`NRTREncoder`: pre-LN transformer layers (LN -> self-attention -> residual, LN -> GELU
  feed-forward -> residual) and a final LN; MMOCR adds no position encoding on the encoder side;
  padded columns (``valid_ratio``) are masked out of attention.
- :class:`NRTRDecoder`: token embeddings + sinusoidal positions, pre-LN layers with causal masked
  self-attention and cross-attention, a final LN (eps 1e-6) and a linear classifier. Training is
  teacher forcing on ``<BOS> text <EOS> <PAD>...``; testing is greedy and autoregressive for
  ``max_seq_len`` steps (unrolled: what export traces).
- :class:`CEModuleLoss`: cross-entropy ignoring the padding (MMOCR's; NRTR uses
  ``ignore_first_char=True, flatten=True`` and the default ``reduction="none"``, whose per-token
  losses the engine averages, padding positions counting as zeros).

MMOCR's config: 12 encoder and 6 decoder layers, d_model 512, 8 heads of 64, d_inner 256, dropout 0.1,
``max_seq_len=30``, colour crops resized to 32 x 100, ImageNet mean/std, the dictionary
``english_digits_symbols`` with ``<BOS/EOS>``, ``<PAD>`` and ``<UKN>``.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ....registry import MODELS, ConfigError
from ....structures import DataSample
from ..constraints import Constraint, LexiconConstraint
from ..decoding import decode_length
from ..dictionary import Dictionary
from .recognizer import (
    BaseTextRecogModuleLoss,
    EncoderDecoderRecognizer,
    at_least_float32,
    build_dictionary,
    valid_ratios_of,
)

__all__ = [
    "CEModuleLoss",
    "MultiHeadAttention",
    "NRTR",
    "NRTRDecoder",
    "NRTREncoder",
    "NRTRModalityTransform",
    "PositionalEncoding",
]


@MODELS.register()
class NRTRModalityTransform(nn.Module):
    """Image (N, C, H, W) -> (N, out_channels, 1, W/4) (a sequence of column vectors).

    Args:
        in_channels: input channels (3: colour).
        input_height: the crops' height (32); fixes the linear layer's input, 64 * H/4.
        out_channels: the linear layer's output (d_model; 512 in MMOCR).
    """

    def __init__(self, in_channels: int = 3, input_height: int = 32, out_channels: int = 512) -> None:
        super().__init__()
        self.conv_1 = nn.Conv2d(in_channels, 32, kernel_size=3, stride=2, padding=1)
        self.relu_1 = nn.ReLU(True)
        self.bn_1 = nn.BatchNorm2d(32)
        self.conv_2 = nn.Conv2d(32, 64, kernel_size=3, stride=2, padding=1)
        self.relu_2 = nn.ReLU(True)
        self.bn_2 = nn.BatchNorm2d(64)
        self.input_height = input_height
        height = ((input_height - 1) // 2 + 1 - 1) // 2 + 1
        self.linear = nn.Linear(64 * height, out_channels)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        x = self.bn_1(self.relu_1(self.conv_1(x)))
        x = self.bn_2(self.relu_2(self.conv_2(x)))
        n, c, h, w = x.shape
        if c * h != self.linear.in_features:
            raise ValueError(
                f"NRTRModalityTransform: built for {self.input_height}-pixel-high crops, got height {x.shape[2] * 4}"
            )
        x = self.linear(x.permute(0, 3, 2, 1).reshape(n, w, h * c))  # (N, W', d): per column, h-major
        return x.permute(0, 2, 1).reshape(n, -1, 1, w)


class PositionalEncoding(nn.Module):
    """Adds the sinusoidal table of Vaswani et al. (sin on even, cos on odd dimensions)."""

    def __init__(self, d_hid: int = 512, n_position: int = 200) -> None:
        super().__init__()
        exponent = 2 * (np.arange(d_hid) // 2) / d_hid
        angles = np.arange(n_position)[:, None] / np.power(10000.0, exponent)[None, :]
        table = np.where(np.arange(d_hid)[None, :] % 2 == 0, np.sin(angles), np.cos(angles))
        self.register_buffer(
            "position_table", torch.tensor(table, dtype=torch.float32)[None], persistent=False
        )

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        """(N, T, d) + positions 0..T-1."""
        return x + self.position_table[:, : x.shape[1]].to(x.dtype)


class MultiHeadAttention(nn.Module):
    """Scaled dot-product attention over ``n_head`` heads (no biases by default, as MMOCR).

    ``mask``: (N, T_k) or (N, T_q, T_k), nonzero = may attend.
    """

    def __init__(
        self,
        n_head: int = 8,
        d_model: int = 512,
        d_k: int = 64,
        d_v: int = 64,
        dropout: float = 0.1,
        qkv_bias: bool = False,
    ) -> None:
        super().__init__()
        if n_head * d_k != d_model:
            raise ValueError(
                f"MultiHeadAttention: n_head * d_k = {n_head} * {d_k} must equal d_model = {d_model}"
            )
        self.n_head, self.d_k, self.d_v = n_head, d_k, d_v
        self.linear_q = nn.Linear(n_head * d_k, n_head * d_k, bias=qkv_bias)
        self.linear_k = nn.Linear(n_head * d_k, n_head * d_k, bias=qkv_bias)
        self.linear_v = nn.Linear(n_head * d_v, n_head * d_v, bias=qkv_bias)
        self.fc = nn.Linear(n_head * d_v, d_model, bias=qkv_bias)
        self.attn_drop = nn.Dropout(dropout)
        self.proj_drop = nn.Dropout(dropout)

    def forward(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """(N, T_q, d_model) queries over (N, T_k, d_model) keys and values -> (N, T_q, d_model)."""
        return self.attend(q, *self.project_kv(k, v), mask)

    def project_kv(self, k: torch.Tensor, v: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keys and values per head: (N, n_head, T_k, d_k) and (N, n_head, T_k, d_v)."""
        n, length = k.shape[:2]
        k = self.linear_k(k).view(n, length, self.n_head, self.d_k).transpose(1, 2)
        v = self.linear_v(v).view(n, length, self.n_head, self.d_v).transpose(1, 2)
        return k, v

    def attend(
        self, q: torch.Tensor, k: torch.Tensor, v: torch.Tensor, mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """Queries (N, T_q, d_model) over projected keys / values (see :meth:`project_kv`)."""
        n, len_q = q.shape[:2]
        q = self.linear_q(q).view(n, len_q, self.n_head, self.d_k).transpose(1, 2)
        attn = torch.matmul(q / self.d_k**0.5, k.transpose(2, 3))
        if mask is not None:
            mask = mask[:, None] if mask.dim() == 3 else mask[:, None, None]
            attn = attn.masked_fill(mask == 0, float("-inf"))
        attn = self.attn_drop(attn.softmax(dim=-1))
        out = torch.matmul(attn, v).transpose(1, 2).reshape(n, len_q, self.n_head * self.d_v)
        return self.proj_drop(self.fc(out))


class PositionwiseFeedForward(nn.Module):
    """Linear -> GELU -> Linear -> dropout."""

    def __init__(self, d_in: int, d_hid: int, dropout: float = 0.1) -> None:
        super().__init__()
        self.w_1, self.act, self.w_2 = nn.Linear(d_in, d_hid), nn.GELU(), nn.Linear(d_hid, d_in)
        self.dropout = nn.Dropout(dropout)

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.dropout(self.w_2(self.act(self.w_1(x))))


class TFEncoderLayer(nn.Module):
    """Pre-LN encoder layer: x + attn(LN(x)), then x + ffn(LN(x))."""

    def __init__(self, d_model: int, d_inner: int, n_head: int, d_k: int, d_v: int, dropout: float) -> None:
        super().__init__()
        self.attn = MultiHeadAttention(n_head, d_model, d_k, d_v, dropout)
        self.norm1, self.norm2 = nn.LayerNorm(d_model), nn.LayerNorm(d_model)
        self.mlp = PositionwiseFeedForward(d_model, d_inner, dropout)

    def forward(self, x: torch.Tensor, mask: torch.Tensor | None = None) -> torch.Tensor:
        normed = self.norm1(x)
        x = x + self.attn(normed, normed, normed, mask)
        return x + self.mlp(self.norm2(x))


class TFDecoderLayer(nn.Module):
    """Pre-LN decoder layer: masked self-attention, cross-attention, feed-forward, each residual."""

    def __init__(self, d_model: int, d_inner: int, n_head: int, d_k: int, d_v: int, dropout: float) -> None:
        super().__init__()
        self.norm1, self.norm2, self.norm3 = (nn.LayerNorm(d_model) for _ in range(3))
        self.self_attn = MultiHeadAttention(n_head, d_model, d_k, d_v, dropout)
        self.enc_attn = MultiHeadAttention(n_head, d_model, d_k, d_v, dropout)
        self.mlp = PositionwiseFeedForward(d_model, d_inner, dropout)

    def forward(
        self,
        x: torch.Tensor,
        memory: torch.Tensor,
        self_attn_mask: torch.Tensor | None = None,
        enc_attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        normed = self.norm1(x)
        x = x + self.self_attn(normed, normed, normed, self_attn_mask)
        x = x + self.enc_attn(self.norm2(x), memory, memory, enc_attn_mask)
        return x + self.mlp(self.norm3(x))

    def step(
        self,
        x: torch.Tensor,
        cache: dict[str, torch.Tensor],
        key_mask: torch.Tensor,
        enc_attn_mask: torch.Tensor | None = None,
    ) -> torch.Tensor:
        """One new position (N, 1, d_model), its self-attention keys / values appended to ``cache``
        (``"k"``, ``"v"``, plus the memory's projected ``"mem_k"``, ``"mem_v"``); ``key_mask`` (N, t+1)
        marks the non-padding positions so far. Equals :meth:`forward`'s last position (the mask is
        causal, so earlier positions never see later ones)."""
        normed = self.norm1(x)
        k, v = self.self_attn.project_kv(normed, normed)
        if "k" in cache:
            k, v = torch.cat([cache["k"], k], dim=2), torch.cat([cache["v"], v], dim=2)
        cache["k"], cache["v"] = k, v
        x = x + self.self_attn.attend(normed, k, v, key_mask)
        x = x + self.enc_attn.attend(self.norm2(x), cache["mem_k"], cache["mem_v"], enc_attn_mask)
        return x + self.mlp(self.norm3(x))


def source_mask(
    length: int, data_samples: Sequence[DataSample] | None, device: torch.device
) -> torch.Tensor | None:
    """(N, length) mask of the unpadded columns (``valid_ratio``); None when nothing is padded."""
    ratios = valid_ratios_of(data_samples)
    if ratios is None or all(ratio >= 1.0 for ratio in ratios):
        return None
    mask = torch.zeros((len(ratios), length), device=device)
    for row, ratio in enumerate(ratios):
        mask[row, : decode_length(length, ratio)] = 1
    return mask


@MODELS.register()
class NRTREncoder(nn.Module):
    """Transformer encoder over the backbone's column sequence.

    Args:
        n_layers, n_head, d_k, d_v, d_model, d_inner, dropout: the transformer's sizes (MMOCR's
            defaults; its NRTR config uses ``n_layers=12``).

    Call: ``encoder(feat (N, d_model, H, W), data_samples=None) -> (N, H*W, d_model)``.
    """

    def __init__(
        self,
        n_layers: int = 6,
        n_head: int = 8,
        d_k: int = 64,
        d_v: int = 64,
        d_model: int = 512,
        d_inner: int = 256,
        dropout: float = 0.1,
    ) -> None:
        super().__init__()
        self.d_model = d_model
        self.layer_stack = nn.ModuleList(
            TFEncoderLayer(d_model, d_inner, n_head, d_k, d_v, dropout) for _ in range(n_layers)
        )
        self.layer_norm = nn.LayerNorm(d_model)

    def forward(self, feat: torch.Tensor, data_samples: Sequence[DataSample] | None = None) -> torch.Tensor:
        n, c, h, w = feat.shape
        output = feat.reshape(n, c, h * w).permute(0, 2, 1)
        mask = source_mask(h * w, data_samples, feat.device)
        for layer in self.layer_stack:
            output = layer(output, mask)
        return self.layer_norm(output)


@MODELS.register()
class NRTRDecoder(nn.Module):
    """Autoregressive transformer decoder.

    Args:
        dictionary: with start and end tokens (MMOCR: one shared ``<BOS/EOS>``) and padding.
        n_layers, d_embedding, n_head, d_k, d_v, d_model, d_inner, dropout: sizes (MMOCR's defaults).
        n_position: rows of the position table (> ``max_seq_len``).
        max_seq_len: decoding steps at test time, and the padded target length in training.
    """

    output_kind = "attention"

    def __init__(
        self,
        dictionary: Dictionary | Mapping[str, Any],
        n_layers: int = 6,
        d_embedding: int = 512,
        n_head: int = 8,
        d_k: int = 64,
        d_v: int = 64,
        d_model: int = 512,
        d_inner: int = 256,
        n_position: int = 200,
        dropout: float = 0.1,
        max_seq_len: int = 30,
    ) -> None:
        super().__init__()
        self.dictionary = build_dictionary(dictionary)
        for token in ("start", "padding"):
            if getattr(self.dictionary, f"{token}_idx") is None:
                raise ValueError(f"NRTRDecoder: the dictionary needs a {token} token")
        if n_position <= max_seq_len:
            raise ValueError(
                f"NRTRDecoder: n_position ({n_position}) must exceed max_seq_len ({max_seq_len})"
            )
        self.padding_idx, self.start_idx = self.dictionary.padding_idx, self.dictionary.start_idx
        self.max_seq_len = max_seq_len
        self.trg_word_emb = nn.Embedding(
            self.dictionary.num_classes, d_embedding, padding_idx=self.padding_idx
        )
        self.position_enc = PositionalEncoding(d_embedding, n_position=n_position)
        self.dropout = nn.Dropout(dropout)
        self.layer_stack = nn.ModuleList(
            TFDecoderLayer(d_model, d_inner, n_head, d_k, d_v, dropout) for _ in range(n_layers)
        )
        self.layer_norm = nn.LayerNorm(d_model, eps=1e-6)
        self.classifier = nn.Linear(d_model, self.dictionary.num_classes)

    def attend(
        self, trg_seq: torch.Tensor, memory: torch.Tensor, src_mask: torch.Tensor | None
    ) -> torch.Tensor:
        """(N, L) tokens -> (N, L, d_model): position t sees tokens <= t that are not padding."""
        length = trg_seq.shape[1]
        causal = torch.ones(length, length, dtype=torch.bool, device=trg_seq.device).tril()
        trg_mask = (trg_seq != self.padding_idx)[:, None, :] & causal[None]
        output = self.dropout(self.position_enc(self.trg_word_emb(trg_seq)))
        for layer in self.layer_stack:
            output = layer(output, memory, self_attn_mask=trg_mask, enc_attn_mask=src_mask)
        return self.layer_norm(output)

    def forward_train(
        self,
        feat: Any,
        out_enc: torch.Tensor,
        data_samples: Sequence[DataSample] | None = None,
        targets: Mapping[str, Any] | None = None,
    ) -> torch.Tensor:
        """Teacher forcing: (N, L, num_classes) logits of ``targets["padded_indexes"]`` (N, L)."""
        trg_seq = targets["padded_indexes"].to(out_enc.device)
        src_mask = source_mask(out_enc.shape[1], data_samples, out_enc.device)
        return self.classifier(self.attend(trg_seq, out_enc, src_mask))

    def forward_test(
        self, feat: Any, out_enc: torch.Tensor, data_samples: Sequence[DataSample] | None = None
    ) -> torch.Tensor:
        """Greedy decoding: (N, max_seq_len, num_classes) probabilities of each step, each step fed
        the previous steps' argmax (MMOCR's loop, unrolled).

        MMOCR reruns the decoder on the whole padded sequence at every step; as the self-attention is
        causal (and padding keys are masked), step t only depends on tokens 0..t, so each layer
        keeps the keys and values of the past positions (a cache) and processes the new position
        only: the same probabilities in O(T) instead of O(T^2) token passes.
        """
        src_mask = source_mask(out_enc.shape[1], data_samples, out_enc.device)
        caches = [
            dict(zip(("mem_k", "mem_v"), layer.enc_attn.project_kv(out_enc, out_enc)))
            for layer in self.layer_stack
        ]
        token = torch.full((out_enc.shape[0], 1), self.start_idx, dtype=torch.long, device=out_enc.device)
        key_mask = torch.ones((out_enc.shape[0], 0), dtype=torch.bool, device=out_enc.device)
        table = self.position_enc.position_table
        outputs = []
        for step in range(self.max_seq_len):
            key_mask = torch.cat([key_mask, token != self.padding_idx], dim=1)
            x = self.dropout(self.trg_word_emb(token) + table[:, step : step + 1].to(out_enc.dtype))
            for layer, cache in zip(self.layer_stack, caches):
                x = layer.step(x, cache, key_mask, src_mask)
            probs = self.classifier(self.layer_norm(x[:, 0])).softmax(dim=-1)
            outputs.append(probs)
            token = probs.argmax(dim=-1, keepdim=True)
        return torch.stack(outputs, dim=1)

    def sequence_log_probs(
        self, out_enc: torch.Tensor, sequences: torch.Tensor, src_mask: torch.Tensor | None = None
    ) -> torch.Tensor:
        """log p(sequence) of candidate texts, by teacher forcing.

        Args:
            out_enc: (1, S, d_model) the encoding of one image.
            sequences: (K, L) ``<BOS> text <EOS> <PAD>...`` token rows.

        Returns:
            (K,) summed log probabilities of each row's tokens after ``<BOS>`` up to its ``<EOS>``.
        """
        memory = out_enc.expand(sequences.shape[0], -1, -1)
        if src_mask is not None:
            src_mask = src_mask.expand(sequences.shape[0], -1)
        log_probs = self.classifier(self.attend(sequences[:, :-1], memory, src_mask)).log_softmax(dim=-1)
        picked = log_probs.gather(2, sequences[:, 1:, None]).squeeze(2)
        return (picked * (sequences[:, 1:] != self.padding_idx)).sum(dim=1)


@MODELS.register()
class CEModuleLoss(BaseTextRecogModuleLoss):
    """Cross-entropy on teacher-forced logits (MMOCR's ``CEModuleLoss``).

    Args:
        dictionary, max_seq_len, letter_case, pad_with: see :class:`BaseTextRecogModuleLoss`.
        ignore_char: the target index to ignore: ``"padding"`` (default), ``"start"``, ``"end"``,
            ``"unknown"``, ``"none"``, a character, or an index.
        flatten: flatten (N, T, C) to (N*T, C) before the loss (same values).
        reduction: ``"none"`` (MMOCR's default: per-token losses, ignored ones 0; the engine's
            mean then divides by every position), ``"mean"`` (over the non-ignored tokens) or ``"sum"``.
        ignore_first_char: drop the first target (``<BOS>``) and the last output step, so output t
            predicts token t + 1 (NRTR).

    Call: ``loss(logits (N, T, C), data_samples, targets=None) -> {"loss_ce": ...}``.
    """

    def __init__(
        self,
        dictionary: Dictionary | Mapping[str, Any],
        max_seq_len: int = 40,
        letter_case: str = "unchanged",
        pad_with: str = "auto",
        ignore_char: int | str = "padding",
        flatten: bool = False,
        reduction: str = "none",
        ignore_first_char: bool = False,
    ) -> None:
        super().__init__(dictionary, max_seq_len=max_seq_len, letter_case=letter_case, pad_with=pad_with)
        if reduction not in ("none", "mean", "sum"):
            raise ValueError(f"CEModuleLoss: reduction must be 'none', 'mean' or 'sum', got {reduction!r}")
        if self.pad_idx is None:
            raise ValueError("CEModuleLoss needs padded targets (pad_with other than 'none')")
        if isinstance(ignore_char, int):
            ignore_index = ignore_char
        else:
            named = {
                "none": -1,
                "start": self.dictionary.start_idx,
                "padding": self.dictionary.padding_idx,
                "end": self.dictionary.end_idx,
                "unknown": self.dictionary.unknown_idx,
            }
            ignore_index = (
                named[ignore_char]
                if ignore_char in named
                else self.dictionary.char2idx(ignore_char, strict=False)
            )
            if ignore_index is None:
                raise ValueError(f"CEModuleLoss: ignore_char={ignore_char!r} is not in the dictionary")
        self.ignore_index, self.flatten, self.reduction = ignore_index, flatten, reduction
        self.ignore_first_char = ignore_first_char

    def forward(
        self,
        outputs: torch.Tensor,
        data_samples: Sequence[DataSample],
        targets: Mapping[str, Any] | None = None,
    ) -> dict[str, torch.Tensor]:
        if targets is None:
            targets = self.get_targets(data_samples)
        padded = targets["padded_indexes"].to(outputs.device)
        if self.ignore_first_char:
            padded, outputs = padded[:, 1:], outputs[:, :-1]
        if self.flatten:
            logits, labels = outputs.reshape(-1, outputs.shape[-1]), padded.reshape(-1)
        else:
            logits, labels = outputs.permute(0, 2, 1), padded
        loss = F.cross_entropy(
            at_least_float32(logits), labels, ignore_index=self.ignore_index, reduction=self.reduction
        )
        return {"loss_ce": loss}


@MODELS.register()
class NRTR(EncoderDecoderRecognizer):
    """NRTR: :class:`NRTRModalityTransform` + :class:`NRTREncoder` + :class:`NRTRDecoder`, default loss
    ``CEModuleLoss(dictionary, max_seq_len=decoder.max_seq_len, ignore_first_char=True, flatten=True)``.

    A lexicon constraint (``test_cfg.lexicon`` or the sample's) picks the lexicon word of highest
    probability (each word scored exactly by teacher forcing: the product of its characters' and the
    end token's probabilities). Patterns are not supported for this model (a ConfigError).
    """

    def default_module_loss(self) -> nn.Module:
        return CEModuleLoss(
            self.dictionary, max_seq_len=self.decoder.max_seq_len, ignore_first_char=True, flatten=True
        )

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        if self.decoder.output_kind != "attention":
            raise ValueError("NRTR: the decoder must be an attention decoder (e.g. NRTRDecoder)")
        if self.module_loss.max_seq_len != self.decoder.max_seq_len:
            raise ConfigError(
                f"NRTR: module_loss.max_seq_len ({self.module_loss.max_seq_len}) differs from "
                f"decoder.max_seq_len ({self.decoder.max_seq_len}); set both to the same value"
            )
        if self.dictionary.end_idx is None:
            raise ValueError("NRTR: the dictionary needs an end token (with_end=True)")

    def decode_constrained_attention(
        self, probs: np.ndarray, sample: DataSample, image: torch.Tensor, constraint: Constraint
    ) -> tuple[np.ndarray, np.ndarray]:
        if not isinstance(constraint, LexiconConstraint):
            raise ConfigError("NRTR: only a lexicon can constrain its decoding (patterns need a CTC model)")
        words = self._lexicon_words(constraint)
        with torch.no_grad():
            out_enc = self._encode(image, [sample])[1]
            src_mask = source_mask(out_enc.shape[1], [sample], out_enc.device)
            rows = self.module_loss.padded_indexes([torch.tensor(w, dtype=torch.long) for w in words])
            scores = self.decoder.sequence_log_probs(out_enc, rows.to(out_enc.device), src_mask)
            best = words[int(scores.argmax())]
            tokens = rows[int(scores.argmax())][None].to(out_enc.device)
            step_probs = self.decoder.classifier(
                self.decoder.attend(tokens[:, :-1], out_enc, src_mask)
            ).softmax(-1)
            char_scores = step_probs[0, torch.arange(len(best)), tokens[0, 1 : len(best) + 1]]
        return np.asarray(best, dtype=np.int64), char_scores.float().cpu().numpy()

    def _lexicon_words(self, constraint: LexiconConstraint) -> list[list[int]]:
        cache = getattr(self, "_lexicon_cache", None)
        if cache is None or cache[0] is not constraint:
            encoded = []
            for word in constraint.words:
                indexes = [self.dictionary.char2idx(c, strict=False) for c in word]
                if None not in indexes and len(indexes) < self.decoder.max_seq_len - 1:
                    encoded.append(indexes)
            if not encoded:
                raise ValueError("NRTR: no lexicon word can be written with the dictionary")
            self._lexicon_cache = cache = (constraint, encoded)
        return cache[1]
