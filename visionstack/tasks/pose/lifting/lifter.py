"""PoseLifter: the model frame of 2D -> 3D lifting (a lifting network, its loss, test-time flipping).

Inputs are (N, L, 17, 2) normalised 2D keypoint sequences, edge-padded for the network's receptive field
(``L = F + receptive_field - 1`` for F target frames, see :mod:`.datasets`); outputs are root-relative 3D
joints in the camera frame, millimetres, (N, F, 17, 3), the root joint exactly 0. The network works in
``unit_mm`` millimetres (metres by default, as VideoPose3D trains), which keeps its outputs near 1.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn

from ....models.base_model import BaseModel
from ....registry import MODELS
from ....structures import DataSample, InstanceData
from ..metainfo import H36M_KEYPOINTS
from .preprocessor import LiftingDataPreprocessor

__all__ = ["JointMSELoss", "MPJPELoss", "PoseLifter"]


@MODELS.register()
class MPJPELoss(nn.Module):
    """The mean per-joint position error, ``mean ||pred - target||_2`` over joints and frames (VideoPose3D's
    training loss). ``pred``, ``target``: (..., J, 3)."""

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * torch.linalg.vector_norm(pred - target, dim=-1).mean()


@MODELS.register()
class JointMSELoss(nn.Module):
    """The mean squared error of the joint coordinates (Martinez et al.'s training loss). ``pred``,
    ``target``: (..., J, 3)."""

    def __init__(self, loss_weight: float = 1.0) -> None:
        super().__init__()
        self.loss_weight = float(loss_weight)

    def forward(self, pred: torch.Tensor, target: torch.Tensor) -> torch.Tensor:
        return self.loss_weight * ((pred - target) ** 2).mean()


@MODELS.register()
class PoseLifter(BaseModel):
    """A 2D -> 3D pose lifter (see the module docstring).

    Args:
        backbone: the lifting network, ``(N, L, J, 2) -> (N, L - rf + 1, J_out, 3)`` with attributes
            ``receptive_field`` and ``causal`` (:class:`~.temporal_conv.TemporalConvNet`,
            :class:`~.simple_baseline.SimpleBaselineMLP`); ``J_out`` is J (the root predicted too, and
            trained towards 0, as VideoPose3D) or J - 1 (every joint but the root, as Martinez et al.).
        loss: the training loss on network units (default :class:`MPJPELoss`).
        root_index: the root joint (0, the pelvis).
        unit_mm: millimetres per network output unit (1000: the network works in metres).
        test_flip: average each prediction with that of the mirrored input (VideoPose3D's test-time
            augmentation), at test time and in the export.
        flip_indices: the mirror of each joint (default: H36M's).
        data_preprocessor: a built preprocessor; None gives a :class:`LiftingDataPreprocessor`.

    Modes:
        ``"tensor"``: (N, F, 17, 3) root-relative joints, mm; ``"loss"``: ``{"loss": ..., "mpjpe_mm": ...}``;
        ``"predict"``: the samples with ``pred_instances.keypoints`` (F_i, 17, 3) mm, F_i the sample's
        ``num_frames``.
    """

    task = "pose3d"
    export_output_names = ("keypoints_3d",)

    def __init__(
        self,
        backbone: nn.Module,
        loss: nn.Module | None = None,
        root_index: int = 0,
        unit_mm: float = 1000.0,
        test_flip: bool = False,
        flip_indices: Sequence[int] | None = None,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
    ) -> None:
        if data_preprocessor is None or isinstance(data_preprocessor, Mapping):
            data_preprocessor = LiftingDataPreprocessor(**(data_preprocessor or {}))
        super().__init__(data_preprocessor)
        for attribute in ("receptive_field", "num_joints", "num_joints_out"):
            if not hasattr(backbone, attribute):
                raise TypeError(f"PoseLifter: the backbone {type(backbone).__name__} has no `{attribute}`")
        if backbone.num_joints_out not in (backbone.num_joints, backbone.num_joints - 1):
            raise ValueError(
                f"PoseLifter: the backbone outputs {backbone.num_joints_out} joints; expected "
                f"{backbone.num_joints} or {backbone.num_joints - 1} (all but the root)"
            )
        self.backbone = backbone
        self.loss_module = loss if loss is not None else MPJPELoss()
        self.root_index = int(root_index)
        self.unit_mm = float(unit_mm)
        self.test_flip = bool(test_flip)
        flips = list(flip_indices if flip_indices is not None else H36M_KEYPOINTS["flip_indices"])
        self.register_buffer("flip_index", torch.tensor(flips, dtype=torch.long), persistent=False)

    @property
    def receptive_field(self) -> int:
        return int(self.backbone.receptive_field)

    @property
    def causal(self) -> bool:
        return bool(getattr(self.backbone, "causal", False))

    # ---- the network in millimetres ----------------------------------------------------------------
    def _with_root(self, raw: torch.Tensor) -> torch.Tensor:
        """(N, F, J_out, 3) network output -> (N, F, J, 3) with the root joint exactly 0."""
        root = self.root_index
        keep_before = raw[:, :, :root]
        keep_after = raw[:, :, root + 1 :] if raw.shape[2] == self.backbone.num_joints else raw[:, :, root:]
        return torch.cat([keep_before, torch.zeros_like(raw[:, :, :1]), keep_after], dim=2)

    def _flip(self, keypoints: torch.Tensor) -> torch.Tensor:
        """(N, L, J, D) keypoints mirrored: x negated, left and right joints exchanged."""
        flipped = keypoints.index_select(2, self.flip_index)
        return torch.cat([-flipped[..., :1], flipped[..., 1:]], dim=-1)

    def forward_tensor(
        self,
        inputs: torch.Tensor,
        data_samples: Sequence[DataSample] | None = None,
        dense: bool | None = None,
    ) -> torch.Tensor:
        """(N, L, 17, 2) -> (N, L - rf + 1, 17, 3) root-relative joints in mm (flip-averaged with ``test_flip``
        outside training)."""
        self._check_length(inputs)
        joints = self._with_root(self.backbone(inputs, dense=dense))
        if self.test_flip and not self.training:
            mirrored = self._with_root(self.backbone(self._flip(inputs), dense=dense))
            joints = (joints + self._flip(mirrored)) / 2
        return joints * self.unit_mm

    def export_forward(self, inputs: torch.Tensor) -> torch.Tensor:
        """The exported graph: (N, L >= rf, 17, 2) normalised 2D keypoints -> (N, L - rf + 1, 17, 3) mm; a
        window of exactly ``receptive_field`` frames gives its one target frame."""
        return self.forward_tensor(inputs, dense=True)

    def _check_length(self, inputs: torch.Tensor) -> None:
        if not torch.compiler.is_exporting() and inputs.shape[1] < self.receptive_field:
            raise ValueError(
                f"PoseLifter: {inputs.shape[1]} input frames, fewer than the receptive field {self.receptive_field}; "
                "pad the sequences (the dataset's and LoadKeypointSequence's receptive_field must be the model's)"
            )

    # ---- modes -------------------------------------------------------------------------------------
    def loss(self, inputs: torch.Tensor, data_samples: Sequence[DataSample]) -> dict[str, torch.Tensor]:
        self._check_length(inputs)
        raw = self.backbone(inputs)
        targets = torch.stack([self._targets(sample, index) for index, sample in enumerate(data_samples)])
        if targets.shape[1] != raw.shape[1]:
            raise ValueError(
                f"PoseLifter: {targets.shape[1]} target frames for {inputs.shape[1]} input frames; a receptive "
                f"field of {self.receptive_field} needs {targets.shape[1] + self.receptive_field - 1} (the dataset's "
                "receptive_field must be the model's)"
            )
        targets = targets / self.unit_mm
        if raw.shape[2] != targets.shape[2]:  # a network without the root joint
            targets = torch.cat(
                [targets[:, :, : self.root_index], targets[:, :, self.root_index + 1 :]], dim=2
            )
        with torch.no_grad():
            mpjpe = torch.linalg.vector_norm(
                self._with_root(raw) - self._with_root_target(targets), dim=-1
            ).mean()
        return {"loss": self.loss_module(raw, targets), "mpjpe_mm": mpjpe * self.unit_mm}

    def _with_root_target(self, targets: torch.Tensor) -> torch.Tensor:
        return targets if targets.shape[2] == self.backbone.num_joints else self._with_root(targets)

    def _targets(self, sample: DataSample, index: int) -> torch.Tensor:
        gt = sample.get("gt_instances")
        if gt is None or "keypoints" not in gt:
            raise KeyError(
                f"PoseLifter: data_samples[{index}] ({sample.metainfo.get('img_path')}) has no gt_instances.keypoints"
            )
        targets = gt.keypoints.to(torch.float32)
        return targets - targets[:, self.root_index : self.root_index + 1]

    def predict(
        self, inputs: torch.Tensor, data_samples: Sequence[DataSample] | None = None
    ) -> list[DataSample]:
        joints = self.forward_tensor(inputs)
        samples = (
            list(data_samples) if data_samples is not None else [DataSample() for _ in range(len(joints))]
        )
        for index, (sample, predicted) in enumerate(zip(samples, joints)):
            frames = int(sample.metainfo.get("num_frames", predicted.shape[0]))
            if frames > predicted.shape[0]:
                raise ValueError(
                    f"PoseLifter: sample {index} ({sample.metainfo.get('img_path')}) has {frames} target frames but "
                    f"its inputs give {predicted.shape[0]}; its padding does not match the receptive field "
                    f"{self.receptive_field}"
                )
            sample.pred_instances = InstanceData(keypoints=predicted[:frames])
        return samples
