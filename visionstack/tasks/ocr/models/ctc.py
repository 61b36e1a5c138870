"""CTC loss of CTC recognizers (MMOCR's ``CTCModuleLoss``, Graves et al. 2006).

The blank is the dictionary's padding token (``with_padding=True``), as in MMOCR.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F

from ....registry import MODELS
from ....structures import DataSample
from ..dictionary import Dictionary
from .recognizer import BaseTextRecogModuleLoss, at_least_float32, valid_ratios_of

__all__ = ["CTCModuleLoss"]


@MODELS.register()
class CTCModuleLoss(BaseTextRecogModuleLoss):
    """``torch.nn.functional.ctc_loss`` on the decoder's logits.

    Args:
        dictionary: with ``with_padding=True``; its padding index is the blank.
        letter_case: ``"unchanged"``, ``"upper"`` or ``"lower"`` applied to the texts.
        flatten: concatenated targets (every sample uses all T frames, as MMOCR); False: padded
            targets, and a padded crop's input length is ``ceil(T * valid_ratio)``.
        reduction: ``"mean"`` (each sample's loss divided by its target length, then averaged:
            PyTorch's), ``"sum"`` or ``"none"``.
        zero_infinity: zero the infinite losses (targets longer than the frames allow) and their
            gradients.

    Call:
        ``loss(logits (N, T, C), data_samples, targets=None) -> {"loss_ctc": ...}``. Texts longer
        than T are cut to T characters (MMOCR's); an empty text has target length 0 (MMOCR clamps
        it to 1, which misaligns flattened targets).
    """

    def __init__(
        self,
        dictionary: Dictionary | Mapping[str, Any],
        letter_case: str = "unchanged",
        flatten: bool = True,
        reduction: str = "mean",
        zero_infinity: bool = False,
    ) -> None:
        super().__init__(dictionary, letter_case=letter_case, pad_with="none")
        if self.dictionary.padding_idx is None:
            raise ValueError(
                "CTCModuleLoss: the dictionary needs with_padding=True (the padding token is the blank)"
            )
        if reduction not in ("mean", "sum", "none"):
            raise ValueError(f"CTCModuleLoss: reduction must be 'mean', 'sum' or 'none', got {reduction!r}")
        self.blank = self.dictionary.padding_idx
        self.flatten, self.reduction, self.zero_infinity = flatten, reduction, zero_infinity

    def get_targets(self, data_samples: Sequence[DataSample]) -> dict[str, Any]:
        return {"indexes": self.text_indexes(data_samples)}

    def forward(
        self,
        outputs: torch.Tensor,
        data_samples: Sequence[DataSample],
        targets: Mapping[str, Any] | None = None,
    ) -> dict[str, torch.Tensor]:
        if targets is None:
            targets = self.get_targets(data_samples)
        batch, frames = outputs.shape[:2]
        log_probs = F.log_softmax(at_least_float32(outputs), dim=2).permute(1, 0, 2)  # (T, N, C)
        indexes = [index[:frames] for index in targets["indexes"]]
        target_lengths = torch.tensor([len(index) for index in indexes], dtype=torch.long)
        input_lengths = torch.full((batch,), frames, dtype=torch.long)
        if self.flatten:
            flat = torch.cat(indexes) if indexes else torch.zeros(0, dtype=torch.long)
        else:
            flat = torch.full((batch, frames), self.blank, dtype=torch.long)
            for row, index in enumerate(indexes):
                flat[row, : len(index)] = index
            ratios = valid_ratios_of(data_samples)
            if ratios is not None:
                input_lengths = torch.tensor(
                    [min(frames, math.ceil(r * frames)) for r in ratios], dtype=torch.long
                )
        loss = F.ctc_loss(
            log_probs,
            flat.to(outputs.device),
            input_lengths,
            target_lengths,
            blank=self.blank,
            reduction=self.reduction,
            zero_infinity=self.zero_infinity,
        )
        return {"loss_ctc": loss}
