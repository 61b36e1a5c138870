"""PCK accuracy of a training batch (the ``acc_pose`` that MMPose logs next to the keypoint loss).

A keypoint counts as correct when the distance between the argmax of its predicted map (or 1-D SimCC
vectors) and the argmax of its target, divided by a normaliser, is below ``thr`` (0.05). The numbers
are MMPose's ``pose_pck_accuracy`` / ``simcc_pck_accuracy``, including two of their conventions:

- the normaliser of an (x, y) offset is ``(H, W)`` of the map, i.e. x is divided by the height and y by
  the width (MMPose tiles ``[[H, W]]``); kept so that logged accuracies compare with MMPose's logs;
- a location whose maximum is not positive becomes (-1, -1) before the distance is taken.

The accuracy is per keypoint over the batch (keypoints whose target is masked out are skipped), then
averaged over the keypoints that had any valid target. Torch only, computed without gradients.
"""

from __future__ import annotations

import torch

__all__ = [
    "heatmap_maximum",
    "heatmap_pck_accuracy",
    "keypoint_pck_accuracy",
    "simcc_maximum",
    "simcc_pck_accuracy",
]


def heatmap_maximum(heatmaps: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax location and value of each map.

    Args:
        heatmaps: (B, K, H, W).

    Returns:
        ``locations`` (B, K, 2) float (x, y) in map pixels, (-1, -1) where the maximum is <= 0, and
        ``values`` (B, K).
    """
    batch, keypoints, _, width = heatmaps.shape
    values, index = heatmaps.reshape(batch, keypoints, -1).max(dim=-1)
    locations = torch.stack([index % width, index // width], dim=-1).to(heatmaps.dtype)
    return torch.where((values > 0)[..., None], locations, torch.full_like(locations, -1.0)), values


def simcc_maximum(simcc_x: torch.Tensor, simcc_y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """Argmax bins of the 1-D x and y vectors; the value is the smaller of the two maxima.

    Args:
        simcc_x: (B, K, Wx); simcc_y: (B, K, Wy).

    Returns:
        ``locations`` (B, K, 2) float (x bin, y bin), (-1, -1) where the value is <= 0, and ``values`` (B, K).
    """
    value_x, bin_x = simcc_x.max(dim=-1)
    value_y, bin_y = simcc_y.max(dim=-1)
    values = torch.minimum(value_x, value_y)
    locations = torch.stack([bin_x, bin_y], dim=-1).to(simcc_x.dtype)
    return torch.where((values > 0)[..., None], locations, torch.full_like(locations, -1.0)), values


def keypoint_pck_accuracy(
    pred: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, thr: float, normalize: torch.Tensor
) -> tuple[torch.Tensor, torch.Tensor, int]:
    """PCK of predicted against target locations.

    Args:
        pred, target: (B, K, 2) locations.
        mask: (B, K) bool, True where the target counts.
        thr: the normalised distance below which a keypoint is correct.
        normalize: (B, 2) divisors of the (x, y) offsets.

    Returns:
        ``accuracy`` (K,) per keypoint (-1 for a keypoint without any valid target), ``average`` (a 0-d
        tensor, 0 when nothing is valid) over the keypoints with a valid target, and their ``count``.
    """
    distance = torch.linalg.vector_norm((pred - target) / normalize[:, None, :], dim=-1)  # (B, K)
    valid = mask.to(torch.bool)
    valid_count = valid.sum(dim=0)  # (K,)
    correct = ((distance < thr) & valid).sum(dim=0)
    accuracy = torch.where(
        valid_count > 0, correct / valid_count.clamp(min=1), torch.full_like(distance[0], -1.0)
    )
    has_target = valid_count > 0
    count = int(has_target.sum())
    average = accuracy[has_target].mean() if count else accuracy.new_zeros(())
    return accuracy, average, count


@torch.no_grad()
def heatmap_pck_accuracy(
    output: torch.Tensor, target: torch.Tensor, mask: torch.Tensor, thr: float = 0.05
) -> torch.Tensor:
    """Average PCK of predicted heatmaps against target heatmaps (both (B, K, H, W)); ``mask`` (B, K) bool."""
    batch, _, height, width = output.shape
    normalize = output.new_tensor([[height, width]]).expand(batch, 2)  # MMPose's (H, W) for (x, y)
    pred, _ = heatmap_maximum(output.float())
    gt, _ = heatmap_maximum(target.float())
    return keypoint_pck_accuracy(pred, gt, mask, thr, normalize.float())[1]


@torch.no_grad()
def simcc_pck_accuracy(
    output: tuple[torch.Tensor, torch.Tensor],
    target: tuple[torch.Tensor, torch.Tensor],
    simcc_split_ratio: float,
    mask: torch.Tensor,
    thr: float = 0.05,
) -> torch.Tensor:
    """Average PCK of predicted SimCC vectors against target vectors, in input pixels (bins / split ratio).

    Args:
        output, target: ``(x (B, K, Wx), y (B, K, Wy))``.
        simcc_split_ratio: bins per input pixel.
        mask: (B, K) bool.
        thr: PCK threshold of the distance divided by (input height, input width).
    """
    pred_x, pred_y = output
    batch = pred_x.shape[0]
    width, height = int(pred_x.shape[-1] / simcc_split_ratio), int(pred_y.shape[-1] / simcc_split_ratio)
    normalize = pred_x.new_tensor([[height, width]], dtype=torch.float32).expand(batch, 2)
    pred, _ = simcc_maximum(pred_x.float(), pred_y.float())
    gt, _ = simcc_maximum(target[0].float(), target[1].float())
    return keypoint_pck_accuracy(pred / simcc_split_ratio, gt / simcc_split_ratio, mask, thr, normalize)[1]
