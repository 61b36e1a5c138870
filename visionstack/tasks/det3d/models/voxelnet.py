"""The single-stage voxel detector frame: voxels -> encoder -> BEV scatter -> 2D backbone -> neck -> head.

``VoxelNet`` is MMDetection3D's frame of PointPillars and SECOND (Zhou & Tuzel, "VoxelNet", CVPR
2018, gave the name); ``CenterPoint`` is the same computation with MMDetection3D's ``pts_``-prefixed
module names (its ``MVXTwoStageDetector`` layout), so both families' state dicts load by name.

The head owns its losses and its decoding (the interface of ``anchor3d_head.py``/``center_head.py``):
``head(feats) -> outs``, ``head.loss(outs, gt_instances_3d, metas)``, ``head.predict(outs, metas)`` and
the fixed-shape ``head.export_predict(outs) -> (boxes, scores, labels)`` that :meth:`export_forward`
ends with, so the ONNX graph is ``voxels -> boxes`` for a batch of one.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, ClassVar

import torch
from torch import nn

from ....models.base_model import BaseModel
from ....registry import MODELS
from ....structures import DataSample
from .data_preprocessor import Det3DDataPreprocessor

__all__ = ["VoxelNet", "CenterPoint"]

_PARTS = ("voxel_encoder", "middle_encoder", "backbone", "neck", "bbox_head")


def _as_module(value: Any, key: str, owner: str) -> nn.Module:
    if isinstance(value, Mapping):
        value = MODELS.build(value)
    if not isinstance(value, nn.Module):
        raise TypeError(
            f"{owner}: {key} must be an nn.Module or a config dict with 'type', got {type(value).__name__}"
        )
    return value


def _head_cfg(cfg: Mapping[str, Any] | None, prefix: str) -> Any:
    """MMDetection3D's multi-modality detectors keep the point branch's cfg under ``pts``."""
    if prefix and isinstance(cfg, Mapping) and "pts" in cfg:
        return cfg["pts"]
    return cfg


def _build_head(head: Any, train_cfg: Any, test_cfg: Any, key: str, owner: str) -> nn.Module:
    """Hand ``train_cfg``/``test_cfg`` to the head as MMDetection3D does (``bbox_head.update(...)``).

    A head config gets them as arguments before it is built. A head the registry already built
    (configs are built bottom-up, so the head exists before the detector) merges them into its own with
    ``set_cfgs`` (rebuilding what it parsed from them, e.g. its assigners).
    """
    if isinstance(head, Mapping):
        head = dict(head)
        if train_cfg is not None:
            head.setdefault("train_cfg", train_cfg)
        if test_cfg is not None:
            head.setdefault("test_cfg", test_cfg)
        return _as_module(head, key, owner)
    head = _as_module(head, key, owner)
    given = {
        name: value for name, value in (("train_cfg", train_cfg), ("test_cfg", test_cfg)) if value is not None
    }
    if not given:
        return head
    if not callable(getattr(head, "set_cfgs", None)):
        raise ValueError(
            f"{owner}: {key} {type(head).__name__} takes no detector-level {' / '.join(given)} (it has no "
            f"set_cfgs()); put them inside the {key} config"
        )
    head.set_cfgs(train_cfg, test_cfg)
    return head


class _VoxelDetector(BaseModel):
    """The shared computation; subclasses name the parts (``module_prefix``)."""

    task = "det3d"
    export_output_names = ("boxes", "scores", "labels")
    module_prefix: ClassVar[str] = ""

    def __init__(
        self,
        data_preprocessor: nn.Module | Mapping[str, Any] | None,
        parts: Mapping[str, Any],
        train_cfg: Any = None,
        test_cfg: Any = None,
    ) -> None:
        owner = type(self).__name__
        if data_preprocessor is None:
            raise ValueError(
                f"{owner}: give a data_preprocessor (Det3DDataPreprocessor with its voxel_layer)"
            )
        if isinstance(data_preprocessor, Mapping):
            if "type" in data_preprocessor:
                data_preprocessor = MODELS.build(data_preprocessor)
            else:
                data_preprocessor = Det3DDataPreprocessor(**data_preprocessor)
        super().__init__(data_preprocessor=data_preprocessor)
        prefix = self.module_prefix
        self.train_cfg = train_cfg
        self.test_cfg = test_cfg
        for part in _PARTS[:-1]:
            key = prefix + part
            value = parts[part]
            if value is None and part == "neck":
                setattr(self, key, None)
            else:
                setattr(self, key, _as_module(value, key, owner))
        head_key = prefix + "bbox_head"
        head = _build_head(
            parts["bbox_head"], _head_cfg(train_cfg, prefix), _head_cfg(test_cfg, prefix), head_key, owner
        )
        for method in ("loss", "predict", "export_predict"):
            if not callable(getattr(head, method, None)):
                raise TypeError(f"{owner}: {head_key} {type(head).__name__} has no {method}() method")
        setattr(self, head_key, head)

    def _part(self, name: str) -> nn.Module | None:
        return getattr(self, self.module_prefix + name)

    # ---- features --------------------------------------------------------------------------------
    def extract_feat(self, batch_inputs: Mapping[str, Any]) -> list[torch.Tensor]:
        """BEV feature maps of a preprocessed batch: voxel encoder -> scatter -> backbone -> neck.

        Args:
            batch_inputs: ``{"points": [(N_i, C)], "voxels": {"voxels": (M, P, C), "num_points": (M,),
                "coors": (M, 4) (batch, z, y, x)}}`` (the data preprocessor's output).

        Returns:
            the neck's list of (B, C, H, W) maps.
        """
        voxel_dict = batch_inputs["voxels"]
        coors = voxel_dict["coors"]
        points = batch_inputs.get("points")
        if points is not None:
            batch_size = len(points)
        else:
            batch_size = int(coors[:, 0].max().item()) + 1 if len(coors) else 1
        return self._features(voxel_dict["voxels"], voxel_dict.get("num_points"), coors, batch_size)

    def _features(
        self, voxels: torch.Tensor, num_points: torch.Tensor | None, coors: torch.Tensor, batch_size: int
    ) -> list[torch.Tensor]:
        voxel_features = self._part("voxel_encoder")(voxels, num_points, coors)
        x = self._part("middle_encoder")(voxel_features, coors, batch_size)
        x = self._part("backbone")(x)
        neck = self._part("neck")
        if neck is not None:
            x = neck(x)
        if isinstance(x, torch.Tensor):
            x = [x]
        return list(x)

    # ---- the three modes -------------------------------------------------------------------------
    def loss(self, inputs: Mapping[str, Any], data_samples: list[DataSample]) -> dict[str, torch.Tensor]:
        """The head's losses on the samples' ``gt_instances_3d``."""
        if not data_samples:
            raise ValueError(f"{type(self).__name__}.loss needs data_samples with gt_instances_3d")
        head = self._part("bbox_head")
        outs = head(self.extract_feat(inputs))
        gts = [sample.gt_instances_3d for sample in data_samples]
        metas = [sample.metainfo for sample in data_samples]
        return head.loss(outs, gts, metas)

    def predict(
        self, inputs: Mapping[str, Any], data_samples: list[DataSample] | None = None
    ) -> list[DataSample]:
        """Samples with ``pred_instances_3d`` (``bboxes_3d`` (K, 7) LiDAR, ``scores_3d``, ``labels_3d``)."""
        if data_samples is None:
            data_samples = [DataSample() for _ in range(len(inputs["points"]))]
        head = self._part("bbox_head")
        outs = head(self.extract_feat(inputs))
        results = head.predict(outs, [sample.metainfo for sample in data_samples])
        for sample, result in zip(data_samples, results):
            sample.pred_instances_3d = result
        return data_samples

    def forward_tensor(self, inputs: Mapping[str, Any], data_samples: list | None = None) -> Any:
        """The head's raw outputs (what ``head.predict`` decodes)."""
        return self._part("bbox_head")(self.extract_feat(inputs))

    def export_forward(
        self, voxels: torch.Tensor, num_points: torch.Tensor, coors: torch.Tensor
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """The exported graph for one cloud (voxelised outside: ``runtime.py`` or the preprocessor).

        Args:
            voxels: (1, M, P, C) float32 zero-padded points per pillar.
            num_points: (1, M) float32 real points per pillar.
            coors: (1, M, 2) float32 (y, x) grid cells.

        Returns:
            the head's ``export_predict``: boxes (1, K, 7) LiDAR, scores (1, K), labels (1, K) int64,
            K = ``test_cfg.max_num``, padding rows labelled -1 with score 0.
        """
        yx = coors[0].long()
        coors4 = torch.cat([torch.zeros_like(yx), yx], dim=1)  # (batch 0, z 0, y, x)
        feats = self._features(voxels[0], num_points[0], coors4, 1)
        head = self._part("bbox_head")
        return head.export_predict(head(feats))


@MODELS.register()
class VoxelNet(_VoxelDetector):
    """Single-stage voxel/pillar detector (PointPillars, SECOND) with MMDetection3D's module names.

    Args:
        data_preprocessor: a :class:`Det3DDataPreprocessor` (or its config; a dict without ``type``
            is taken as its arguments).
        voxel_encoder: (M, P, C), (M,), (M, 4) -> (M, C_v), e.g. ``PillarFeatureNet``.
        middle_encoder: (M, C_v), (M, 4), B -> (B, C_v, ny, nx), e.g. ``PointPillarsScatter``.
        backbone: BEV map -> tuple of maps, e.g. ``SECOND``.
        neck: tuple of maps -> list of maps, e.g. ``SECONDFPN`` (None: the backbone's outputs).
        bbox_head: a head with the det3d head interface (module docstring).
        train_cfg, test_cfg: handed to the head (MMDetection3D's ``bbox_head.update``).
        init_cfg: accepted for MMDetection3D config compatibility; unused (modules init themselves).

    Every part may be a built module or a config dict with ``type``.
    """

    def __init__(
        self,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
        voxel_encoder: nn.Module | Mapping[str, Any] | None = None,
        middle_encoder: nn.Module | Mapping[str, Any] | None = None,
        backbone: nn.Module | Mapping[str, Any] | None = None,
        neck: nn.Module | Mapping[str, Any] | None = None,
        bbox_head: nn.Module | Mapping[str, Any] | None = None,
        train_cfg: Any = None,
        test_cfg: Any = None,
        init_cfg: Any = None,
    ) -> None:
        parts = dict(
            voxel_encoder=voxel_encoder,
            middle_encoder=middle_encoder,
            backbone=backbone,
            neck=neck,
            bbox_head=bbox_head,
        )
        super().__init__(data_preprocessor, parts, train_cfg, test_cfg)


@MODELS.register()
class CenterPoint(_VoxelDetector):
    """CenterPoint's point branch (Yin et al., "Center-based 3D Object Detection and Tracking", CVPR
    2021) with MMDetection3D's ``pts_`` module names; the computation is :class:`VoxelNet`'s.

    ``train_cfg``/``test_cfg`` may hold the head's settings under ``pts`` (MMDetection3D's layout) or
    directly.
    """

    module_prefix = "pts_"

    def __init__(
        self,
        data_preprocessor: nn.Module | Mapping[str, Any] | None = None,
        pts_voxel_encoder: nn.Module | Mapping[str, Any] | None = None,
        pts_middle_encoder: nn.Module | Mapping[str, Any] | None = None,
        pts_backbone: nn.Module | Mapping[str, Any] | None = None,
        pts_neck: nn.Module | Mapping[str, Any] | None = None,
        pts_bbox_head: nn.Module | Mapping[str, Any] | None = None,
        train_cfg: Any = None,
        test_cfg: Any = None,
        init_cfg: Any = None,
    ) -> None:
        parts = dict(
            voxel_encoder=pts_voxel_encoder,
            middle_encoder=pts_middle_encoder,
            backbone=pts_backbone,
            neck=pts_neck,
            bbox_head=pts_bbox_head,
        )
        super().__init__(data_preprocessor, parts, train_cfg, test_cfg)
