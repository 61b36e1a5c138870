"""CenterPoint's centre head (Yin, Zhou, Krähenbühl, "Center-based 3D Object Detection and Tracking", CVPR 2021).

Names, layers and target rules of MMDetection3D v1.x (``CenterHead``, ``SeparateHead``,
``CenterPointBBoxCoder``), so its configs and state dicts read the same. Facts checked there:

- Layers: ``shared_conv`` = 3x3 conv (no bias) + BN2d + ReLU to ``share_conv_channel`` (64); one
  ``SeparateHead`` per task with the ``common_heads`` plus ``heatmap=(num_class, num_heatmap_convs=2)``;
  each head is ``(num_conv - 1)`` x [``final_kernel`` conv (no bias) + BN + ReLU to ``head_conv`` (64)] then
  a ``final_kernel`` conv with bias (state-dict keys ``task_heads.0.reg.0.conv.weight``,
  ``task_heads.0.reg.1.weight``, ...). Kaiming (fan-out) initialisation; the heatmap's last bias is
  ``init_bias = -2.19`` (sigmoid 0.1, CenterNet's prior).
- Targets (``get_targets_single``): boxes are moved to their GRAVITY centre first (``z + dz / 2``): the
  ``height`` head regresses the box-centre z, and decoding subtracts ``dz / 2`` again to return
  bottom-centred LiDAR boxes. Feature map ``(grid_size[:2] // out_size_factor)``; centre cell
  ``((x - pc_range[0]) / voxel_size[0] / out_size_factor)`` truncated to int (objects whose cell is off
  the map are skipped); Gaussian radius ``max(min_radius, int(gaussian_radius((dy_cells, dx_cells),
  gaussian_overlap)))``; regression target ``(offset x, offset y, z_centre, log dx, log dy, log dz,
  sin yaw, cos yaw)`` (log sizes when ``norm_bbox``), at slot k of the k-th object of the task (up to
  ``max_objs * dense_reg``), cell index ``y * W + x``.
- Labels: the global label ids are the tasks' ``class_names`` concatenated in order (task t's class c has
  id ``sum(num_class of tasks < t) + c``): the dataset's class order must equal that concatenation.
- Losses (per task, keys ``task{t}.loss_heatmap`` / ``task{t}.loss_bbox``): the heatmap logits are
  sigmoid-clamped to [1e-4, 1 - 1e-4]; ``GaussianFocalLoss`` summed and divided by the number of
  heatmap cells equal to 1 (at least 1); ``L1Loss(loss_weight=0.25)`` with weights ``mask * code_weights``
  summed and divided by ``num_objects + 1e-4``.
- Decoding (``CenterPointBBoxCoder.decode``): sigmoid heatmap, top-``max_num`` per class then over all
  classes of the task, centre = (cell + offset) * out_size_factor * voxel_size + pc_range, ``exp`` sizes,
  ``yaw = atan2(sin, cos)``, kept if ``score > score_threshold`` and the (centre-z) box centre inside
  ``post_center_range``. MMDetection3D does not apply the 3x3 max-pool peak test although its configs
  carry ``max_pool_nms=False``; here ``test_cfg["max_pool_nms"] = True`` turns it on.
- NMS per task, class-agnostic inside a task (as MMDetection3D): ``"rotate"``: the first
  ``pre_max_size`` decoded boxes (score order), rotated BEV NMS at ``nms_thr``, the first ``post_max_size``
  survivors, then ``post_center_limit_range``; ``"circle"``: centre-distance NMS with the task's
  ``min_radius[t]``, ``post_max_size`` survivors. Tasks are merged with label offsets.
- Published pillar config (centerpoint_pillar02_second_secfpn nuScenes): voxel 0.2 m, out_size_factor 4,
  ``train_cfg`` dense_reg 1, gaussian_overlap 0.1, max_objs 500, min_radius 2, code_weights 1 for
  (reg, height, dim, rot) and 0.2 for velocity; ``test_cfg`` max_per_img 500, score_threshold 0.1,
  nms_type "rotate", pre_max_size 1000, post_max_size 83, nms_thr 0.2; bbox_coder max_num 100,
  score_threshold 0.1. (No velocity here: ``code_size`` 7, 8 code weights.)

Beyond MMDetection3D: :meth:`CenterHead.export_predict` returns fixed-size outputs (``max_num`` rows, padding
label -1) through fixed-shape ops only, and :meth:`CenterHead.predict` is that output minus the padding,
so ONNX inference equals eager inference.
"""

from __future__ import annotations

import copy
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import torch
import torch.nn.functional as F
from torch import nn

from ....models.layers.conv_module import ConvModule, NormFactory
from ....models.layers.weight_init import kaiming_init
from ....models.losses import L1Loss
from ....registry import MODELS
from ....structures import InstanceData
from ..ops.nms import circle_nms, rotated_nms
from .gaussian_targets import GaussianFocalLoss, draw_heatmap_gaussian, gaussian_radius

__all__ = ["CenterHead", "CenterPointBBoxCoder", "SeparateHead"]

REGRESSION_HEADS = ("reg", "height", "dim", "rot")


def _build(cfg: Any) -> Any:
    """A built module as is; a config dict built through MODELS."""
    return MODELS.build(cfg) if isinstance(cfg, Mapping) else cfg


@MODELS.register()
class SeparateHead(nn.Module):
    """One conv branch per output (MMDetection3D's ``SeparateHead``).

    Args:
        in_channels: input channels (the shared conv's output).
        heads: ``name -> (out_channels, num_conv)``; e.g. ``reg=(2, 2)``, ``heatmap=(3, 2)``.
        head_conv: channels of the hidden convs.
        final_kernel: kernel size of every conv of the branches.
        init_bias: the bias of the heatmap's last conv (logit of the foreground prior).
        norm_layer: norm factory of the hidden convs.
        num_cls: unused (MMDetection3D passes it); kept so its configs build.

    Shapes:
        (B, in_channels, H, W) -> dict name -> (B, out_channels, H, W).
    """

    def __init__(
        self,
        in_channels: int,
        heads: Mapping[str, Sequence[int]],
        head_conv: int = 64,
        final_kernel: int = 1,
        init_bias: float = -2.19,
        norm_layer: NormFactory = nn.BatchNorm2d,
        num_cls: int | None = None,
    ) -> None:
        super().__init__()
        self.heads = dict(heads)
        self.init_bias = init_bias
        padding = final_kernel // 2
        for name, (out_channels, num_conv) in self.heads.items():
            layers: list[nn.Module] = []
            channels = in_channels
            for _ in range(num_conv - 1):
                layers.append(
                    ConvModule(channels, head_conv, final_kernel, padding=padding, norm_layer=norm_layer)
                )
                channels = head_conv
            layers.append(nn.Conv2d(channels, out_channels, final_kernel, padding=padding, bias=True))
            self.add_module(name, nn.Sequential(*layers))
        self.reset_parameters()

    def reset_parameters(self) -> None:
        """Kaiming fan-out convs, zero biases, the heatmap's last bias ``init_bias`` (MMDetection3D)."""
        for module in self.modules():
            if isinstance(module, nn.Conv2d):
                kaiming_init(module, mode="fan_out", nonlinearity="relu")
        if "heatmap" in self.heads:
            nn.init.constant_(self.heatmap[-1].bias, self.init_bias)

    def forward(self, x: torch.Tensor) -> dict[str, torch.Tensor]:
        return {name: getattr(self, name)(x) for name in self.heads}


@MODELS.register()
class CenterPointBBoxCoder:
    """Decodes one task's head outputs into boxes (MMDetection3D's ``CenterPointBBoxCoder``).

    Args:
        pc_range: (x_min, y_min) of the point-cloud range.
        out_size_factor: feature-map stride in voxels.
        voxel_size: (vx, vy) in metres.
        post_center_range: (x0, y0, z0, x1, y1, z1); decoded box centres (centre z) outside are invalid.
        max_num: boxes decoded per task and sample (top-K of the heatmap).
        score_threshold: scores must be greater; None: no threshold.
        code_size: 7 (no velocity).
    """

    def __init__(
        self,
        pc_range: Sequence[float],
        out_size_factor: int,
        voxel_size: Sequence[float],
        post_center_range: Sequence[float] | None = None,
        max_num: int = 100,
        score_threshold: float | None = None,
        code_size: int = 7,
    ) -> None:
        if code_size != 7:
            raise ValueError(
                f"CenterPointBBoxCoder: only code_size 7 (no velocity) is supported, got {code_size}"
            )
        self.pc_range = [float(v) for v in pc_range[:2]]
        self.out_size_factor = out_size_factor
        self.voxel_size = [float(v) for v in voxel_size[:2]]
        self.post_center_range = None if post_center_range is None else [float(v) for v in post_center_range]
        self.max_num = max_num
        self.score_threshold = score_threshold
        self.code_size = code_size

    def decode(
        self,
        heatmap: torch.Tensor,
        rot_sine: torch.Tensor,
        rot_cosine: torch.Tensor,
        height: torch.Tensor,
        dim: torch.Tensor,
        reg: torch.Tensor,
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Top-K decoding with fixed shapes.

        Args:
            heatmap: (B, C, H, W) probabilities (after the sigmoid).
            rot_sine, rot_cosine, height: (B, 1, H, W).
            dim: (B, 3, H, W) sizes in metres (already ``exp``-ed).
            reg: (B, 2, H, W) sub-cell centre offsets (x, y).

        Returns:
            ``boxes`` (B, K, 7) LiDAR boxes with the CENTRE z, ``scores`` (B, K) in descending order,
            ``labels`` (B, K) int64 (class in the task), ``valid`` (B, K) bool (score and range tests).
        """
        batch, num_class, height_cells, width_cells = heatmap.shape
        per_class = min(self.max_num, height_cells * width_cells)
        top_k = min(self.max_num, num_class * per_class)
        class_scores, class_inds = heatmap.flatten(2).topk(per_class, dim=2)  # (B, C, k)
        scores, order = class_scores.flatten(1).topk(top_k, dim=1)  # (B, K)
        labels = torch.div(order, per_class, rounding_mode="floor")
        inds = class_inds.flatten(1).gather(1, order)  # flat cell index y * W + x
        ys = torch.div(inds, width_cells, rounding_mode="floor")
        xs = (inds - ys * width_cells).to(heatmap.dtype)
        ys = ys.to(heatmap.dtype)

        def gather(feature: torch.Tensor) -> torch.Tensor:  # (B, c, H, W) -> (B, K, c)
            index = inds.unsqueeze(1).expand(-1, feature.shape[1], -1)
            return feature.flatten(2).gather(2, index).transpose(1, 2)

        offset = gather(reg)
        x = (xs + offset[..., 0]) * self.out_size_factor * self.voxel_size[0] + self.pc_range[0]
        y = (ys + offset[..., 1]) * self.out_size_factor * self.voxel_size[1] + self.pc_range[1]
        yaw = torch.atan2(gather(rot_sine)[..., 0], gather(rot_cosine)[..., 0])
        boxes = torch.cat([x[..., None], y[..., None], gather(height), gather(dim), yaw[..., None]], dim=-1)

        valid = torch.ones_like(scores, dtype=torch.bool)
        if self.score_threshold is not None:
            valid = valid & (scores > self.score_threshold)
        if self.post_center_range is not None:
            valid = valid & _inside(boxes, self.post_center_range)
        return boxes, scores, labels, valid


def _inside(boxes: torch.Tensor, center_range: Sequence[float]) -> torch.Tensor:
    """(..., 7) -> (...) bool: the first three coordinates within ``center_range`` (closed)."""
    low = boxes.new_tensor(center_range[:3])
    high = boxes.new_tensor(center_range[3:6])
    return ((boxes[..., :3] >= low) & (boxes[..., :3] <= high)).all(-1)


def _clip_sigmoid(x: torch.Tensor, eps: float = 1e-4) -> torch.Tensor:
    return x.sigmoid().clamp(min=eps, max=1 - eps)


def _bev(boxes: torch.Tensor) -> torch.Tensor:
    """(K, 7) LiDAR boxes -> (K, 5) ``(x, y, dx, dy, yaw)``."""
    return torch.cat([boxes[:, 0:2], boxes[:, 3:5], boxes[:, 6:7]], dim=1)


@MODELS.register()
class CenterHead(nn.Module):
    """CenterPoint's head: a shared conv, then per task a heatmap and box-regression branches.

    Args:
        in_channels: channels of the neck output (e.g. 384 for SECONDFPN's 3 x 128).
        tasks: ``[dict(num_class=1, class_names=["Car"]), ...]``; the class names concatenated give the
            label ids (see the module docstring).
        common_heads: regression branches ``name -> (channels, num_conv)``; exactly ``reg`` (2),
            ``height`` (1), ``dim`` (3), ``rot`` (2).
        share_conv_channel: channels of the shared conv.
        bbox_coder: a :class:`CenterPointBBoxCoder` or its config.
        separate_head: a factory ``separate_head(in_channels=, heads=, num_cls=)`` (a config node with
            ``_partial_=True``) or a dict of :class:`SeparateHead` options (``type`` allowed).
        loss_cls: heatmap loss (``GaussianFocalLoss``), module or config.
        loss_bbox: regression loss (``L1Loss``), module or config.
        num_heatmap_convs: convs of the heatmap branch.
        norm_layer: norm factory of the shared and hidden convs.
        norm_bbox: regress log sizes.
        train_cfg: ``grid_size`` (nx, ny, nz), ``voxel_size``, ``point_cloud_range``, ``out_size_factor``,
            ``dense_reg`` (1), ``gaussian_overlap`` (0.1), ``max_objs`` (500), ``min_radius`` (2),
            ``code_weights`` (8 numbers). Needed by :meth:`loss`.
        test_cfg: ``nms_type`` ("rotate" or "circle"), ``nms_thr``, ``pre_max_size``, ``post_max_size``,
            ``min_radius`` (per task, circle NMS), ``score_threshold``, ``post_center_limit_range``,
            ``max_num`` (or MMDetection3D's ``max_per_img``: the fixed output rows), ``max_pool_nms``,
            ``nms_max_iters`` (fixed-point NMS iterations in a traced graph; default the box count: exact).
    """

    def __init__(
        self,
        in_channels: int,
        tasks: Sequence[Mapping[str, Any]],
        common_heads: Mapping[str, Sequence[int]] | None = None,
        share_conv_channel: int = 64,
        bbox_coder: CenterPointBBoxCoder | Mapping[str, Any] | None = None,
        separate_head: Callable[..., nn.Module] | Mapping[str, Any] | None = None,
        loss_cls: nn.Module | Mapping[str, Any] | None = None,
        loss_bbox: nn.Module | Mapping[str, Any] | None = None,
        num_heatmap_convs: int = 2,
        norm_layer: NormFactory = nn.BatchNorm2d,
        norm_bbox: bool = True,
        train_cfg: Mapping[str, Any] | None = None,
        test_cfg: Mapping[str, Any] | None = None,
    ) -> None:
        super().__init__()
        common_heads = dict(common_heads or dict(reg=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2)))
        if set(common_heads) != set(REGRESSION_HEADS):
            raise ValueError(
                f"CenterHead: common_heads must be exactly {REGRESSION_HEADS}, got {sorted(common_heads)}"
            )
        self.class_names = [list(task["class_names"]) for task in tasks]
        self.num_classes = [len(names) for names in self.class_names]
        for task, names in zip(tasks, self.class_names):
            if task.get("num_class", len(names)) != len(names):
                raise ValueError(f"CenterHead: task {dict(task)} has num_class != len(class_names)")
        self.train_cfg = dict(train_cfg or {})
        self.test_cfg = dict(test_cfg or {})
        self.norm_bbox = norm_bbox
        if bbox_coder is None:
            raise ValueError("CenterHead: bbox_coder is required (a CenterPointBBoxCoder or its config)")
        self.bbox_coder = _build(bbox_coder)
        self.loss_cls = _build(loss_cls) if loss_cls is not None else GaussianFocalLoss(reduction="mean")
        self.loss_bbox = (
            _build(loss_bbox) if loss_bbox is not None else L1Loss(reduction="mean", loss_weight=0.25)
        )
        self.shared_conv = ConvModule(in_channels, share_conv_channel, 3, padding=1, norm_layer=norm_layer)
        make_head = self._separate_head_factory(separate_head, norm_layer)
        self.task_heads = nn.ModuleList()
        for num_cls in self.num_classes:
            heads = {name: tuple(common_heads[name]) for name in REGRESSION_HEADS}
            heads["heatmap"] = (num_cls, num_heatmap_convs)
            self.task_heads.append(make_head(in_channels=share_conv_channel, heads=heads, num_cls=num_cls))

    def set_cfgs(self, train_cfg: Mapping[str, Any] | None, test_cfg: Mapping[str, Any] | None) -> None:
        """Merge the detector-level ``train_cfg`` / ``test_cfg`` (where MMDetection3D's configs put them, under
        ``pts`` for CenterPoint) into a built head's own."""
        if train_cfg is not None:
            self.train_cfg = {**self.train_cfg, **dict(train_cfg)}
        if test_cfg is not None:
            self.test_cfg = {**self.test_cfg, **dict(test_cfg)}

    @staticmethod
    def _separate_head_factory(separate_head: Any, norm_layer: NormFactory) -> Callable[..., nn.Module]:
        if callable(separate_head) and not isinstance(separate_head, Mapping):
            return separate_head
        options = dict(separate_head or dict(init_bias=-2.19, final_kernel=3))
        head_type = options.pop("type", SeparateHead)
        head_class = SeparateHead if head_type == "SeparateHead" else head_type
        head_class = MODELS.get(head_class) if isinstance(head_class, str) else head_class
        options.setdefault("norm_layer", norm_layer)
        return lambda **kwargs: head_class(**options, **kwargs)

    # ----------------------------------------------------------------------------------- forward
    def forward(self, feats: Sequence[torch.Tensor]) -> list[dict[str, torch.Tensor]]:
        """``feats``: a list with ONE neck output (B, in_channels, H, W) -> per task a dict of raw maps
        ``reg`` (B, 2, H, W), ``height`` (B, 1), ``dim`` (B, 3), ``rot`` (B, 2: sin, cos), ``heatmap``
        (B, num_class, H, W) logits."""
        if len(feats) != 1:
            raise ValueError(f"CenterHead: expects one feature level, got {len(feats)}")
        x = self.shared_conv(feats[0])
        return [task_head(x) for task_head in self.task_heads]

    # ----------------------------------------------------------------------------------- targets
    def _train_value(self, key: str) -> Any:
        if key not in self.train_cfg:
            raise KeyError(f"CenterHead: train_cfg lacks {key!r} (has {sorted(self.train_cfg)})")
        return self.train_cfg[key]

    def feature_map_size(self) -> tuple[int, int]:
        """(W, H) of the training heatmaps: ``grid_size[:2] // out_size_factor``."""
        grid = self._train_value("grid_size")
        factor = int(self._train_value("out_size_factor"))
        return int(grid[0]) // factor, int(grid[1]) // factor

    def get_targets_single(
        self, gt_boxes: torch.Tensor, gt_labels: torch.Tensor
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """Targets of one sample.

        Args:
            gt_boxes: (N, 7) bottom-centred LiDAR boxes.
            gt_labels: (N,) global label ids (others, e.g. -1, are ignored).

        Returns:
            Per task: ``heatmap`` (num_class, H, W), ``anno_box`` (max_objs, 8) ``(dx_cell, dy_cell, z_centre,
            log dx, log dy, log dz, sin, cos)``, ``ind`` (max_objs,) int64 ``y * W + x``, ``mask`` (max_objs,) uint8.
        """
        device = gt_boxes.device
        boxes = gt_boxes.detach().float().clone()
        boxes[:, 2] = boxes[:, 2] + boxes[:, 5] * 0.5  # the height head regresses the centre z
        max_objs = int(self._train_value("max_objs")) * int(self.train_cfg.get("dense_reg", 1))
        voxel_size = [float(v) for v in self._train_value("voxel_size")]
        pc_range = [float(v) for v in self._train_value("point_cloud_range")]
        factor = float(self._train_value("out_size_factor"))
        overlap = float(self.train_cfg.get("gaussian_overlap", 0.1))
        min_radius = int(self.train_cfg.get("min_radius", 2))
        width_cells, height_cells = self.feature_map_size()

        heatmaps, anno_boxes, inds, masks = [], [], [], []
        first_label = 0
        for num_cls in self.num_classes:
            in_task = (gt_labels >= first_label) & (gt_labels < first_label + num_cls)
            task_boxes, task_labels = boxes[in_task], gt_labels[in_task] - first_label
            first_label += num_cls
            heatmap = boxes.new_zeros((num_cls, height_cells, width_cells))
            anno_box = boxes.new_zeros((max_objs, 8))
            ind = torch.zeros(max_objs, dtype=torch.int64, device=device)
            mask = torch.zeros(max_objs, dtype=torch.uint8, device=device)
            for k in range(min(len(task_boxes), max_objs)):
                box = task_boxes[k]
                size_x = float(box[3]) / voxel_size[0] / factor
                size_y = float(box[4]) / voxel_size[1] / factor
                if not (size_x > 0 and size_y > 0):
                    continue
                radius = max(min_radius, int(gaussian_radius((size_y, size_x), min_overlap=overlap)))
                center = torch.stack(
                    [
                        (box[0] - pc_range[0]) / voxel_size[0] / factor,
                        (box[1] - pc_range[1]) / voxel_size[1] / factor,
                    ]
                )
                cell = center.to(torch.int32)  # truncation toward zero, as MMDetection3D
                x, y = int(cell[0]), int(cell[1])
                if not (0 <= x < width_cells and 0 <= y < height_cells):
                    continue
                draw_heatmap_gaussian(heatmap[int(task_labels[k])], (x, y), radius)
                ind[k] = y * width_cells + x
                mask[k] = 1
                dims = box[3:6].log() if self.norm_bbox else box[3:6]
                anno_box[k] = torch.cat(
                    [center - center.new_tensor([x, y]), box[2:3], dims, box[6:7].sin(), box[6:7].cos()]
                )
            heatmaps.append(heatmap)
            anno_boxes.append(anno_box)
            inds.append(ind)
            masks.append(mask)
        return heatmaps, anno_boxes, inds, masks

    def get_targets(
        self, batch_gt_instances_3d: Sequence[InstanceData]
    ) -> tuple[list[torch.Tensor], list[torch.Tensor], list[torch.Tensor], list[torch.Tensor]]:
        """Batched :meth:`get_targets_single`: per task ``heatmaps`` (B, C, H, W), ``anno_boxes`` (B, M, 8),
        ``inds`` (B, M), ``masks`` (B, M)."""
        per_sample = [self.get_targets_single(gt.bboxes_3d, gt.labels_3d) for gt in batch_gt_instances_3d]
        return tuple(
            [torch.stack([sample[part][t] for sample in per_sample]) for t in range(len(self.num_classes))]
            for part in range(4)
        )  # type: ignore[return-value]

    # ----------------------------------------------------------------------------------- loss
    def loss(
        self,
        outs: Sequence[Mapping[str, torch.Tensor]],
        batch_gt_instances_3d: Sequence[InstanceData],
        batch_input_metas: Sequence[Mapping[str, Any]] | None = None,
    ) -> dict[str, torch.Tensor]:
        """Heatmap focal loss and masked L1 box loss per task (normalised as MMDetection3D)."""
        device = outs[0]["heatmap"].device
        heatmaps, anno_boxes, inds, masks = (
            [t.to(device) for t in part] for part in self.get_targets(batch_gt_instances_3d)
        )
        code_weights = self.train_cfg.get("code_weights", [1.0] * 8)
        losses = {}
        for task_id, preds in enumerate(outs):
            if preds["heatmap"].shape[-2:] != heatmaps[task_id].shape[-2:]:
                raise ValueError(
                    f"CenterHead: the heatmap is {tuple(preds['heatmap'].shape[-2:])} (H, W) but train_cfg's "
                    f"grid_size // out_size_factor gives {tuple(heatmaps[task_id].shape[-2:])}"
                )
            num_pos = float(heatmaps[task_id].eq(1).sum())
            losses[f"task{task_id}.loss_heatmap"] = self.loss_cls(
                _clip_sigmoid(preds["heatmap"]), heatmaps[task_id], avg_factor=max(num_pos, 1.0)
            )
            pred = torch.cat([preds[name] for name in REGRESSION_HEADS], dim=1).flatten(2)  # (B, 8, HW)
            pred = pred.gather(2, inds[task_id].unsqueeze(1).expand(-1, pred.shape[1], -1)).transpose(1, 2)
            target = anno_boxes[task_id]
            mask = masks[task_id].float()
            weights = mask.unsqueeze(2) * (~torch.isnan(target)).float() * target.new_tensor(code_weights)
            losses[f"task{task_id}.loss_bbox"] = self.loss_bbox(
                pred, torch.nan_to_num(target), weights, avg_factor=mask.sum() + 1e-4
            )
        return losses

    # ----------------------------------------------------------------------------------- inference
    def _max_num(self) -> int:
        return int(self.test_cfg.get("max_num", self.test_cfg.get("max_per_img", 500)))

    def _task_detections(
        self, preds: Mapping[str, torch.Tensor], task_id: int
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor, torch.Tensor]:
        """Decode + NMS of one task: ``boxes`` (B, K, 7) bottom-centred, ``scores``, ``labels`` (global),
        ``keep`` (B, K) bool, all fixed-shape."""
        heatmap = preds["heatmap"].sigmoid()
        if self.test_cfg.get("max_pool_nms", False):
            peaks = F.max_pool2d(heatmap, kernel_size=3, stride=1, padding=1)
            heatmap = heatmap * (peaks == heatmap).to(heatmap.dtype)
        dim = preds["dim"].exp() if self.norm_bbox else preds["dim"]
        boxes, scores, labels, valid = self.bbox_coder.decode(
            heatmap, preds["rot"][:, 0:1], preds["rot"][:, 1:2], preds["height"], dim, preds["reg"]
        )
        threshold = float(self.test_cfg.get("score_threshold", 0.0))
        if threshold > 0:
            valid = valid & (scores >= threshold)
        nms_type = self.test_cfg.get("nms_type", "rotate")
        post_max_size = int(self.test_cfg.get("post_max_size", boxes.shape[1]))
        max_iters = self.test_cfg.get("nms_max_iters")  # None: exact greedy NMS in the ONNX graph too
        if nms_type == "rotate":
            pre = min(int(self.test_cfg.get("pre_max_size", boxes.shape[1])), boxes.shape[1])
            boxes, scores, labels, valid = boxes[:, :pre], scores[:, :pre], labels[:, :pre], valid[:, :pre]
            iou_thr = float(self.test_cfg.get("nms_thr", 0.2))
            keep = torch.stack(
                [
                    rotated_nms(_bev(boxes[b]), scores[b], iou_thr, valid=valid[b], max_iters=max_iters)
                    for b in range(boxes.shape[0])
                ]
            )
        elif nms_type == "circle":
            radius = float(self.test_cfg["min_radius"][task_id])
            keep = torch.stack(
                [
                    circle_nms(boxes[b, :, :2], scores[b], radius, valid=valid[b], max_iters=max_iters)
                    for b in range(boxes.shape[0])
                ]
            )
        else:
            raise ValueError(f"CenterHead: test_cfg nms_type must be 'rotate' or 'circle', got {nms_type!r}")
        keep = keep & valid
        keep = keep & (torch.cumsum(keep.to(torch.int64), dim=1) <= post_max_size)
        limit = self.test_cfg.get("post_center_limit_range")
        if limit:
            keep = keep & _inside(boxes, limit)
        bottom = boxes[..., 2:3] - boxes[..., 5:6] * 0.5
        boxes = torch.cat([boxes[..., :2], bottom, boxes[..., 3:]], dim=-1)
        return boxes, scores, labels + sum(self.num_classes[:task_id]), keep

    def export_predict(
        self, outs: Sequence[Mapping[str, torch.Tensor]]
    ) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
        """Fixed-size detections (ONNX-exportable): ``boxes`` (B, K, 7) bottom-centred LiDAR, ``scores``
        (B, K) descending, ``labels`` (B, K) int64; K = ``test_cfg`` ``max_num``; padding rows have label -1,
        score 0 and zero boxes."""
        parts = [self._task_detections(preds, task_id) for task_id, preds in enumerate(outs)]
        boxes = torch.cat([p[0] for p in parts], dim=1)
        scores = torch.cat([p[1] for p in parts], dim=1)
        labels = torch.cat([p[2] for p in parts], dim=1)
        keep = torch.cat([p[3] for p in parts], dim=1)
        max_num = self._max_num()
        if boxes.shape[1] < max_num:  # static shapes: pad with dropped rows
            pad = max_num - boxes.shape[1]
            boxes = F.pad(boxes, (0, 0, 0, pad))
            scores = F.pad(scores, (0, pad))
            labels = F.pad(labels, (0, pad))
            keep = F.pad(keep.to(torch.int64), (0, pad)).bool()
        ranked = torch.where(keep, scores, torch.full_like(scores, -1.0))
        top_scores, order = ranked.topk(max_num, dim=1)
        kept = top_scores >= 0
        boxes = boxes.gather(1, order.unsqueeze(-1).expand(-1, -1, 7))
        boxes = torch.where(kept.unsqueeze(-1), boxes, torch.zeros_like(boxes))
        scores = torch.where(kept, top_scores, torch.zeros_like(top_scores))
        labels = torch.where(kept, labels.gather(1, order), torch.full_like(order, -1))
        return boxes, scores, labels

    def predict(
        self,
        outs: Sequence[Mapping[str, torch.Tensor]],
        batch_input_metas: Sequence[Mapping[str, Any]] | None = None,
    ) -> list[InstanceData]:
        """Per sample ``InstanceData(bboxes_3d (K, 7), scores_3d (K,), labels_3d (K,))``: :meth:`export_predict`
        without its padding rows."""
        boxes, scores, labels = self.export_predict(outs)
        results = []
        for b in range(boxes.shape[0]):
            real = labels[b] >= 0
            results.append(
                InstanceData(bboxes_3d=boxes[b][real], scores_3d=scores[b][real], labels_3d=labels[b][real])
            )
        return results

    def extra_repr(self) -> str:
        return f"tasks={copy.deepcopy(self.class_names)}"
