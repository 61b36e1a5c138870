"""DBNet's loss (Liao et al., AAAI 2020, section 3.5, eq. 6; MMOCR's ``DBModuleLoss``).

``L = alpha * L_prob + beta * L_thr + L_db`` with alpha = 5, beta = 10:

- ``loss_prob``: binary cross entropy on the probability logits, balanced by online hard negative
  mining: all positive pixels and the ``3 x positives`` hardest negatives (MMOCR's
  ``MaskedBalancedBCEWithLogitsLoss``);
- ``loss_thr``: L1 on the threshold map inside the threshold mask (MMOCR's ``MaskedSmoothL1Loss``
  with beta = 0);
- ``loss_db``: dice loss on the differentiable binary map (MMOCR's ``MaskedDiceLoss``; the paper
  uses BCE here, MMOCR and the authors' released configs dice).

The targets are built on the CPU with :func:`~.db_targets.build_db_targets` at the size of the maps.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import torch
import torch.nn.functional as F
from torch import nn

from ....registry import MODELS
from ....structures import DataSample
from .db_targets import build_db_targets

__all__ = ["DBModuleLoss", "balanced_bce_with_logits", "masked_dice_loss", "masked_l1_loss"]


def balanced_bce_with_logits(
    logits: torch.Tensor,
    target: torch.Tensor,
    mask: torch.Tensor,
    negative_ratio: float = 3.0,
    fallback_negative_num: int = 0,
    eps: float = 1e-6,
) -> torch.Tensor:
    """Balanced BCE with online hard negative mining (Shrivastava et al., OHEM, CVPR 2016).

    Positives are ``target * mask``, negatives ``(1 - target) * mask``; the loss sums the BCE of
    every positive and of the ``k = min(#negatives, int(#positives * negative_ratio))`` negatives with
    the largest BCE (``fallback_negative_num`` of them when there is no positive), divided by
    ``#positives + k + eps``.

    Args:
        logits, target, mask: tensors of one shape; ``target`` and ``mask`` in {0, 1}.

    Returns:
        A scalar tensor.
    """
    positive = target * mask
    negative = (1 - target) * mask
    positive_count = int(positive.sum())
    negative_available = int(negative.sum())
    if positive_count == 0:
        negative_count = min(negative_available, fallback_negative_num)
    else:
        negative_count = min(negative_available, int(positive_count * negative_ratio))
    loss = F.binary_cross_entropy_with_logits(logits, target, reduction="none")
    negative_loss, _ = torch.topk((loss * negative).reshape(-1), negative_count)
    return ((loss * positive).sum() + negative_loss.sum()) / (positive_count + negative_count + eps)


def masked_l1_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """``sum(|pred - target| * mask) / (sum(mask) + eps)`` for a {0, 1} ``mask``."""
    return ((pred - target).abs() * mask).sum() / (mask.sum() + eps)


def masked_dice_loss(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, eps: float = 1e-6
) -> torch.Tensor:
    """``1 - 2 sum(p g) / (sum(p) + sum(g) + eps)`` with ``p = pred * mask`` and ``g = target * mask``,
    over the whole batch."""
    pred, target = pred * mask, target * mask
    return 1 - 2 * (pred * target).sum() / (pred.sum() + target.sum() + eps)


@MODELS.register()
class DBModuleLoss(nn.Module):
    """DBNet's three loss terms from the head's maps and the samples' polygons.

    Args:
        weight_prob: alpha, the weight of the probability-map loss.
        weight_thr: beta, the weight of the threshold-map loss.
        shrink_ratio: r of the shrink/expand offset ``D = A (1 - r^2) / L``.
        thr_min, thr_max: range of the threshold-map targets.
        min_sidelength: instances whose minimum-area rectangle has a shorter side (input pixels)
            are ignored.
        negative_ratio: at most this many hard negatives per positive pixel.
        eps: the denominators' guard.

    Call:
        ``loss(prob_logits, thr_map, binary_map, data_samples)`` with three (B, H, W) maps at the
        input size; each sample's ``gt_instances`` holds ``polygons`` (list of (P, 2) arrays, input
        pixels) and ``ignored`` ((N,) bool). Returns ``{"loss_prob", "loss_thr", "loss_db"}``
        (weighted scalars).
    """

    def __init__(
        self,
        weight_prob: float = 5.0,
        weight_thr: float = 10.0,
        shrink_ratio: float = 0.4,
        thr_min: float = 0.3,
        thr_max: float = 0.7,
        min_sidelength: float = 8,
        negative_ratio: float = 3.0,
        eps: float = 1e-6,
    ) -> None:
        super().__init__()
        if not 0 < shrink_ratio < 1:
            raise ValueError(f"DBModuleLoss: shrink_ratio must be in (0, 1), got {shrink_ratio}")
        if not 0 <= thr_min < thr_max <= 1:
            raise ValueError(f"DBModuleLoss: need 0 <= thr_min < thr_max <= 1, got {thr_min}, {thr_max}")
        self.weight_prob = weight_prob
        self.weight_thr = weight_thr
        self.shrink_ratio = shrink_ratio
        self.thr_min = thr_min
        self.thr_max = thr_max
        self.min_sidelength = min_sidelength
        self.negative_ratio = negative_ratio
        self.eps = eps

    def get_targets(
        self, data_samples: Sequence[DataSample], shape: tuple[int, int], device: torch.device
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """(B, H, W) float32 ``shrink_map, shrink_mask, thr_map, thr_mask`` on ``device``."""
        maps: list[list[np.ndarray]] = [[], [], [], []]
        for sample in data_samples:
            instances = sample.gt_instances
            polygons = [
                np.asarray(polygon, dtype=np.float32).reshape(-1, 2) for polygon in instances.polygons
            ]
            ignored = instances.get("ignored")
            ignored = None if ignored is None else np.asarray(torch.as_tensor(ignored).cpu(), dtype=bool)
            targets = build_db_targets(
                shape,
                polygons,
                ignored,
                shrink_ratio=self.shrink_ratio,
                thr_min=self.thr_min,
                thr_max=self.thr_max,
                min_sidelength=self.min_sidelength,
            )
            for store, value in zip(
                maps, (targets.shrink_map, targets.shrink_mask, targets.thr_map, targets.thr_mask)
            ):
                store.append(value)
        return tuple(torch.from_numpy(np.stack(store)).to(device) for store in maps)

    def forward(
        self,
        prob_logits: torch.Tensor,
        thr_map: torch.Tensor,
        binary_map: torch.Tensor,
        data_samples: Sequence[DataSample],
    ) -> dict[str, torch.Tensor]:
        shape = tuple(prob_logits.shape[-2:])
        shrink_map, shrink_mask, thr_target, thr_mask = self.get_targets(
            data_samples, shape, prob_logits.device
        )
        loss_prob = balanced_bce_with_logits(
            prob_logits.float(), shrink_map, shrink_mask, self.negative_ratio, eps=self.eps
        )
        loss_thr = masked_l1_loss(thr_map.float(), thr_target, thr_mask, self.eps)
        loss_db = masked_dice_loss(binary_map.float(), shrink_map, shrink_mask, self.eps)
        return {
            "loss_prob": self.weight_prob * loss_prob,
            "loss_thr": self.weight_thr * loss_thr,
            "loss_db": loss_db,
        }
