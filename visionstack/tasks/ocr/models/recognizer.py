"""The encoder-decoder frame of text recognizers (MMOCR's ``EncoderDecoderRecognizer``).

``inputs`` (N, C, 32, W) -> optional ``preprocessor`` (e.g. a rectifier) -> ``backbone`` -> optional
``encoder`` -> ``decoder``. The decoder says what its outputs are (``output_kind``):

- ``"ctc"`` (CRNN): per-frame logits (N, T, C), trained with CTC, decoded greedily or by prefix beam
  search (:mod:`..decoding`);
- ``"attention"`` (NRTR): per-step logits, trained with teacher forcing, decoded autoregressively
  (greedy until the end token).

Decoding options come from ``test_cfg``: ``decoding`` (``"greedy"`` | ``"beam"``, CTC only),
``beam_width`` (10), ``lexicon`` (a word list or a file path), ``pattern`` (a regex),
``ignore_case`` (of the lexicon, True). A sample's metainfo ``lexicon`` / ``pattern`` (the command
line's ``--lexicon`` / ``--pattern``) replace those of ``test_cfg`` for that sample.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ....models.base_model import BaseModel
from ....registry import MODELS, ConfigError
from ....structures import DataSample, LabelData
from ..constraints import Constraint
from ..decoding import attention_greedy, cached_constraint, decode_indices
from ..dictionary import LETTER_CASES, Dictionary, apply_letter_case
from .recog_preprocessor import TextRecogDataPreprocessor

__all__ = [
    "at_least_float32",
    "BaseTextRecogModuleLoss",
    "EncoderDecoderRecognizer",
    "build_dictionary",
    "valid_ratios_of",
]

DECODINGS = ("greedy", "beam")


def build_dictionary(dictionary: Dictionary | Mapping[str, Any]) -> Dictionary:
    """A :class:`Dictionary`, or its keyword arguments (a ``type`` key is allowed and ignored)."""
    if isinstance(dictionary, Dictionary):
        return dictionary
    if isinstance(dictionary, Mapping):
        return Dictionary(**{key: value for key, value in dictionary.items() if key != "type"})
    raise TypeError(f"dictionary must be a Dictionary or a dict of its arguments, got {type(dictionary)}")


def at_least_float32(tensor: torch.Tensor) -> torch.Tensor:
    """Half-precision logits (mixed precision) to float32 for the losses; float64 stays."""
    return tensor.float() if tensor.dtype in (torch.float16, torch.bfloat16) else tensor


def valid_ratios_of(data_samples: Sequence[DataSample] | None) -> list[float] | None:
    """The samples' ``valid_ratio`` metainfo (1.0 when absent); None without samples."""
    if data_samples is None:
        return None
    return [float(getattr(sample, "valid_ratio", 1.0) or 1.0) for sample in data_samples]


class BaseTextRecogModuleLoss(nn.Module):
    """Turns the samples' ``gt_text.item`` into index targets (MMOCR's ``BaseTextRecogModuleLoss``).

    Args:
        dictionary: the recognizer's dictionary.
        max_seq_len: length of the padded targets.
        letter_case: ``"unchanged"``, ``"upper"`` or ``"lower"`` (apply before encoding; use
            ``"lower"`` with a lower-case dictionary such as ``lower_english_digits``).
        pad_with: ``"auto"`` (the padding token, else the end token), ``"padding"``, ``"end"`` or
            ``"none"`` (no padding: targets keep their own lengths).
    """

    def __init__(
        self,
        dictionary: Dictionary | Mapping[str, Any],
        max_seq_len: int = 40,
        letter_case: str = "unchanged",
        pad_with: str = "auto",
    ) -> None:
        super().__init__()
        self.dictionary = build_dictionary(dictionary)
        if letter_case not in LETTER_CASES:
            raise ValueError(
                f"{type(self).__name__}: letter_case must be one of {LETTER_CASES}, got {letter_case!r}"
            )
        self.max_seq_len, self.letter_case = max_seq_len, letter_case
        choices = {
            "auto": self.dictionary.padding_idx
            if self.dictionary.padding_idx is not None
            else self.dictionary.end_idx,
            "padding": self.dictionary.padding_idx,
            "end": self.dictionary.end_idx,
            "none": None,
        }
        if pad_with not in choices:
            raise ValueError(
                f"{type(self).__name__}: pad_with must be one of {tuple(choices)}, got {pad_with!r}"
            )
        self.pad_idx = choices[pad_with]
        if self.pad_idx is None and pad_with != "none":
            raise ValueError(
                f"{type(self).__name__}: pad_with={pad_with!r} but the dictionary has no "
                f"{'padding or end' if pad_with == 'auto' else pad_with} token"
            )

    def text_indexes(self, data_samples: Sequence[DataSample]) -> list[torch.Tensor]:
        """(L_i,) int64 character indexes of each sample's ``gt_text.item`` (no special token)."""
        indexes = []
        for sample in data_samples:
            text = apply_letter_case(sample.gt_text.item, self.letter_case)
            indexes.append(torch.tensor(self.dictionary.str2idx(text), dtype=torch.long))
        return indexes

    def padded_indexes(self, indexes: Sequence[torch.Tensor]) -> torch.Tensor | list[torch.Tensor]:
        """``<BOS>`` (if any) + indexes + ``<EOS>`` (if any), padded / cut to ``max_seq_len``:
        (N, max_seq_len) int64; a list of unpadded tensors when ``pad_with="none"``."""
        start, end = self.dictionary.start_idx, self.dictionary.end_idx
        sequences = []
        for index in indexes:
            parts = ([torch.tensor([start])] if start is not None else []) + [index]
            parts += [torch.tensor([end])] if end is not None else []
            sequences.append(torch.cat(parts).long())
        if self.pad_idx is None:
            return sequences
        padded = torch.full((len(sequences), self.max_seq_len), self.pad_idx, dtype=torch.long)
        for row, sequence in enumerate(sequences):
            count = min(len(sequence), self.max_seq_len)
            padded[row, :count] = sequence[:count]
        return padded

    def get_targets(self, data_samples: Sequence[DataSample]) -> dict[str, Any]:
        """``{"indexes": [(L_i,)], "padded_indexes": (N, max_seq_len)}`` for the batch."""
        indexes = self.text_indexes(data_samples)
        return {"indexes": indexes, "padded_indexes": self.padded_indexes(indexes)}


@MODELS.register()
class EncoderDecoderRecognizer(BaseModel):
    """Backbone, optional encoder and a decoder, with their loss and decoding.

    Args:
        backbone: image -> features (N, C, H', W').
        decoder: a decoder with ``output_kind`` (``"ctc"`` | ``"attention"``), ``dictionary``,
            ``forward_train(feat, out_enc, data_samples, targets) -> logits (N, T, C)`` and
            ``forward_test(feat, out_enc, data_samples) -> probabilities (N, T, C)``.
        dictionary: the dictionary (default: the decoder's; if given, it must have the decoder's
            classes).
        module_loss: the loss (default: the subclass's :meth:`default_module_loss`).
        preprocessor: an optional module run before the backbone.
        encoder: an optional ``encoder(feat, data_samples) -> out_enc``.
        test_cfg: decoding options (see the module docstring).
        data_preprocessor: a built preprocessor, a dict of :class:`TextRecogDataPreprocessor`
            arguments, or None (no normalisation).

    Modes:
        ``"loss"``: the module loss's dict (``loss_ctc`` or ``loss_ce``);
        ``"predict"``: samples with ``pred_text = LabelData(item, score, char_scores)``;
        ``"tensor"`` / :meth:`export_forward`: probabilities (N, T, C).
    """

    task = "textrecog"
    export_output_names = ("probs",)

    def __init__(
        self,
        backbone: nn.Module,
        decoder: nn.Module,
        dictionary: Dictionary | Mapping[str, Any] | None = None,
        module_loss: nn.Module | None = None,
        preprocessor: nn.Module | None = None,
        encoder: nn.Module | None = None,
        test_cfg: Mapping[str, Any] | None = None,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
    ) -> None:
        if data_preprocessor is None or isinstance(data_preprocessor, Mapping):
            data_preprocessor = TextRecogDataPreprocessor(
                **{k: v for k, v in (data_preprocessor or {}).items() if k != "type"}
            )
        super().__init__(data_preprocessor)
        name = type(self).__name__
        if getattr(decoder, "output_kind", None) not in ("ctc", "attention"):
            raise ConfigError(f"{name}: the decoder must say its output_kind ('ctc' or 'attention')")
        self.preprocessor, self.backbone, self.encoder, self.decoder = (
            preprocessor,
            backbone,
            encoder,
            decoder,
        )
        self.dictionary = build_dictionary(dictionary) if dictionary is not None else decoder.dictionary
        if self.dictionary.num_classes != decoder.dictionary.num_classes:
            raise ConfigError(
                f"{name}: model.dictionary has {self.dictionary.num_classes} classes but the decoder's has "
                f"{decoder.dictionary.num_classes}; give both the same dictionary"
            )
        self.module_loss = module_loss if module_loss is not None else self.default_module_loss()
        self.test_cfg = dict(test_cfg or {})
        unknown = set(self.test_cfg) - {"decoding", "beam_width", "lexicon", "pattern", "ignore_case"}
        if unknown:
            raise ConfigError(f"{name}: model.test_cfg has unknown keys {sorted(unknown)}")
        if self.test_cfg.get("decoding", "greedy") not in DECODINGS:
            raise ConfigError(f"{name}: model.test_cfg.decoding must be one of {DECODINGS}")

    def default_module_loss(self) -> nn.Module:
        raise ConfigError(f"{type(self).__name__}: give a module_loss")

    # ---- forward passes ---------------------------------------------------------------------------

    def extract_feat(self, inputs: torch.Tensor) -> torch.Tensor:
        if self.preprocessor is not None:
            inputs = self.preprocessor(inputs)
        return self.backbone(inputs)

    def _encode(self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None) -> tuple[Any, Any]:
        feat = self.extract_feat(inputs)
        out_enc = self.encoder(feat, data_samples) if self.encoder is not None else None
        return feat, out_enc

    def loss(self, inputs: torch.Tensor, data_samples: Sequence[DataSample]) -> dict[str, torch.Tensor]:
        targets = self.module_loss.get_targets(data_samples)
        feat, out_enc = self._encode(inputs, data_samples)
        logits = self.decoder.forward_train(feat, out_enc, data_samples, targets)
        return self.module_loss(logits, data_samples, targets)

    def probabilities(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None
    ) -> torch.Tensor:
        """(N, T, C) softmax probabilities: per frame (CTC) or per decoding step (attention)."""
        feat, out_enc = self._encode(inputs, data_samples)
        return self.decoder.forward_test(feat, out_enc, data_samples)

    def forward_tensor(self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None) -> Any:
        return self.probabilities(inputs, data_samples)

    def export_forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """(N, T, C) probabilities of a preprocessed batch (no padding mask: valid_ratio 1)."""
        return self.probabilities(inputs, None)

    # ---- prediction -------------------------------------------------------------------------------

    def predict(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None
    ) -> list[DataSample]:
        probs = self.probabilities(inputs, data_samples).detach().float().cpu().numpy()
        if data_samples is None:
            data_samples = [DataSample() for _ in range(probs.shape[0])]
        for index, (sample, sample_probs) in enumerate(zip(data_samples, probs)):
            indices, char_scores = self.decode_sample(sample_probs, sample, inputs[index : index + 1])
            score = float(char_scores.mean()) if len(char_scores) else 0.0
            sample.pred_text = LabelData(
                item=self.dictionary.idx2str(indices.tolist()),
                score=torch.tensor(score),
                char_scores=torch.from_numpy(char_scores.astype(np.float32)),
            )
        return list(data_samples)

    def decoding_spec(self) -> dict[str, Any]:
        """What decoding the probabilities needs besides them (deploy.json's ``postprocess``; see
        :func:`~visionstack.tasks.ocr.decoding.decode_probs`), with ``test_cfg``'s lexicon or pattern."""
        spec = {
            "kind": self.decoder.output_kind,
            "chars": list(self.dictionary.dict),
            "blank": self.dictionary.padding_idx,
            "end_idx": self.dictionary.end_idx,
            "padding_idx": self.dictionary.padding_idx,
            "decoding": self.test_cfg.get("decoding", "greedy"),
            "beam_width": int(self.test_cfg.get("beam_width", 10)),
            "ignore_case": bool(self.test_cfg.get("ignore_case", True)),
        }
        for key in ("lexicon", "pattern"):
            if self.test_cfg.get(key) is not None:
                spec[key] = self.test_cfg[key]
        return spec

    def constraint_for(self, sample: DataSample) -> Constraint | None:
        """The sample's lexicon / pattern constraint (metainfo first, then ``test_cfg``), cached."""
        meta = sample.metainfo if hasattr(sample, "metainfo") else {}
        lexicon, pattern = meta.get("lexicon"), meta.get("pattern")
        if lexicon is None and pattern is None:
            lexicon, pattern = self.test_cfg.get("lexicon"), self.test_cfg.get("pattern")
        return cached_constraint(lexicon, pattern, self.test_cfg.get("ignore_case", True))

    def decode_sample(
        self, probs: np.ndarray, sample: DataSample, image: torch.Tensor
    ) -> tuple[np.ndarray, np.ndarray]:
        """``(indices, char_scores)`` of one sample's (T, C) probabilities (``image``: its (1, C, H, W)
        input, for decoders that rescore candidates)."""
        constraint = self.constraint_for(sample)
        if self.decoder.output_kind == "ctc":
            valid_ratio = float(getattr(sample, "valid_ratio", 1.0) or 1.0)
            return decode_indices(probs, self.decoding_spec(), constraint, valid_ratio)
        if constraint is not None:
            return self.decode_constrained_attention(probs, sample, image, constraint)
        return attention_greedy(probs, self.dictionary.end_idx, ignore=(self.dictionary.padding_idx,))

    def decode_constrained_attention(
        self, probs: np.ndarray, sample: DataSample, image: torch.Tensor, constraint: Constraint
    ) -> tuple[np.ndarray, np.ndarray]:
        raise ConfigError(
            f"{type(self).__name__}: a lexicon or pattern needs constrained decoding, which this model "
            "does not support"
        )
