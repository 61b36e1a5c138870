"""The deploy runtime's preprocessing of keypoint sequences (NumPy only, no PyTorch).

``deploy.json``'s ``preprocess`` of an exported lifter holds ``receptive_field`` and ``causal``; this replays
what ``LoadKeypointSequence`` and the lifter's data preprocessor do in PyTorch: read the sequence file (COCO
layouts converted to H36M), normalise the 2D keypoints to screen coordinates, pad the edges for the
receptive field, and batch sequences by repeating their last frame. The object follows the interface of
:class:`visionstack.deploy.preprocess.Preprocessor` (``read``, ``image``, ``batch``) so the runtime drives it
unchanged; ``image`` takes a :class:`~.sequences.KeypointSequence` (one input, not an image).
"""

from __future__ import annotations

import os
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from .sequences import KeypointSequence, pad_edges, read_keypoint_sequence, window_padding

__all__ = ["LiftingRuntimePreprocessor"]


class LiftingRuntimePreprocessor:
    """Sequence files -> the exported lifter's (B, L, 17, 2) float32 input.

    Args:
        spec: ``deploy.json``'s ``preprocess``: ``receptive_field`` (frames), ``causal``.
    """

    def __init__(self, spec: Mapping[str, Any]) -> None:
        if "receptive_field" not in spec:
            raise ValueError("deploy.json preprocess: a lifter needs `receptive_field`")
        self.receptive_field = int(spec["receptive_field"])
        self.causal = bool(spec.get("causal", False))
        self.padding = window_padding(self.receptive_field, self.causal)

    @staticmethod
    def read(path: str | os.PathLike) -> KeypointSequence:
        """One input file (``.npz``/``.json`` sequence)."""
        return read_keypoint_sequence(path)

    def image(self, sequence: KeypointSequence) -> tuple[np.ndarray, dict[str, Any]]:
        """One sequence -> ((T + rf - 1, 17, 2) normalised, edge-padded keypoints, metainfo with ``num_frames``,
        ``image_size`` (w, h), ``ori_shape``/``img_shape`` (h, w) and ``scale_factor``)."""
        if not isinstance(sequence, KeypointSequence):
            raise TypeError(
                f"the lifter runtime takes keypoint sequences (files), got {type(sequence).__name__}"
            )
        width, height = sequence.image_size
        meta = {
            "num_frames": sequence.num_frames,
            "image_size": (width, height),
            "ori_shape": (height, width),
            "img_shape": (height, width),
            "scale_factor": (1.0, 1.0),
        }
        return pad_edges(sequence.normalized_inputs(), *self.padding), meta

    def batch(self, inputs: Sequence[np.ndarray]) -> np.ndarray:
        """(B, L_max, 17, 2) float32: each input followed by copies of its last frame up to the longest."""
        longest = max(len(item) for item in inputs)
        return np.stack([pad_edges(item, 0, longest - len(item)) for item in inputs]).astype(np.float32)
