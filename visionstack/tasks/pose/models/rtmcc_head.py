"""RTMPose's coordinate-classification head (Jiang et al., "RTMPose: Real-Time Multi-Person Pose
Estimation based on MMPose", 2023, section 3.2): SimCC (Li et al., "SimCC", ECCV 2022) with a gated
attention unit over the keypoint tokens.

The backbone's last (stride-32) map goes through a large-kernel (7x7) conv to K channels; each channel,
flattened, is a keypoint token that a ScaleNorm + Linear maps to 256 dimensions; one gated attention
unit (:class:`~.gau.RTMCCBlock`) lets the tokens exchange information; two Linears classify each
token's x and y into ``input_w * split_ratio`` and ``input_h * split_ratio`` bins. Training minimises
the KL divergence to Gaussian-smoothed bin labels (``KLDiscretLoss(beta=10, label_softmax=True)``).

Module names (``final_layer``, ``mlp.0``, ``mlp.1``, ``gau.*``, ``cls_x``, ``cls_y``) and the
initialisation (N(0, 0.001) for the conv, N(0, 0.01) and zero biases for every Linear, the GAU's
included) are MMPose's ``RTMCCHead``, so its checkpoints load key for key.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np
import torch
from torch import nn

from ....models.layers import normal_init
from ....registry import MODELS
from ....structures import DataSample
from ....utils.suggest import did_you_mean
from ..losses import KLDiscretLoss
from .accuracy import simcc_pck_accuracy
from .base_head import BaseKeypointHead, check_flip_indices, gather_instance_labels
from .gau import RTMCCBlock, ScaleNorm

__all__ = ["DEFAULT_GAU_CFG", "RTMCCHead", "flip_simcc"]

DEFAULT_GAU_CFG: Mapping[str, Any] = dict(
    hidden_dims=256,
    s=128,
    expansion_factor=2,
    dropout_rate=0.0,
    drop_path=0.0,
    act_fn="SiLU",
    use_rel_bias=False,
    pos_enc=False,
)
"""The gated attention unit of the published RTMPose configs (MMPose's class default has ReLU instead)."""


def flip_simcc(
    simcc_x: torch.Tensor, simcc_y: torch.Tensor, flip_indices: Sequence[int]
) -> tuple[torch.Tensor, torch.Tensor]:
    """SimCC vectors of horizontally flipped crops, mapped back to the unflipped crops: left/right keypoints
    swapped and the x bins reversed (MMPose's ``flip_vectors``; no shift is applied, so the mirrored x
    peak sits ``1 - 1 / split_ratio`` input pixels right of the plain one, half a pixel at ratio 2).

    Args:
        simcc_x: (B, K, Wx); simcc_y: (B, K, Wy), outputs for the flipped crops.
        flip_indices: (K,) the mirror of each keypoint.
    """
    index = torch.as_tensor(list(flip_indices), dtype=torch.long, device=simcc_x.device)
    return simcc_x.index_select(1, index).flip(-1), simcc_y.index_select(1, index)


@MODELS.register()
class RTMCCHead(BaseKeypointHead):
    """RTMPose's head: large-kernel conv, token MLP, gated attention unit, x/y bin classifiers.

    Args:
        in_channels: channels of the backbone's last feature map (384 / 512 / 768 for RTMPose-t / s / m).
        out_channels: K, the number of keypoints.
        input_size: (w, h) of the input crop.
        in_featuremap_size: (w, h) of the feature map (the crop size / 32 for CSPNeXt's last stage).
        simcc_split_ratio: bins per input pixel (2.0).
        final_layer_kernel_size: kernel of the conv to K channels (7 in RTMPose).
        gau_cfg: the gated attention unit: ``hidden_dims``, ``s``, ``expansion_factor``,
            ``dropout_rate``, ``drop_path``, ``act_fn``, ``use_rel_bias``, ``pos_enc``; missing keys take
            :data:`DEFAULT_GAU_CFG`.
        loss: called ``loss((pred_x, pred_y), (gt_x, gt_y), keypoint_weights)``; default
            ``KLDiscretLoss(beta=10., label_softmax=True, use_target_weight=True)``.
        decoder: the ``SimCCLabel`` codec, built or as a config dict.

    Shapes:
        the last of the input features (B, in_channels, h, w) -> ``(simcc_x (B, K, w_in * ratio),
        simcc_y (B, K, h_in * ratio))``.
    """

    def __init__(
        self,
        in_channels: int,
        out_channels: int,
        input_size: Sequence[int],
        in_featuremap_size: Sequence[int],
        simcc_split_ratio: float = 2.0,
        final_layer_kernel_size: int = 1,
        gau_cfg: Mapping[str, Any] | None = None,
        loss: nn.Module | None = None,
        decoder: Any = None,
    ) -> None:
        super().__init__(decoder)
        gau = _gau_settings(gau_cfg)
        self.in_channels = in_channels
        self.out_channels = out_channels
        self.input_size = (int(input_size[0]), int(input_size[1]))
        self.in_featuremap_size = (int(in_featuremap_size[0]), int(in_featuremap_size[1]))
        self.simcc_split_ratio = float(simcc_split_ratio)
        self._check_decoder()
        flatten_dims = self.in_featuremap_size[0] * self.in_featuremap_size[1]
        hidden = gau.pop("hidden_dims")
        self.final_layer = nn.Conv2d(
            in_channels, out_channels, final_layer_kernel_size, padding=final_layer_kernel_size // 2
        )
        self.mlp = nn.Sequential(ScaleNorm(flatten_dims), nn.Linear(flatten_dims, hidden, bias=False))
        self.gau = RTMCCBlock(out_channels, hidden, hidden, **gau)
        self.cls_x = nn.Linear(hidden, int(self.input_size[0] * self.simcc_split_ratio), bias=False)
        self.cls_y = nn.Linear(hidden, int(self.input_size[1] * self.simcc_split_ratio), bias=False)
        self.loss_module = (
            loss if loss is not None else KLDiscretLoss(beta=10.0, label_softmax=True, use_target_weight=True)
        )
        self._init_weights()

    def _check_decoder(self) -> None:
        """The codec must bin the same crop at the same ratio as the classifiers."""
        codec = self.decoder
        if codec is None:
            return
        size = getattr(codec, "input_size", None)
        ratio = getattr(codec, "simcc_split_ratio", None)
        if size is not None and tuple(int(v) for v in size) != self.input_size:
            raise ValueError(
                f"RTMCCHead: input_size {self.input_size} differs from the decoder's {tuple(size)}"
            )
        if ratio is not None and float(ratio) != self.simcc_split_ratio:
            raise ValueError(
                f"RTMCCHead: simcc_split_ratio {self.simcc_split_ratio} differs from the decoder's {ratio}"
            )

    def _init_weights(self) -> None:
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                normal_init(module, std=0.001)
            elif isinstance(module, nn.Linear):
                normal_init(module, std=0.01)

    def forward(self, feats: Sequence[torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """``(simcc_x (B, K, Wx), simcc_y (B, K, Wy))`` logits from the last feature map of ``feats``."""
        maps = self.final_layer(feats[-1])  # (B, K, h, w)
        if maps.shape[-1] * maps.shape[-2] != self.mlp[1].in_features:
            raise ValueError(
                f"RTMCCHead: the feature map is {maps.shape[-1]}x{maps.shape[-2]} (w x h) but in_featuremap_size is "
                f"{self.in_featuremap_size[0]}x{self.in_featuremap_size[1]}; set it to the crop size / the "
                "backbone's stride"
            )
        tokens = self.gau(self.mlp(maps.flatten(2)))  # (B, K, hidden)
        return self.cls_x(tokens), self.cls_y(tokens)

    def loss(
        self, feats: Sequence[torch.Tensor], data_samples: Sequence[DataSample]
    ) -> dict[str, torch.Tensor]:
        """``loss_kpt`` (KL to ``gt_instance_labels.keypoint_x_labels`` / ``keypoint_y_labels``, weighted by
        ``keypoint_weights``) and ``acc_pose`` (PCK@0.05 of the bin maxima)."""
        pred_x, pred_y = self(feats)
        device = pred_x.device
        gt_x = gather_instance_labels(data_samples, "keypoint_x_labels", "RTMCCHead", device)
        gt_y = gather_instance_labels(data_samples, "keypoint_y_labels", "RTMCCHead", device)
        weights = gather_instance_labels(data_samples, "keypoint_weights", "RTMCCHead", device)
        if gt_x.shape != pred_x.shape or gt_y.shape != pred_y.shape:
            raise ValueError(
                f"RTMCCHead.loss: SimCC labels x {tuple(gt_x.shape)}, y {tuple(gt_y.shape)} differ from the "
                f"head's outputs {tuple(pred_x.shape)}, {tuple(pred_y.shape)}; the codec's input_size and "
                "simcc_split_ratio must be the head's"
            )
        accuracy = simcc_pck_accuracy(
            (pred_x.detach(), pred_y.detach()), (gt_x, gt_y), self.simcc_split_ratio, weights > 0
        )
        return {"loss_kpt": self.loss_module((pred_x, pred_y), (gt_x, gt_y), weights), "acc_pose": accuracy}

    def flip_back(
        self, outputs: tuple[torch.Tensor, torch.Tensor], flip_indices: Sequence[int], test_cfg: Any = None
    ) -> tuple[torch.Tensor, torch.Tensor]:
        """Flipped-crop SimCC vectors mapped to the unflipped crop (see :func:`flip_simcc`; ``test_cfg``'s
        heatmap settings do not apply)."""
        simcc_x, simcc_y = outputs
        return flip_simcc(simcc_x, simcc_y, check_flip_indices(flip_indices, simcc_x.shape[1], "RTMCCHead"))

    def decode(self, outputs: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints (B, K, 2) in input-crop pixels and scores (B, K): the codec's ``decode`` on the batch."""
        codec = self.require_decoder()
        simcc_x, simcc_y = (value.detach().float().cpu().numpy() for value in outputs)
        keypoints, scores = codec.decode(simcc_x, simcc_y)
        keypoints = np.asarray(keypoints, dtype=np.float32).reshape(simcc_x.shape[0], -1, 2)
        scores = np.asarray(scores, dtype=np.float32).reshape(simcc_x.shape[0], -1)
        return torch.from_numpy(keypoints), torch.from_numpy(scores)

    def decode_torch(self, outputs: tuple[torch.Tensor, torch.Tensor]) -> tuple[torch.Tensor, torch.Tensor]:
        """Keypoints (B, K, 2) and scores (B, K) through the codec's traceable ``decode_torch``."""
        return self.require_decoder().decode_torch(*outputs)


def _gau_settings(gau_cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """:data:`DEFAULT_GAU_CFG` updated by ``gau_cfg``; an unknown key is an error with a suggestion."""
    settings = dict(DEFAULT_GAU_CFG)
    for key, value in (gau_cfg or {}).items():
        if key not in settings:
            raise KeyError(f"RTMCCHead: unknown gau_cfg key {key!r}.{did_you_mean(key, settings)}")
        settings[key] = value
    return settings
