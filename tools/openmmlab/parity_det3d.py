"""3D detection parity cases: PointPillars and CenterPoint-pillar against MMDetection3D 1.4.

Both sides get the same small synthetic LiDAR scene (a noisy ground plane over the KITTI range, points
inside a few ground-truth boxes of every class, a dense cluster that overfills one pillar, and points
outside the range) and are compared on:

- voxelisation (the data preprocessor's ``voxels``, ``coors``, ``num_points``; exact), plus the op itself
  with a small ``max_voxels`` budget so that the voxel cap takes part;
- pillar features, the BEV scatter, the SECOND stages, the SECONDFPN output, the head's raw outputs
  (PointPillars: cls/bbox/dir; CenterPoint: heatmap/reg/height/dim/rot per task);
- decoded boxes after NMS (score threshold lowered so that a random model gives boxes);
- every loss term in train mode for the same ground truth (PointPillars' per-class ``Max3DIoUAssigner``;
  CenterPoint's Gaussian heatmap targets).

mmcv-lite has no compiled ops, so the MMDetection3D side runs on the independent NumPy implementations
below (hard voxelisation and rotated NMS, written from MMCV's CPU kernels' rules; visionstack's
own implementations are not used for OpenMMLab's side).
"""

from __future__ import annotations

import importlib.abc
import importlib.machinery
import importlib.util
import logging
import math
import sys
import types

import numpy as np
import parity_common as pc
import torch
from om_prelude import _ExtStub

FAMILY = "det3d"

# ---- side-venv patches (on top of om_prelude) ----------------------------------------------------------
# visionstack.tasks.action imports PyAV at module level; the side venv has no PyAV and nothing here reads video.
sys.modules.setdefault("av", types.ModuleType("av"))

# mmdet3d.utils.register_all_modules imports mmdet3d.evaluation/visualization, which import lyft_dataset_sdk,
# pandas, trimesh and open3d at module level (Lyft metric, mesh/3D viewers); none is installed or used here, so
# those names resolve to empty placeholder packages (using any attribute of them raises).
_FAKE_ROOTS = {
    name
    for name in ("lyft_dataset_sdk", "pandas", "trimesh", "open3d")
    if importlib.util.find_spec(name) is None
}


class _Placeholder:
    def __init__(self, *args, **kwargs):
        raise NotImplementedError(f"{type(self).__name__}: placeholder of a package the side venv lacks")


class _FakeModule(types.ModuleType):
    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return type(name, (_Placeholder,), {})


class _FakeFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    def find_spec(self, fullname, path, target=None):
        if fullname.split(".")[0] in _FAKE_ROOTS:
            return importlib.machinery.ModuleSpec(fullname, self, is_package=True)
        return None

    def create_module(self, spec):
        module = _FakeModule(spec.name)
        module.__path__ = []
        return module

    def exec_module(self, module):
        pass


if _FAKE_ROOTS and not any(isinstance(f, _FakeFinder) for f in sys.meta_path):
    sys.meta_path.append(_FakeFinder())


# mmcv-lite has no compiled ops: pure NumPy implementations of the ones these models call, installed into
# om_prelude's mmcv._ext stub. They follow MMCV's CPU kernels (voxelization.cpp, nms_rotated.cpp) and fill the
# output tensors in place as those do.
def _cells(points: np.ndarray, voxel_size, coors_range) -> np.ndarray:
    """(N, 3) int (z, y, x) voxel of every point, -1 rows outside the grid; float32 arithmetic as the kernel."""
    xyz = points[:, :3].astype(np.float32)
    low = np.asarray(coors_range[:3], dtype=np.float32)
    size = np.asarray(voxel_size, dtype=np.float32)
    high = np.asarray(coors_range[3:6], dtype=np.float32)
    grid = np.round((high - low) / size).astype(np.int64)
    cell = np.floor((xyz - low) / size)
    ok = ((cell >= 0) & (cell < grid)).all(axis=1)
    out = np.full((len(xyz), 3), -1, dtype=np.int64)
    out[ok] = cell[ok][:, ::-1].astype(np.int64)
    return out


def hard_voxelize_forward(
    points,
    voxel_size,
    coors_range,
    voxels,
    coors,
    num_points_per_voxel,
    voxel_num,
    max_points=35,
    max_voxels=20000,
    NDim=3,
    deterministic=True,
):  # noqa: N803
    """Voxels numbered in the order of their first point; at most ``max_voxels`` voxels (points of later
    voxels dropped) and ``max_points`` points per voxel (later points dropped)."""
    assert NDim == 3
    pts = points.detach().cpu().numpy()
    cells = _cells(pts, voxel_size.tolist(), coors_range.tolist())
    index: dict[tuple[int, int, int], int] = {}
    counts: list[int] = []
    for i, cell in enumerate(map(tuple, cells.tolist())):
        if cell[0] == -1:
            continue
        v = index.get(cell)
        if v is None:
            if max_voxels != -1 and len(counts) >= max_voxels:
                continue
            v = index[cell] = len(counts)
            counts.append(0)
            coors[v] = torch.tensor(cell, dtype=coors.dtype)
        if max_points == -1 or counts[v] < max_points:
            voxels[v, counts[v]] = points[i]
            counts[v] += 1
    num_points_per_voxel[: len(counts)] = torch.tensor(counts, dtype=num_points_per_voxel.dtype)
    voxel_num.fill_(len(counts))


def _rectangle(box) -> np.ndarray:
    """(4, 2) corners, counter-clockwise, of a (x, y, w, h, angle) rectangle."""
    x, y, w, h, a = (float(v) for v in box[:5])
    c, s = math.cos(a), math.sin(a)
    local = np.array([[-w / 2, -h / 2], [w / 2, -h / 2], [w / 2, h / 2], [-w / 2, h / 2]])
    return local @ np.array([[c, s], [-s, c]]) + np.array([x, y])


def _clip(poly: list, a: np.ndarray, b: np.ndarray) -> list:
    """Sutherland-Hodgman: the part of convex ``poly`` left of the directed edge a -> b."""
    out = []
    edge = b - a
    for i in range(len(poly)):
        p, q = poly[i], poly[(i + 1) % len(poly)]
        sp = edge[0] * (p[1] - a[1]) - edge[1] * (p[0] - a[0])
        sq = edge[0] * (q[1] - a[1]) - edge[1] * (q[0] - a[0])
        if sp >= 0:
            out.append(p)
        if (sp >= 0) != (sq >= 0):
            out.append(p + (q - p) * (sp / (sp - sq)))
    return out


def rotated_iou(box_a, box_b) -> float:
    """IoU of two rotated rectangles by polygon clipping (float64). The angle's sense does not matter: mirroring
    both boxes keeps the areas, so MMCV's clockwise angles give the same IoU."""
    ra, rb = _rectangle(box_a), _rectangle(box_b)
    reach = (np.hypot(*(ra[0] - ra[2])) + np.hypot(*(rb[0] - rb[2]))) / 2
    if np.hypot(*(ra.mean(0) - rb.mean(0))) > reach:
        return 0.0
    poly = list(ra)
    for k in range(4):
        poly = _clip(poly, rb[k], rb[(k + 1) % 4])
        if not poly:
            return 0.0
    xy = np.array(poly)
    inter = 0.5 * abs(np.dot(xy[:, 0], np.roll(xy[:, 1], -1)) - np.dot(xy[:, 1], np.roll(xy[:, 0], -1)))
    area_a = float(box_a[2]) * float(box_a[3])
    area_b = float(box_b[2]) * float(box_b[3])
    if area_a < 1e-14 or area_b < 1e-14:
        return 0.0
    return inter / (area_a + area_b - inter)


def nms_rotated(dets, scores, order, dets_sorted, labels, iou_threshold, multi_label):
    """MMCV's CPU rule: visit by decreasing score, suppress later boxes with IoU >= threshold; returns the kept
    indices in visiting order (the CPU kernel ignores labels)."""
    boxes = dets.detach().double().cpu().numpy()
    visit = torch.sort(scores, descending=True).indices.tolist()
    suppressed = np.zeros(len(visit), dtype=bool)
    keep = []
    for n, i in enumerate(visit):
        if suppressed[i]:
            continue
        keep.append(i)
        for j in visit[n + 1 :]:
            if not suppressed[j] and rotated_iou(boxes[i], boxes[j]) >= iou_threshold:
                suppressed[j] = True
    return torch.tensor(keep, dtype=torch.long, device=dets.device)


_ExtStub.IMPLEMENTED.update(
    hard_voxelize_forward=hard_voxelize_forward,
    nms_rotated=nms_rotated,
)


def _quiet_mmengine() -> None:
    from mmengine.logging import MMLogger

    MMLogger.get_instance("mmengine").setLevel(logging.WARNING)


_quiet_mmengine()

# ---- the scene ------------------------------------------------------------------------------------------
# KITTI 3-class label ids (Pedestrian 0, Cyclist 1, Car 2); boxes (x, y, z_bottom, dx, dy, dz, yaw), LiDAR frame.
GT_BOXES = [
    (2, [20.16, 4.96, -1.75, 3.9, 1.6, 1.56, 0.2]),
    (2, [35.2, -10.24, -1.7, 4.1, 1.7, 1.5, 1.7]),
    (2, [12.48, -3.2, -1.8, 3.8, 1.6, 1.6, -2.9]),
    (0, [10.24, 6.4, -1.6, 0.8, 0.6, 1.73, 0.5]),
    (0, [15.04, 8.32, -1.6, 0.7, 0.6, 1.7, -1.4]),
    (1, [25.28, 12.16, -1.6, 1.76, 0.6, 1.73, 3.0]),
]


def scene(seed: int = 0, shift: float = 0.0) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(N, 4) float32 points (x, y, z, intensity), (G, 7) float32 boxes, (G,) int64 labels.

    ``shift`` moves the boxes and their points along x (the second cloud of a batch)."""
    rng = np.random.default_rng(seed)
    parts = []
    ground = np.stack(
        [
            rng.uniform(0, 70, 9000),
            rng.uniform(-40, 40, 9000),
            rng.normal(-1.75, 0.05, 9000),
            rng.uniform(0, 1, 9000),
        ],
        axis=1,
    )
    parts.append(ground)
    boxes = np.array([b for _, b in GT_BOXES], dtype=np.float64)
    boxes[:, 0] += shift
    for box in boxes:
        count = int(60 * box[3] * box[4]) + 40
        local = rng.uniform(-0.5, 0.5, (count, 3)) * box[3:6]
        c, s = math.cos(box[6]), math.sin(box[6])
        xy = local[:, :2] @ np.array([[c, s], [-s, c]]) + box[:2]
        z = local[:, 2:] + box[2] + box[5] / 2
        parts.append(np.concatenate([xy, z, rng.uniform(0, 1, (count, 1))], axis=1))
    # 50 points in one 0.16 m pillar (more than max_num_points) and 600 points outside the range
    parts.append(
        np.concatenate(
            [rng.uniform([30.0, 1.0, -1.5], [30.1, 1.1, 0.5], (50, 3)), rng.uniform(0, 1, (50, 1))], 1
        )
    )
    outside = np.stack(
        [
            rng.uniform(-10, 80, 600),
            rng.uniform(-50, 50, 600),
            rng.uniform(-4, 2, 600),
            rng.uniform(0, 1, 600),
        ],
        axis=1,
    )
    outside = outside[
        (outside[:, 0] < 0)
        | (outside[:, 0] > 70.4)
        | (np.abs(outside[:, 1]) > 40)
        | (outside[:, 2] < -3)
        | (outside[:, 2] > 1)
    ]
    parts.append(outside)
    points = np.concatenate(parts).astype(np.float32)
    points = points[rng.permutation(len(points))]
    labels = np.array([label for label, _ in GT_BOXES], dtype=np.int64)
    return points, boxes.astype(np.float32), labels


SCENES = [dict(seed=0, shift=0.0), dict(seed=1, shift=1.6)]


def om_batch(num: int, with_gt: bool, box_dim: int = 7) -> dict:
    """MMDetection3D's ``{'inputs': {'points'}, 'data_samples'}``; ``box_dim`` 9 appends a zero velocity."""
    from mmdet3d.structures import Det3DDataSample, LiDARInstance3DBoxes
    from mmengine.structures import InstanceData

    points, samples = [], []
    for spec in SCENES[:num]:
        pts, boxes, labels = scene(**spec)
        points.append(torch.from_numpy(pts))
        sample = Det3DDataSample(metainfo=dict(box_type_3d=LiDARInstance3DBoxes, sample_idx=spec["seed"]))
        if with_gt:
            gt = InstanceData()
            tensor = torch.from_numpy(boxes)
            if box_dim == 9:
                tensor = torch.cat([tensor, tensor.new_zeros(len(tensor), 2)], 1)
            gt.bboxes_3d = LiDARInstance3DBoxes(tensor, box_dim=box_dim)
            gt.labels_3d = torch.from_numpy(labels)
            sample.gt_instances_3d = gt
        samples.append(sample)
    return dict(inputs=dict(points=points), data_samples=samples)


def vs_batch(num: int, with_gt: bool) -> dict:
    from visionstack.structures import DataSample, InstanceData

    points, samples = [], []
    for spec in SCENES[:num]:
        pts, boxes, labels = scene(**spec)
        points.append(torch.from_numpy(pts))
        sample = DataSample(metainfo=dict(sample_idx=spec["seed"]))
        if with_gt:
            sample.gt_instances_3d = InstanceData(
                bboxes_3d=torch.from_numpy(boxes), labels_3d=torch.from_numpy(labels)
            )
        samples.append(sample)
    return dict(inputs=dict(points=points), data_samples=samples)


# ---- comparisons ----------------------------------------------------------------------------------------
def exact(model: str, item: str, vs_value, om_value, note: str = "") -> pc.Row:
    """Equal shapes and values (integers compared as such)."""
    return pc.compare(FAMILY, model, item, vs_value, om_value, tol=0.0, note=note)


def voxel_rows(model: str, vs_voxels: dict, om_voxels: dict) -> list[pc.Row]:
    note = f"{len(om_voxels['coors'])} voxels"
    return [
        exact(model, "voxelisation: voxels", vs_voxels["voxels"], om_voxels["voxels"], note),
        exact(
            model, "voxelisation: coors (b, z, y, x)", vs_voxels["coors"].long(), om_voxels["coors"].long()
        ),
        exact(
            model, "voxelisation: num_points", vs_voxels["num_points"].long(), om_voxels["num_points"].long()
        ),
    ]


def capped_voxel_rows(model: str, voxel_size, pc_range) -> list[pc.Row]:
    """The voxelisation op alone with a budget of 500 voxels and 5 points (the caps take part)."""
    from mmcv.ops import voxelization as om_voxelization

    from visionstack.tasks.det3d.ops.voxelize import hard_voxelize

    pts = torch.from_numpy(scene(seed=2)[0])
    om = om_voxelization(pts, voxel_size, pc_range, 5, 500)
    vs = hard_voxelize(pts, voxel_size, pc_range, 5, 500)
    return [
        exact(
            model,
            "voxelisation op, max_voxels 500 / max_points 5: voxels, coors, num_points",
            [vs[0], vs[1].long(), vs[2].long()],
            [om[0], om[1].long(), om[2].long()],
            f"{len(om[1])} voxels, {int((om[2] == 5).sum())} full",
        ),
    ]


def _sorted(boxes: torch.Tensor, scores: torch.Tensor, labels: torch.Tensor) -> torch.Tensor:
    """Rows (score, label, box) in a canonical order (MMDetection3D returns class order, visionstack scores)."""
    rows = torch.cat([scores[:, None].double(), labels[:, None].double(), boxes.double()], 1).numpy()
    return torch.from_numpy(rows[np.lexsort(rows.T[::-1])].copy())


def detection_rows(model: str, om_results, vs_results, note: str = "") -> list[pc.Row]:
    rows = []
    for i, (om_s, vs_s) in enumerate(zip(om_results, vs_results)):
        om_p, vs_p = om_s.pred_instances_3d, vs_s.pred_instances_3d
        om_boxes = getattr(om_p.bboxes_3d, "tensor", om_p.bboxes_3d)
        om_rows = _sorted(om_boxes, om_p.scores_3d, om_p.labels_3d)
        vs_rows = _sorted(torch.as_tensor(vs_p.bboxes_3d), vs_p.scores_3d, vs_p.labels_3d)
        row = pc.compare_boxes(
            FAMILY,
            model,
            f"boxes after NMS, cloud {i} (m)",
            vs_rows[:, 2:],
            vs_rows[:, 1],
            om_rows[:, 2:],
            om_rows[:, 1],
            vs_rows[:, 0],
            om_rows[:, 0],
        )
        row.note = (row.note.replace(" px", " m") + note).strip()
        rows.append(row)
    return rows


def predict_rows(model: str, om_model, vs_model, note: str = "") -> list[pc.Row]:
    """Decoded boxes of freshly preprocessed clouds (MMDetection3D's legacy PillarFeatureNet overwrites the
    voxels it is given, so the feature rows' inputs cannot be reused)."""
    om_data = om_model.data_preprocessor(om_batch(1, False), False)
    vs_data = vs_model.data_preprocessor(vs_batch(1, False), False)
    om_res = om_model.predict(om_data["inputs"], om_data["data_samples"])
    vs_res = vs_model.predict(vs_data["inputs"], vs_data["data_samples"])
    return detection_rows(model, om_res, vs_res, note)


def loss_rows(model: str, vs_losses: dict, om_losses: dict) -> list[pc.Row]:
    rows = pc.compare_losses(FAMILY, model, vs_losses, om_losses)
    for row in rows:
        value = om_losses[row.item]
        total = float(sum(t.sum() for t in pc.flatten(value)))
        row.note = (row.note + f" MMDet3D {total:.5g}").strip()
    return rows


def feature_rows(model: str, om_model, vs_model, om_inputs: dict, vs_inputs: dict, prefix: str = "") -> tuple:
    """Pillar features, scatter, backbone stages and neck; returns the rows and both necks' outputs."""
    om_part = lambda name: getattr(om_model, prefix + name)  # noqa: E731
    vs_part = lambda name: getattr(vs_model, prefix + name)  # noqa: E731
    om_v, vs_v = om_inputs["voxels"], vs_inputs["voxels"]
    batch = len(om_inputs["points"])
    rows = []
    om_f = om_part("voxel_encoder")(om_v["voxels"], om_v["num_points"], om_v["coors"])
    vs_f = vs_part("voxel_encoder")(vs_v["voxels"], vs_v["num_points"], vs_v["coors"])
    rows.append(pc.compare(FAMILY, model, "pillar features", vs_f, om_f))
    om_x = om_part("middle_encoder")(om_f, om_v["coors"], batch)
    vs_x = vs_part("middle_encoder")(vs_f, vs_v["coors"], batch)
    rows.append(pc.compare(FAMILY, model, "BEV scatter", vs_x, om_x))
    om_b, vs_b = om_part("backbone")(om_x), vs_part("backbone")(vs_x)
    for i, (a, b) in enumerate(zip(vs_b, om_b)):
        rows.append(pc.compare(FAMILY, model, f"SECOND stage {i + 1} {tuple(b.shape[1:])}", a, b))
    om_n, vs_n = om_part("neck")(om_b), vs_part("neck")(vs_b)
    rows.append(pc.compare(FAMILY, model, f"SECONDFPN {tuple(om_n[0].shape[1:])}", vs_n, om_n))
    return rows, om_n, vs_n


# ---- PointPillars -------------------------------------------------------------------------------------
PP_NAME = "PointPillars KITTI 3-class"
PP_TEST = dict(score_thr=0.0)  # the random head's scores are all ~0.01 (its prior); 0.1 would give no box


def run_pointpillars(om_model, vs_model) -> list[pc.Row]:
    name = PP_NAME
    rows = capped_voxel_rows(name, [0.16, 0.16, 4], [0, -39.68, -3, 69.12, 39.68, 1])
    om_model.bbox_head.test_cfg.update(PP_TEST)
    vs_model.bbox_head.test_cfg.update(PP_TEST)
    with torch.no_grad():
        om_data = om_model.data_preprocessor(om_batch(1, False), False)
        vs_data = vs_model.data_preprocessor(vs_batch(1, False), False)
        rows += voxel_rows(name, vs_data["inputs"]["voxels"], om_data["inputs"]["voxels"])
        feats, om_n, vs_n = feature_rows(name, om_model, vs_model, om_data["inputs"], vs_data["inputs"])
        rows += feats
        rows.append(legacy_row(name, om_model, vs_model))
        om_out, vs_out = om_model.bbox_head(om_n), vs_model.bbox_head(vs_n)
        for item, a, b in zip(["cls scores", "bbox deltas", "direction logits"], vs_out, om_out):
            rows.append(pc.compare(FAMILY, name, f"head {item} {tuple(b[0].shape[1:])}", a, b))
        rows += predict_rows(name, om_model, vs_model, f"; score_thr {PP_TEST['score_thr']}")
    losses = _train_losses(name, om_model, vs_model, om_batch(2, True), vs_batch(2, True))
    losses[0].note += f"; positive anchors per class {_positives(vs_model)}"
    return rows + losses


def _positives(vs_model) -> list[int]:
    """Positive anchors per class over the two training clouds (the assigners do find positives)."""
    head = vs_model.bbox_head
    anchors = head.anchors((248, 216), "cpu")
    counts = torch.zeros(head.num_classes, dtype=torch.long)
    for spec in SCENES:
        _, boxes, labels = scene(**spec)
        targets = head.get_targets(anchors, torch.from_numpy(boxes), torch.from_numpy(labels))
        counts += torch.bincount(targets["labels"], minlength=head.num_classes + 1)[: head.num_classes]
    return counts.tolist()


def legacy_row(name: str, om_model, vs_model) -> pc.Row:
    """The measured effect of visionstack's config default ``legacy=False`` (documented, not a parity row)."""
    om_data = om_model.data_preprocessor(om_batch(1, False), False)
    vs_data = vs_model.data_preprocessor(vs_batch(1, False), False)
    om_v, vs_v = om_data["inputs"]["voxels"], vs_data["inputs"]["voxels"]
    om_f = om_model.voxel_encoder(om_v["voxels"], om_v["num_points"], om_v["coors"])
    encoder = vs_model.voxel_encoder
    encoder.legacy = False
    try:
        vs_f = encoder(vs_v["voxels"], vs_v["num_points"], vs_v["coors"])
    finally:
        encoder.legacy = True
    rel = pc.rel_diff(vs_f, om_f)
    return pc.Row(
        FAMILY,
        name,
        "pillar features with legacy=False (visionstack's config) [documented difference]",
        rel,
        True,
        "MMDetection3D's config keeps legacy=True: raw x, y, z replaced by the pillar-centre "
        "offsets; its checkpoints need model.voxel_encoder.legacy=True",
    )


def _train_losses(name: str, om_model, vs_model, om_raw: dict, vs_raw: dict) -> list[pc.Row]:
    om_model.train()
    vs_model.train()
    try:
        om_data = om_model.data_preprocessor(om_raw, True)
        vs_data = vs_model.data_preprocessor(vs_raw, True)
        torch.manual_seed(0)
        om_losses = om_model.loss(om_data["inputs"], om_data["data_samples"])
        torch.manual_seed(0)
        vs_losses = vs_model.loss(vs_data["inputs"], vs_data["data_samples"])
    finally:
        om_model.eval()
        vs_model.eval()
    rows = loss_rows(name, vs_losses, om_losses)
    for row in rows:
        row.item += " (train, 2 clouds)"
    return rows


# ---- CenterPoint ----------------------------------------------------------------------------------------
CP_NAME = "CenterPoint pillar 0.2 (KITTI 3-class)"
KITTI_RANGE = [0, -40, -3, 70.4, 40, 1]
CP_VOXEL = [0.2, 0.2, 4]
CP_CENTER_RANGE = [-10, -50, -10, 80.4, 50, 10]
# MMDetection3D's nuScenes pillar model given the KITTI variant's settings (visionstack's
# configs/det3d/centerpoint_pillar02_second_secfpn_8xb6-160e_kitti-3d-3class.py): KITTI range and 4 point
# features (x, y, z, intensity: no sweep time), the two KITTI tasks, and no velocity branch (KITTI has none).
CP_OPTIONS = {
    "model.data_preprocessor.voxel_layer.point_cloud_range": KITTI_RANGE,
    "model.data_preprocessor.voxel_layer.voxel_size": CP_VOXEL,
    "model.pts_voxel_encoder.in_channels": 4,
    "model.pts_voxel_encoder.voxel_size": CP_VOXEL,
    "model.pts_voxel_encoder.point_cloud_range": KITTI_RANGE,
    "model.pts_middle_encoder.output_shape": [400, 352],
    "model.pts_bbox_head.tasks": [
        dict(num_class=2, class_names=["Pedestrian", "Cyclist"]),
        dict(num_class=1, class_names=["Car"]),
    ],
    "model.pts_bbox_head.common_heads": dict(
        _delete_=True, reg=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2)
    ),
    "model.pts_bbox_head.bbox_coder.code_size": 7,
    "model.pts_bbox_head.bbox_coder.pc_range": KITTI_RANGE[:2],
    "model.pts_bbox_head.bbox_coder.voxel_size": CP_VOXEL[:2],
    "model.pts_bbox_head.bbox_coder.post_center_range": CP_CENTER_RANGE,
    "model.train_cfg.pts.grid_size": [352, 400, 1],
    "model.train_cfg.pts.voxel_size": CP_VOXEL,
    "model.train_cfg.pts.point_cloud_range": KITTI_RANGE,
    "model.train_cfg.pts.code_weights": [1.0] * 8,
    "model.test_cfg.pts.post_center_limit_range": CP_CENTER_RANGE,
    "model.test_cfg.pts.pc_range": KITTI_RANGE[:2],
    "model.test_cfg.pts.voxel_size": CP_VOXEL[:2],
}
CP_HEADS = ["heatmap", "reg", "height", "dim", "rot"]


def run_centerpoint(om_model, vs_model) -> list[pc.Row]:
    name = CP_NAME
    # MMDetection3D keeps up to post_max_size (83) boxes per task and no overall cap in "rotate" mode;
    # visionstack's config caps the merged list at test_cfg.max_num (100): lifted to compare the NMS itself.
    vs_test_cfg = vs_model.pts_bbox_head.test_cfg
    config_max_num = vs_test_cfg["max_num"]
    vs_test_cfg["max_num"] = 500
    rows = []
    with torch.no_grad():
        om_data = om_model.data_preprocessor(om_batch(1, False), False)
        vs_data = vs_model.data_preprocessor(vs_batch(1, False), False)
        rows += voxel_rows(name, vs_data["inputs"]["voxels"], om_data["inputs"]["voxels"])
        feats, om_n, vs_n = feature_rows(
            name, om_model, vs_model, om_data["inputs"], vs_data["inputs"], "pts_"
        )
        rows += feats
        om_out = om_model.pts_bbox_head(om_n)  # tuple over tasks of [dict]
        vs_out = vs_model.pts_bbox_head(vs_n)  # list over tasks of dict
        for task, (om_task, vs_task) in enumerate(zip(om_out, vs_out)):
            for key in CP_HEADS:
                b = om_task[0][key]
                rows.append(
                    pc.compare(FAMILY, name, f"task {task} {key} {tuple(b.shape[1:])}", vs_task[key], b)
                )
        rows += predict_rows(name, om_model, vs_model)
        vs_test_cfg["max_num"] = config_max_num
        capped = predict_rows(name, om_model, vs_model)[0]
        vs_test_cfg["max_num"] = 500
    rows.append(
        pc.Row(
            FAMILY,
            name,
            f"boxes with visionstack's config max_num {config_max_num} [documented difference]",
            None,
            True,
            f"{capped.note}: visionstack keeps the best max_num of all tasks' boxes, MMDetection3D's "
            "'rotate' path keeps post_max_size per task and no overall cap",
        )
    )
    rows += _centerpoint_losses(name, om_model, vs_model)
    return rows


def _centerpoint_losses(name: str, om_model, vs_model) -> list[pc.Row]:
    """MMDetection3D's CenterHead trains only with a velocity branch and 9-value boxes (its targets read
    ``box[7:]`` and its loss concatenates ``vel``): its side gets a zero 2-channel ``vel`` output and boxes with
    zero velocity, so those two columns add |0 - 0| = 0 to the L1 sum and the normaliser (object count) is
    unchanged; the loss is then the one of the head without velocity."""
    from mmdet3d.models.dense_heads.centerpoint_head import SeparateHead

    def add_zero_velocity(module, args, output):
        heat = output["heatmap"]
        output["vel"] = heat.new_zeros(heat.shape[0], 2, *heat.shape[2:])
        return output

    head = om_model.pts_bbox_head
    hooks = [
        m.register_forward_hook(add_zero_velocity) for m in head.modules() if isinstance(m, SeparateHead)
    ]
    weights = head.train_cfg["code_weights"]
    head.train_cfg["code_weights"] = [*weights, 0.2, 0.2]  # the published velocity weights (multiply zeros)
    try:
        return _train_losses(name, om_model, vs_model, om_batch(2, True, box_dim=9), vs_batch(2, True))
    finally:
        head.train_cfg["code_weights"] = weights
        for hook in hooks:
            hook.remove()


CASES = [
    pc.Case(
        family=FAMILY,
        name=PP_NAME,
        om_package="mmdet3d",
        om_config="pointpillars/pointpillars_hv_secfpn_8xb6-160e_kitti-3d-3class.py",
        vs_config="configs/det3d/pointpillars_hv_secfpn_8xb6-160e_kitti-3d-3class.py",
        # MMDetection3D's PillarFeatureNet defaults to legacy=True (centre offsets written over the raw x, y, z);
        # its PointPillars config keeps that default, visionstack's config uses the corrected encoder.
        vs_overrides=["model.voxel_encoder.legacy=True"],
        run=run_pointpillars,
        key_file="mmdet3d_pointpillars_hv_secfpn_8xb6-160e_kitti-3d-3class",
    ),
    pc.Case(
        family=FAMILY,
        name=CP_NAME,
        om_package="mmdet3d",
        om_config="centerpoint/centerpoint_pillar02_second_secfpn_8xb4-cyclic-20e_nus-3d.py",
        vs_config="configs/det3d/centerpoint_pillar02_second_secfpn_8xb6-160e_kitti-3d-3class.py",
        om_options=CP_OPTIONS,
        run=run_centerpoint,
        key_file="mmdet3d_centerpoint_pillar02_second_secfpn_kitti-3d-3class",
    ),
]
