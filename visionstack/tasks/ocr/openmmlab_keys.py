"""MMOCR state dicts under visionstack's OCR model names (``visionstack convert checkpoint --from openmmlab``).

The OCR models were written with MMOCR's module names, so MMOCR's keys are visionstack's key for key:

- DBNet: ``backbone.*`` (MMDetection's ResNet, whose names are torchvision's and visionstack's),
  ``neck.lateral_convs.{i}.conv`` / ``neck.smooth_convs.{i}.conv`` (FPNC), ``det_head.binarize.{k}`` /
  ``det_head.threshold.{k}``;
- CRNN: ``backbone.cnn.conv{i}`` / ``batchnorm{i}`` (MiniVGG), ``decoder.decoder.{0,1}.rnn`` /
  ``.embedding`` (the two BiLSTMs);
- NRTR: ``backbone.conv_{1,2}`` / ``norm_{1,2}`` / ``linear``, ``encoder.layer_stack.{i}``,
  ``decoder.trg_word_emb`` / ``layer_stack.{i}`` / ``layer_norm`` / ``classifier``.

The one exception: MMOCR's ``PositionalEncoding`` keeps its fixed sinusoidal table as a persistent
buffer (``position_enc.position_table``), visionstack computes the same table at construction and does
not save it. The checkpoint's copy is dropped (and reported).
"""

from __future__ import annotations

from torch import nn

from ...models.openmmlab_keys import Conversion, StateDict, register_openmmlab_converter

__all__ = ["convert_positional_encoding"]


@register_openmmlab_converter("PositionalEncoding")
def convert_positional_encoding(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """Drop MMOCR's saved sinusoidal table when visionstack's is not part of the state dict."""
    if "position_table" not in module.state_dict():
        conversion.drop(
            sd, r"position_table", "fixed sinusoidal position table: visionstack computes it (not a weight)"
        )
    return sd
