"""SimpleBaseline's heatmap head (Xiao et al., "Simple Baselines for Human Pose Estimation and Tracking",
ECCV 2018, section 2): transposed convolutions upsample the backbone's last feature map, a 1x1 conv
gives one heatmap per keypoint.

The published head is three 4x4 stride-2 deconvolutions of 256 channels, each followed by batch norm and
ReLU (stride 32 -> 4: a 256x192 crop gives 64x48 heatmaps), trained with a mean-squared error against
Gaussian target heatmaps. Layer names (``deconv_layers``, ``conv_layers``, ``final_layer``) and the
initialisation (N(0, 0.001) for the deconvolutions and convolutions, zero biases, unit batch-norm
weights) are MMPose's ``HeatmapHead``, so its checkpoints load key for key.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ....models.layers import constant_init, normal_init
from ....registry import MODELS
from ....structures import DataSample
from ..losses import KeypointMSELoss
from .accuracy import heatmap_pck_accuracy
from .base_head import BaseKeypointHead, check_flip_indices, gather_instance_labels

__all__ = ["HeatmapHead", "flip_heatmaps"]

# deconvolution kernel -> (padding, output_padding) that doubles the size exactly (MMPose's table)
_DECONV_PADDING = {4: (1, 0), 3: (1, 1), 2: (0, 0)}


def flip_heatmaps(heatmaps: torch.Tensor, flip_indices: Sequence[int], shift: bool) -> torch.Tensor:
    """Heatmaps of horizontally flipped crops, mapped back to the unflipped crops (MMPose's flip test).

    Mirrors the maps left-right and swaps the channels of left/right keypoints. With ``shift``, moves
    every map one pixel right (the first column kept): the image flip maps input column ``c`` to
    ``W - 1 - c`` while heatmap column ``j`` stands for input pixel ``j * stride``, so the mirrored peak
    lands ``1 - 1 / stride`` of a heatmap pixel left of the plain one, and the shift brings it back
    (MMPose's ``shift_heatmap``). UDP heatmaps (Huang et al., "The Devil is in the Details", CVPR 2020)
    map pixel centres onto each other exactly, so they are flipped without a shift.

    Args:
        heatmaps: (B, K, H, W) outputs for the flipped crops.
        flip_indices: (K,) the mirror of each keypoint.
        shift: move the flipped maps one pixel right.

    Returns:
        (B, K, H, W).
    """
    index = torch.as_tensor(list(flip_indices), dtype=torch.long, device=heatmaps.device)
    flipped = heatmaps.flip(-1).index_select(1, index)
    if shift:
        flipped = torch.cat([flipped[..., :1], flipped[..., :-1]], dim=-1)
    return flipped


@MODELS.register()
class HeatmapHead(BaseKeypointHead):
    """Deconvolutions, optional convolutions and a final conv to K heatmaps (SimpleBaseline).

    Args:
        in_channels: channels of the last feature map of the backbone (or neck).
        out_channels: K, the number of keypoints.
        deconv_out_channels: channels of each 2x upsampling deconvolution (+ BN + ReLU); empty for none.
        deconv_kernel_sizes: their kernels (4, 3 or 2), one per deconvolution.
        conv_out_channels: channels of 3x3-or-other convolutions (+ BN + ReLU) after the deconvolutions.
        conv_kernel_sizes: their (odd) kernels, one per convolution.
        final_layer_kernel_size: kernel of the last conv to K channels (1 in SimpleBaseline).
        loss: the heatmap loss, called ``loss(output, target, keypoint_weights)``; default
            ``KeypointMSELoss(use_target_weight=True)``.
        decoder: the heatmap codec (``MSRAHeatmap`` / ``UDPHeatmap``), built or as a config dict.

    Shapes:
        the last of the input features (B, in_channels, h, w) -> (B, K, h * 2^d, w * 2^d) for d
        deconvolutions.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        deconv_out_channels: Sequence[int] = (256, 256, 256),
        deconv_kernel_sizes: Sequence[int] = (4, 4, 4),
        conv_out_channels: Sequence[int] = (),
        conv_kernel_sizes: Sequence[int] = (),
        final_layer_kernel_size: int = 1,
        loss: nn.Module | None = None,
        decoder: Any = None,
    ) -> None:
        super().__init__(decoder)
        deconv_out_channels = tuple(deconv_out_channels or ())
        conv_out_channels = tuple(conv_out_channels or ())
        # as MMPose: no channels means no layers, whatever the kernel sizes say
        deconv_kernel_sizes = tuple(deconv_kernel_sizes or ()) if deconv_out_channels else ()
        conv_kernel_sizes = tuple(conv_kernel_sizes or ()) if conv_out_channels else ()
        for kind, channels, kernels in (
            ("deconv", deconv_out_channels, deconv_kernel_sizes),
            ("conv", conv_out_channels, conv_kernel_sizes),
        ):
            if len(channels) != len(kernels):
                raise ValueError(
                    f"HeatmapHead: {kind}_out_channels {channels} and {kind}_kernel_sizes {kernels} must have "
                    "the same length"
                )
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.deconv_layers, channels = _deconv_stack(in_channels, deconv_out_channels, deconv_kernel_sizes)
        self.conv_layers, channels = _conv_stack(channels, conv_out_channels, conv_kernel_sizes)
        self.final_layer = nn.Conv2d(
            channels, out_channels, final_layer_kernel_size, padding=final_layer_kernel_size // 2
        )
        self.loss_module = loss if loss is not None else KeypointMSELoss(use_target_weight=True)
        self._init_weights()

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, (nn.Conv2d, nn.ConvTranspose2d)):
                normal_init(module, std=0.001)
            elif isinstance(module, nn.BatchNorm2d):
                constant_init(module, 1.0)

    def forward(self, feats: Sequence[torch.Tensor]) -> torch.Tensor:
        """(B, K, H, W) heatmaps from the last feature map of ``feats``."""
        return self.final_layer(self.conv_layers(self.deconv_layers(feats[-1])))

    def loss(
        self, feats: Sequence[torch.Tensor], data_samples: Sequence[DataSample]
    ) -> dict[str, torch.Tensor]:
        """``loss_kpt`` (the heatmap loss against ``gt_fields.heatmaps``, weighted by
        ``gt_instance_labels.keypoint_weights``) and ``acc_pose`` (PCK@0.05 of the heatmap maxima)."""
        heatmaps = self(feats)
        targets = self._target_heatmaps(data_samples, heatmaps)
        weights = gather_instance_labels(data_samples, "keypoint_weights", "HeatmapHead", heatmaps.device)
        return {
            "loss_kpt": self.loss_module(heatmaps, targets, weights),
            "acc_pose": heatmap_pck_accuracy(heatmaps.detach(), targets, weights > 0),
        }

    def _target_heatmaps(self, data_samples: Sequence[DataSample], heatmaps: torch.Tensor) -> torch.Tensor:
        targets = []
        for index, sample in enumerate(data_samples):
            fields = sample.get("gt_fields")
            if fields is None or "heatmaps" not in fields:
                raise ValueError(
                    f"HeatmapHead.loss: data sample {index} has no gt_fields.heatmaps; the training pipeline must "
                    "encode the keypoints with a heatmap codec and pack the target heatmaps"
                )
            targets.append(torch.as_tensor(fields.heatmaps, dtype=torch.float32, device=heatmaps.device))
        targets = torch.stack(targets)
        if targets.shape != heatmaps.shape:
            raise ValueError(
                f"HeatmapHead.loss: target heatmaps {tuple(targets.shape)} differ from the head's output "
                f"{tuple(heatmaps.shape)}; the codec's heatmap_size (w, h) must be the input size / 4 for three "
                "deconvolutions on a stride-32 backbone, and its K the head's out_channels"
            )
        return targets

    def flip_back(self, outputs: torch.Tensor, flip_indices: Sequence[int], test_cfg: Any) -> torch.Tensor:
        """Flipped-crop heatmaps mapped to the unflipped crop (see :func:`flip_heatmaps`); the shift is
        ``test_cfg.shift_heatmap``, or when that is None, on for every codec but ``UDPHeatmap``."""
        indices = check_flip_indices(flip_indices, outputs.shape[1], "HeatmapHead")
        shift = test_cfg.shift_heatmap
        return flip_heatmaps(outputs, indices, not self.udp_codec if shift is None else bool(shift))

    def decode(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints (B, K, 2) in input-crop pixels and scores (B, K): the codec's ``decode`` per crop."""
        codec = self.require_decoder()
        heatmaps = outputs.detach().float().cpu().numpy()
        decoded = [codec.decode(maps) for maps in heatmaps]
        keypoints = np.concatenate([np.asarray(points).reshape(1, -1, 2) for points, _ in decoded])
        scores = np.concatenate([np.asarray(values).reshape(1, -1) for _, values in decoded])
        return torch.from_numpy(keypoints.astype(np.float32)), torch.from_numpy(scores.astype(np.float32))

    def decode_torch(self, outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints (B, K, 2) and scores (B, K) through the codec's traceable ``decode_torch``."""
        return self.require_decoder().decode_torch(outputs)


def _deconv_stack(
    in_channels: int, out_channels: Sequence[int], kernel_sizes: Sequence[int]
) -> tuple[nn.Module, int]:
    """Deconvolution (stride 2, no bias) + BN + ReLU per entry, as one Sequential (MMPose's indices)."""
    if not out_channels:
        return nn.Identity(), in_channels
    layers: list[nn.Module] = []
    for channels, kernel in zip(out_channels, kernel_sizes):
        if kernel not in _DECONV_PADDING:
            raise ValueError(f"HeatmapHead: deconv kernel sizes must be 2, 3 or 4, got {kernel}")
        padding, output_padding = _DECONV_PADDING[kernel]
        layers += [
            nn.ConvTranspose2d(
                in_channels,
                channels,
                kernel,
                stride=2,
                padding=padding,
                output_padding=output_padding,
                bias=False,
            ),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        ]
        in_channels = channels
    return nn.Sequential(*layers), in_channels


def _conv_stack(
    in_channels: int, out_channels: Sequence[int], kernel_sizes: Sequence[int]
) -> tuple[nn.Module, int]:
    """Convolution (same size, with bias as MMPose's) + BN + ReLU per entry."""
    if not out_channels:
        return nn.Identity(), in_channels
    layers: list[nn.Module] = []
    for channels, kernel in zip(out_channels, kernel_sizes):
        layers += [
            nn.Conv2d(in_channels, channels, kernel, padding=(kernel - 1) // 2),
            nn.BatchNorm2d(channels),
            nn.ReLU(inplace=True),
        ]
        in_channels = channels
    return nn.Sequential(*layers), in_channels
