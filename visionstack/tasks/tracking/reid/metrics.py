"""Retrieval metrics of re-identification embeddings: mAP and the CMC curve (MMTracking's ``ReIDMetrics``).

Every crop of the evaluated set is a query in turn, and the gallery is all the other crops (the query
itself is left out), ranked by increasing Euclidean distance of the embeddings (for L2-normalised
embeddings the same order as cosine distance). A query whose identity has no other crop has nothing to
find and is skipped. For one query with relevance r_1, r_2 ... (1 where the gallery crop at rank k has
the query's identity):

- AP = sum_k r_k * precision@k / sum_k r_k (the area under the precision-recall curve, as scikit-learn's
  ``average_precision_score`` computes it for untied scores), mAP its mean over the queries;
- CMC@k = 1 when a crop of the query's identity is among the first k, averaged over the queries
  (rank-1 = how often the nearest other crop is the same object).

Values are fractions in [0, 1] (MMTracking's convention), keys ``mAP``, ``R1``, ``R5`` ...

Crops cut from consecutive frames of a video are near-copies, so with every other crop in the gallery the
nearest one is almost always the previous frame's and rank-1 says little about what a tracker needs (finding
an object again after an occlusion). ``min_frame_gap`` (our addition; Market-1501's protocol drops the
query's same-camera images the same way) leaves the crops of the query's own identity closer than that many
frames out of its gallery: they count neither as hits nor as misses.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch

from ....evaluation import BaseMetric, sample_fields
from ....registry import METRICS

__all__ = ["ReIDMetric", "retrieval_metrics"]

_EXPECTS = "the output of ReID.val_step (DataSamples with pred_feature and the dataset's gt_label)"


def retrieval_metrics(
    features: np.ndarray | torch.Tensor,
    labels: np.ndarray | torch.Tensor,
    ranks: Sequence[int] = (1, 5),
    frames: np.ndarray | None = None,
    min_frame_gap: int = 0,
) -> dict[str, float]:
    """mAP and CMC@k of every sample queried against all the others (module doc).

    Args:
        features: (N, D) embeddings.
        labels: (N,) identity of each embedding.
        ranks: the k of the reported ``R{k}`` values.
        frames: (N,) frame number of each crop; needed when ``min_frame_gap > 0``.
        min_frame_gap: same-identity crops with ``|frame difference| < min_frame_gap`` are left out of each
            other's gallery.

    Returns:
        ``{"mAP": float, "R{k}": float ..., "num_queries": int}``; all zero when no sample has a partner.
    """
    features = torch.as_tensor(features, dtype=torch.float64)
    labels = np.asarray(labels).reshape(-1)
    squared = features.pow(2).sum(dim=1, keepdim=True)
    distances = (squared + squared.t() - 2.0 * features @ features.t()).numpy()
    excluded = np.eye(len(labels), dtype=bool)  # the query is not in its own gallery
    if min_frame_gap > 0:
        if frames is None:
            raise ValueError("retrieval_metrics: min_frame_gap needs the frame number of every crop")
        frames = np.asarray(frames, dtype=np.int64).reshape(-1)
        near = np.abs(frames[:, None] - frames[None, :]) < min_frame_gap
        excluded |= near & (labels[:, None] == labels[None, :])
    distances[excluded] = np.inf  # excluded crops sort last and count as neither hit nor miss
    order = np.argsort(distances, axis=1, kind="stable")
    matches = (labels[order] == labels[:, None]) & ~np.take_along_axis(excluded, order, axis=1)
    has_partner = matches.any(axis=1)
    result: dict[str, float] = {"mAP": 0.0, **{f"R{k}": 0.0 for k in ranks}, "num_queries": 0}
    if not has_partner.any():
        return result
    matches = matches[has_partner]
    hits = np.cumsum(matches, axis=1)
    precision = hits / np.arange(1, matches.shape[1] + 1)  # excluded crops sit after every real one
    average_precision = (precision * matches).sum(axis=1) / matches.sum(axis=1)
    first_hit = matches.argmax(axis=1)  # 0-based rank of the first crop of the same identity
    result["mAP"] = float(average_precision.mean())
    for k in ranks:
        result[f"R{k}"] = float((first_hit < k).mean())
    result["num_queries"] = int(has_partner.sum())
    return result


@METRICS.register()
class ReIDMetric(BaseMetric):
    """mAP and CMC rank-k of the val crops' embeddings (:func:`retrieval_metrics`).

    Reads per sample ``pred_feature`` (D,), ``gt_label.label`` (the identity) and, with ``min_frame_gap``, the
    metainfo ``frame_id`` (``ReIDDataset`` records it; add it to ``PackInputs(meta_keys=...)``).

    Args:
        ranks: the k of the CMC values reported (``R1``, ``R5`` ...).
        min_frame_gap: see :func:`retrieval_metrics`; 0 is MMTracking's protocol.
        collect_device: see :class:`~visionstack.evaluation.BaseMetric`.
        prefix: key prefix; default ``"reid"`` (``reid/mAP``, ``reid/R1`` ...).
    """

    default_prefix = "reid"

    def __init__(
        self,
        ranks: Sequence[int] = (1, 5),
        min_frame_gap: int = 0,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.min_frame_gap = int(min_frame_gap)
        if not ranks or min(ranks) < 1:
            raise ValueError(f"ReIDMetric: ranks must be positive integers, got {ranks!r}")
        self.ranks = tuple(int(k) for k in ranks)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for index, sample in enumerate(data_samples):
            feature, gt_label = sample_fields(
                sample, ("pred_feature", "gt_label"), "ReIDMetric", index, _EXPECTS
            )
            label = gt_label.get("label") if hasattr(gt_label, "get") else gt_label.label
            frame = sample.get("frame_id")  # a DataSample's get reads metainfo too
            if self.min_frame_gap > 0 and frame is None:
                raise KeyError(
                    f"ReIDMetric: data_samples[{index}] has no metainfo frame_id, which min_frame_gap needs; add "
                    f"'frame_id' to PackInputs(meta_keys=...)"
                )
            self.results.append(
                {
                    "feature": torch.as_tensor(feature).detach().float().reshape(-1),
                    "label": int(torch.as_tensor(label).reshape(-1)[0]),
                    "frame": -1 if frame is None else int(frame),
                }
            )

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        features = torch.stack([record["feature"] for record in results])
        labels = np.array([record["label"] for record in results], dtype=np.int64)
        frames = np.array([record["frame"] for record in results], dtype=np.int64)
        metrics = retrieval_metrics(features, labels, self.ranks, frames, self.min_frame_gap)
        metrics.pop("num_queries")
        return metrics
