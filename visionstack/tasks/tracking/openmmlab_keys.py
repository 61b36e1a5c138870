"""MMDetection's (MMTracking's) tracking checkpoints under visionstack's names.

The multi-object trackers (``ByteTrack``, ``DeepSORT``, ``OCSORT``, ``SORT``) keep their detector under
``detector.`` and DeepSORT its re-identification net under ``reid.``, as :class:`MOTModel` does, so the
default recursion hands them to the detector's and the backbone's converters. The re-identification net
(``BaseReID``: ``backbone``, ``neck``, ``head``) differs only inside :class:`LinearReIDHead`:

* MMDetection's fc block is a list of ``FcModule`` s (``fcs.{i}.fc``, ``fcs.{i}.bn``); visionstack's one
  block is a ``Sequential`` (linear ``fcs.0``, BatchNorm ``fcs.1``, ReLU).
* MMDetection's identity classifier has a bias; visionstack's has none, as the BNNeck of Luo et al. ("Bag
  of Tricks and A Strong Baseline for Deep Person Re-identification", CVPR-W 2019) removes it.
  The classifier only feeds the training identity loss (never the embeddings a tracker uses), so the bias
  is dropped and reported; MMDetection initialises it to 0.
"""

from __future__ import annotations

from torch import nn

from ...models.openmmlab_keys import Conversion, StateDict, register_openmmlab_converter


@register_openmmlab_converter("LinearReIDHead")
def convert_linear_reid_head(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """MMDetection's ``LinearReIDHead`` -> visionstack's (see the module doc)."""
    if "classifier.bias" in sd and getattr(module.classifier, "bias", None) is None:
        conversion.drop(
            sd,
            r"classifier\.bias",
            "re-id classifier bias: visionstack's BNNeck classifier has none (Luo et al. 2019); it only "
            "feeds the training identity loss, not the embeddings",
        )
    out: StateDict = {}
    for key, value in sd.items():
        parts = key.split(".")
        if len(parts) >= 4 and parts[0] == "fcs" and parts[1].isdigit() and parts[2] in ("fc", "bn"):
            # one Sequential (Linear, BatchNorm1d, ReLU) per FcModule; visionstack builds one such block
            index = 3 * int(parts[1]) + (0 if parts[2] == "fc" else 1)
            key = ".".join(["fcs", str(index), *parts[3:]])
        out[key] = value
    return out
