"""What the top-down keypoint heads share: the codec that decodes their outputs, reading the training
targets of a batch, and the flip-index checks of the flip test.

A head (:class:`~.heatmap_head.HeatmapHead`, :class:`~.rtmcc_head.RTMCCHead`) answers:

- ``head(feats)``: raw outputs of a (B, C, h, w) feature tuple (heatmaps, or the SimCC pair);
- ``loss(feats, data_samples)``: ``{"loss_kpt": ..., "acc_pose": ...}``;
- ``flip_back(outputs, flip_indices, test_cfg)``: the outputs of a horizontally flipped crop brought
  back to the unflipped crop (left/right keypoints swapped), to be averaged with the plain outputs;
- ``decode(outputs)``: keypoints (B, K, 2) in input-crop pixels and scores (B, K), through the codec's
  NumPy ``decode`` (the reference); ``decode_torch(outputs)``: the same through the codec's traceable
  ``decode_torch`` (the export graph);
- ``predict(feats, data_samples)``: one InstanceData per crop (``keypoints`` (1, K, 2) in crop pixels,
  ``keypoint_scores`` (1, K)), without test-time flipping (the estimator does that).
"""

from __future__ import annotations

from abc import ABC, abstractmethod
from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ....structures import DataSample, InstanceData
from ..codecs import UDPHeatmap, build_codec

__all__ = ["BaseKeypointHead", "check_flip_indices", "gather_instance_labels"]


def check_flip_indices(flip_indices: Sequence[int], num_keypoints: int, owner: str) -> list[int]:
    """``flip_indices`` as a list, checked to be a permutation of the K keypoints.

    Raises:
        ValueError: naming ``owner`` when the length is not K or an index repeats or is out of range.
    """
    indices = [int(index) for index in flip_indices]
    if len(indices) != num_keypoints or sorted(indices) != list(range(num_keypoints)):
        raise ValueError(
            f"{owner}: flip_indices must be a permutation of the {num_keypoints} keypoints (the mirror of each "
            f"keypoint), got {indices}"
        )
    return indices


def gather_instance_labels(
    data_samples: Sequence[DataSample], key: str, owner: str, device: torch.device
) -> torch.Tensor:
    """``gt_instance_labels.<key>`` of every sample, concatenated on the first axis (one instance each).

    Raises:
        ValueError: naming the sample and the key when a sample lacks it.
    """
    values = []
    for index, sample in enumerate(data_samples):
        labels = sample.get("gt_instance_labels")
        if labels is None or key not in labels:
            raise ValueError(
                f"{owner}.loss: data sample {index} ({_describe(sample)}) has no gt_instance_labels.{key}; the "
                "training pipeline must encode the keypoints with the head's codec and pack the targets"
            )
        values.append(torch.as_tensor(labels.get(key), device=device, dtype=torch.float32))
    return torch.cat(values, dim=0)


def _describe(sample: DataSample) -> str:
    meta = sample.metainfo
    return ", ".join(f"{key}={meta[key]}" for key in ("img_path", "id") if key in meta) or "no img_path"


class BaseKeypointHead(nn.Module, ABC):
    """Holds the codec of a keypoint head and turns decoded outputs into per-crop predictions.

    Args:
        decoder: a built codec (``MSRAHeatmap``, ``UDPHeatmap``, ``SimCCLabel`` ...), a config dict of one
            (built with :func:`~visionstack.tasks.pose.codecs.build_codec`), or None (``loss`` and the raw
            outputs work; decoding raises).
    """

    def __init__(self, decoder: Any = None) -> None:
        super().__init__()
        self.decoder = build_codec(decoder) if isinstance(decoder, Mapping) else decoder

    @property
    def udp_codec(self) -> bool:
        """Whether the codec is :class:`~visionstack.tasks.pose.codecs.UDPHeatmap` (UDP's pixel-centre
        alignment: flipped heatmaps need no shift, crops map back with ``input_size - 1``)."""
        return isinstance(self.decoder, UDPHeatmap)

    def require_decoder(self) -> Any:
        """The codec, or a RuntimeError saying that decoding needs one."""
        if self.decoder is None:
            raise RuntimeError(
                f"{type(self).__name__} has no decoder: give it `decoder=` (the codec of the training targets) "
                "to decode keypoints"
            )
        return self.decoder

    @abstractmethod
    def loss(
        self, feats: Sequence[torch.Tensor], data_samples: Sequence[DataSample]
    ) -> dict[str, torch.Tensor]:
        """``loss_kpt`` against the samples' targets, and the logged ``acc_pose``."""

    @abstractmethod
    def flip_back(self, outputs: Any, flip_indices: Sequence[int], test_cfg: Any) -> Any:
        """Outputs of horizontally flipped crops, mapped to the unflipped crops (``test_cfg``: the
        estimator's :class:`~.topdown.PoseTestConfig`)."""

    @abstractmethod
    def decode(self, outputs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints (B, K, 2) in input-crop pixels and scores (B, K), float32 on the CPU, through the
        codec's NumPy ``decode``."""

    @abstractmethod
    def decode_torch(self, outputs: Any) -> tuple[torch.Tensor, torch.Tensor]:
        """What :meth:`decode` computes, through the codec's traceable ``decode_torch`` (on the outputs'
        device)."""

    def predict(
        self, feats: Sequence[torch.Tensor], data_samples: Sequence[DataSample] | None = None
    ) -> list:
        """One :class:`InstanceData` per crop: ``keypoints`` (1, K, 2) in input-crop pixels and
        ``keypoint_scores`` (1, K); no flip test (see the estimator)."""
        keypoints, scores = self.decode(self(feats))
        return [
            InstanceData(keypoints=points[None], keypoint_scores=point_scores[None])
            for points, point_scores in zip(keypoints, scores)
        ]
