"""What the command line, inference, export and the deploy runtime know about 3D detection on point clouds.

The inputs are LiDAR point clouds (KITTI ``.bin`` files: float32 ``x y z intensity`` rows), not images:
``infer`` reads them with the config's test pipeline (``LoadPointsFromFile``), the ONNX runtime with
:class:`~.runtime.PointCloudPreprocessor`. A prediction is ``pred_instances_3d``: ``bboxes_3d`` (K, 7) LiDAR
boxes (bottom centre, dx dy dz, yaw; see :data:`.records.BOX_FORMAT`), ``scores_3d`` and ``labels_3d``. The
pictures are bird's-eye views of the points with the boxes.

The exported graph takes the pillars: ``voxels`` (1, M, P, C), ``num_points`` (1, M) and ``coors`` (1, M, 2)
(grid row, column), M free, and returns ``boxes`` (1, K, 7), ``scores`` (1, K) and ``labels`` (1, K) after the
box decoding and the rotated NMS (padding rows have label -1). The runtime voxelises in NumPy exactly as the
data preprocessor does in PyTorch and runs the graph once per cloud.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from pathlib import Path
from typing import Any

import numpy as np

from ...registry import TASKS, ConfigError
from ..adapter import (
    Arrays,
    Meta,
    PredictionContext,
    RunGraph,
    TaskAdapter,
    dataset_meta_value,
    prefixed_metric_nodes,
)
from .records import det3d_records

__all__ = ["Det3DAdapter"]

DETECTIONS_SHOWN = 3  # "class score" pairs per cloud in the console table
BEV_PIXELS = 900  # the longer side of the bird's-eye pictures
OUTPUT_FIELDS = (("boxes", "bboxes_3d"), ("scores", "scores_3d"), ("labels", "labels_3d"))


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _instances(result: Mapping[str, Any]) -> dict[str, np.ndarray]:
    instances = result["pred_instances_3d"]
    return {key: _numpy(instances[key]) for key in ("bboxes_3d", "scores_3d", "labels_3d")}


@TASKS.register(name="det3d")
class Det3DAdapter(TaskAdapter):
    """3D object detection on LiDAR point clouds (see the module docstring)."""

    name = "det3d"
    prediction_fields = {"pred_instances_3d": "instances"}
    ground_truth_fields = ("gt_instances_3d",)
    input_suffixes = (".bin",)
    compare_raw_outputs = False
    smoke = {
        "config": "configs/det3d/pointpillars_hv_secfpn_c32_synth-kitti-3class.py",
        "synth": {"num_train": 4, "num_val": 2},
        "set": [
            "train_dataloader.batch_size=2",
            "train_dataloader.num_workers=0",
            "val_dataloader.num_workers=0",
            "test_dataloader.num_workers=0",
            "train_cfg.max_epochs=1",
        ],
        "gt": "ImageSets/val.txt",
        "inputs": "training/velodyne/*.bin",
    }
    eval_options = (
        (
            "--difficulty-mode",
            {
                "choices": ["kitti", "lidar"],
                "default": None,
                "help": "det3d: KITTI's difficulties from the 2D box, occlusion and truncation (kitti), or from "
                "range and point count for data without images (lidar); default: the config's metric",
            },
        ),
    )

    # ---- inputs of ``infer`` ---------------------------------------------------------------------------
    def infer_items(self, path: Path, index: int, options: Mapping[str, Any]) -> list[dict[str, Any]]:
        """One point cloud: ``lidar_path`` = ``img_path`` = the ``.bin`` file."""
        return [{"lidar_path": str(path), "img_path": str(path), "sample_idx": index, "frame_id": path.stem}]

    # ---- JSON, console, pictures -------------------------------------------------------------------------
    def to_record(self, result: Mapping[str, Any], context: PredictionContext) -> dict[str, Any]:
        instances = _instances(result)
        return {
            "objects": det3d_records(
                instances["bboxes_3d"], instances["scores_3d"], instances["labels_3d"], context.class_names
            )
        }

    def table_columns(self, context: PredictionContext) -> list[str]:
        return [
            f"objects (score >= {context.score_thr:g})",
            f"best {DETECTIONS_SHOWN} (class score distance)",
        ]

    def table_row(self, record: Mapping[str, Any], context: PredictionContext) -> list[str]:
        kept = [item for item in record.get("objects", []) if item["score"] >= context.score_thr]
        best = ", ".join(
            f"{item['class']} {item['score']:.2f} {item['distance']:.0f}m" for item in kept[:DETECTIONS_SHOWN]
        )
        return [str(len(kept)), best]

    def draw(
        self, image: np.ndarray | None, result: Mapping[str, Any], context: PredictionContext
    ) -> np.ndarray:
        """A bird's-eye view of the cloud (read again from ``img_path``) with the predicted boxes, and the KITTI
        label in green when the cloud has one beside it; ``image`` is not used (the inputs are not images)."""
        from .drawing import draw_bev
        from .kitti import read_points

        instances = _instances(result)
        path = result.get("img_path")
        points = read_points(path) if path and Path(path).is_file() else np.zeros((0, 4), np.float32)
        return draw_bev(
            points,
            **_bev_view(points, instances["bboxes_3d"]),
            gt_boxes=_kitti_ground_truth(path),
            pred_boxes=instances["bboxes_3d"],
            pred_scores=instances["scores_3d"],
            pred_labels=instances["labels_3d"],
            class_names=context.class_names,
            score_thr=context.score_thr,
            title=Path(path).name if path else None,
        )

    def draw_ground_truth(self, image: Any, sample: Any, context: PredictionContext) -> np.ndarray:
        """A packed sample's points (``image``: the packed inputs, ``{"points": (N, C)}``) with its boxes."""
        from .drawing import draw_bev

        points = _numpy(image["points"]) if isinstance(image, Mapping) else np.zeros((0, 4), np.float32)
        boxes = _numpy(sample.gt_instances_3d.bboxes_3d).reshape(-1, 7)
        return draw_bev(
            points,
            **_bev_view(points, boxes),
            gt_boxes=boxes,
            class_names=context.class_names,
            title=Path(str(sample.metainfo.get("lidar_path", ""))).name or None,
        )

    # ---- data and evaluation -------------------------------------------------------------------------------
    def synthetic_writer(self) -> Callable[..., Any]:
        """Synthetic LiDAR scenes in the KITTI layout with their ground-truth database (``num_train``,
        ``num_val``, ``max_distance``, ``with_images``; :mod:`.synthetic`)."""
        from .synthetic import synth_det3d

        return synth_det3d

    def add_result_writer(
        self, evaluator_cfg: Any, out_dir: Path, name: str = "results"
    ) -> tuple[Any, list[tuple[Path, str]]]:
        """Every KittiMetric of the evaluator writes KITTI result files, one ``<frame>.txt`` per cloud (camera
        frame, 16 columns with the score): the first into ``out_dir``, the others into ``out_dir/name_<i>``."""
        from .metrics import KittiMetric

        evaluator_cfg, prefixed = prefixed_metric_nodes(
            evaluator_cfg,
            KittiMetric,
            out_dir,
            name,
            "KITTI result files come from KittiMetric(outfile_prefix=...)",
        )
        files = []
        for index, (node, prefix) in enumerate(prefixed):
            folder = Path(out_dir) if index == 0 else prefix
            node["outfile_prefix"] = str(folder)
            files.append((folder, "KITTI result files (one per frame)"))
        return evaluator_cfg, files

    def evaluate(
        self, gt: str, pred: str, cfg: Mapping[str, Any] | None = None, difficulty_mode: str | None = None
    ) -> dict[str, Any]:
        """``gt``: a KITTI layout's split file (``DATA_ROOT/ImageSets/val.txt``; its frames under
        ``DATA_ROOT/training``), or a LiDAR-only folder (``points/``, ``labels/``); ``pred``: a folder of result
        files, one ``<frame>.txt`` per frame (``test --out-format`` or KittiMetric's ``outfile_prefix``). The
        config's KittiMetric options apply (``--difficulty-mode`` overrides its mode)."""
        options = _metric_options(cfg)
        if difficulty_mode is not None:
            options["difficulty_mode"] = difficulty_mode
        prefix = options.pop("prefix", None)
        classes = options.pop("classes", None) or dataset_meta_value(cfg or {}, {}, "classes")
        classes = options.pop("eval_classes", None) or classes or ["Pedestrian", "Cyclist", "Car"]
        metrics = self._evaluate_folder(Path(gt), pred, classes, options)
        return {f"{prefix}/{key}" if prefix else key: value for key, value in metrics.items()}

    @staticmethod
    def _evaluate_folder(gt_path: Path, pred: str, classes: Sequence[str], options: dict) -> dict[str, Any]:
        from .results import evaluate_folders, evaluate_lidar_folders

        if gt_path.is_dir() and (gt_path / "labels").is_dir():
            keep = ("ap_modes", "center_distance", "pcd_limit_range")
            _, metrics = evaluate_lidar_folders(
                gt_path, pred, classes, **{key: options[key] for key in keep if key in options}
            )
            return metrics
        if not gt_path.is_file():
            raise FileNotFoundError(
                f"eval det3d: --gt {gt_path} is neither a split file (DATA_ROOT/ImageSets/val.txt) nor a LiDAR-only "
                "folder with labels/"
            )
        data_root = gt_path.parent.parent if gt_path.parent.name == "ImageSets" else gt_path.parent
        _, metrics = evaluate_folders(
            data_root, str(gt_path.relative_to(data_root)), pred, classes, **options
        )
        return metrics

    # ---- export --------------------------------------------------------------------------------------------
    def export_inputs(self, model: Any, cfg: Mapping[str, Any], dynamic: bool) -> dict[str, Any]:
        """The pillars of the first validation cloud (or of random points when there is none): ``voxels``,
        ``num_points`` and ``coors``, their voxel axis free."""
        import torch

        from .runtime import PointCloudPreprocessor, points_spec

        spec = points_spec(cfg, _voxel_layer(model))
        preprocessor = PointCloudPreprocessor(spec)
        voxels, meta = preprocessor.image(_sample_points(cfg, preprocessor, spec))
        if len(voxels) < 2:
            raise ConfigError("export: the sample point cloud gives fewer than 2 pillars inside the grid")
        args = [
            torch.from_numpy(voxels[None]),
            torch.from_numpy(meta["num_points"][None]),
            torch.from_numpy(meta["coors"][None]),
        ]
        axes = {1: "num_voxels"}
        return {
            "args": args,
            "input_names": ["voxels", "num_points", "coors"],
            "dynamic_axes": {"voxels": axes, "num_points": axes, "coors": axes},
            "preprocess": spec,
        }

    def postprocess_spec(self, model: Any) -> dict[str, Any]:
        return {"box_format": "lidar_bottom_center_7"}

    def runtime_preprocessor(self, spec: Meta) -> Any:
        from .runtime import PointCloudPreprocessor

        return PointCloudPreprocessor(spec)

    def runtime_inputs(self, inputs: Any) -> np.ndarray:
        return _numpy(inputs["voxels"]["voxels"])[None]

    def runtime_forward(
        self, run: RunGraph, batch: np.ndarray, metas: Sequence[Meta], spec: Meta, **options: Any
    ) -> Arrays:
        """The graph once per cloud (each with its own number of pillars), the outputs stacked."""
        outputs: dict[str, list[np.ndarray]] = {}
        for index, meta in enumerate(metas):
            count = len(meta["num_points"])
            for name, value in run(batch[index : index + 1, :count], [meta]).items():
                outputs.setdefault(name, []).append(value)
        return {name: np.concatenate(values) for name, values in outputs.items()}

    def runtime_postprocess(self, outputs: Arrays, meta: Meta, spec: Meta, **options: Any) -> dict[str, Any]:
        keep = np.asarray(outputs["labels"]) >= 0
        return {
            "pred_instances_3d": {
                "bboxes_3d": np.asarray(outputs["boxes"], np.float32)[keep],
                "scores_3d": np.asarray(outputs["scores"], np.float32)[keep],
                "labels_3d": np.asarray(outputs["labels"]).astype(np.int64)[keep],
            }
        }

    def compare(self, reference: Any, result: Mapping[str, Any]) -> dict[str, float]:
        """``count_mismatch`` (clouds whose detections differ in number or labels), ``max_box_diff`` (metres or
        radians) and ``max_score_diff`` between the eager and the runtime detections."""
        ours = _instances(self.to_result(reference))
        theirs = _instances(result)
        same = len(ours["labels_3d"]) == len(theirs["labels_3d"]) and np.array_equal(
            ours["labels_3d"], theirs["labels_3d"]
        )
        if not same:
            return {"count_mismatch": 1.0, "max_box_diff": float("inf"), "max_score_diff": float("inf")}
        box_diff = np.abs(ours["bboxes_3d"].astype(np.float64) - theirs["bboxes_3d"]).max(initial=0.0)
        score_diff = np.abs(ours["scores_3d"].astype(np.float64) - theirs["scores_3d"]).max(initial=0.0)
        return {"count_mismatch": 0.0, "max_box_diff": float(box_diff), "max_score_diff": float(score_diff)}


def _bev_view(points: np.ndarray, boxes: np.ndarray) -> dict[str, Any]:
    """``point_range`` and ``resolution`` of a bird's-eye picture: the window of :func:`_view_range`, its longer
    side :data:`BEV_PIXELS` pixels."""
    view = _view_range(points, boxes)
    return {"point_range": view, "resolution": max(view[2] - view[0], view[3] - view[1]) / BEV_PIXELS}


def _view_range(points: np.ndarray, boxes: np.ndarray) -> tuple[float, float, float, float]:
    """The bird's-eye window: the points' extent (their 1st-99th percentile) and every box, at most 80 m out."""
    if len(points):
        low = np.percentile(points[:, :2], 1, axis=0)
        high = np.percentile(points[:, :2], 99, axis=0)
    else:
        low, high = np.array([0.0, -20.0]), np.array([40.0, 20.0])
    if len(boxes):
        low = np.minimum(low, boxes[:, :2].min(axis=0) - 3)
        high = np.maximum(high, boxes[:, :2].max(axis=0) + 3)
    low, high = np.maximum(low, -80.0), np.minimum(high, 80.0)
    return float(low[0]), float(low[1]), float(high[0]), float(high[1])


def _kitti_ground_truth(path: str | None) -> np.ndarray | None:
    """The LiDAR boxes of a KITTI-layout cloud's label (``../label_2/<id>.txt`` through ``../calib/<id>.txt``,
    DontCare left out), drawn in green beside the predictions; None when the cloud has no label beside it."""
    if not path:
        return None
    from .boxes import anno_lidar_boxes
    from .kitti import read_calib, read_label

    folder = Path(path).parent.parent
    label, calib = folder / "label_2" / f"{Path(path).stem}.txt", folder / "calib" / f"{Path(path).stem}.txt"
    if not (label.is_file() and calib.is_file()):
        return None
    anno = read_label(label)
    return anno_lidar_boxes(anno, read_calib(calib)["lidar2cam"])[anno["name"] != "DontCare"]


def _voxel_layer(model: Any) -> dict[str, Any]:
    layer = getattr(model.data_preprocessor, "voxel_layer", None)
    if layer is None:
        raise ConfigError(f"export: {type(model).__name__}'s data preprocessor has no voxel_layer")
    if isinstance(layer, Mapping):
        return dict(layer)
    keys = ("voxel_size", "point_cloud_range", "max_num_points", "max_voxels")
    return {key: getattr(layer, key) for key in keys}


def _sample_points(cfg: Mapping[str, Any], preprocessor: Any, spec: Mapping[str, Any]) -> np.ndarray:
    """The first validation cloud, or 20,000 seeded random points spread over the grid."""
    from ...registry import DATASETS, build

    dataset_cfg = (cfg.get("val_dataloader") or cfg.get("test_dataloader") or {}).get("dataset")
    if dataset_cfg:
        try:
            dataset = build(dict(dataset_cfg), DATASETS)
            path = dataset.get_data_info(0)["lidar_path"]
            return preprocessor.read(path)
        except (FileNotFoundError, IndexError, KeyError, ValueError):
            pass
    x0, y0, z0, x1, y1, z1 = spec["point_cloud_range"]
    rng = np.random.default_rng(0)
    columns = [rng.uniform(x0, x1, 20000), rng.uniform(y0, y1, 20000), rng.uniform(z0, z1, 20000)]
    width = len(spec["use_dim"]) if isinstance(spec["use_dim"], list) else int(spec["use_dim"])
    columns += [rng.uniform(0, 1, 20000) for _ in range(width - 3)]
    return np.stack(columns, axis=1).astype(np.float32)


def _metric_options(cfg: Mapping[str, Any] | None) -> dict[str, Any]:
    """The options of the config's (test, else val) KittiMetric that the folder evaluation takes."""
    evaluator = ((cfg or {}).get("test_evaluator") or (cfg or {}).get("val_evaluator")) or []
    entries = evaluator if isinstance(evaluator, (list, tuple)) else [evaluator]
    for entry in entries:
        if isinstance(entry, Mapping) and entry.get("type") == "KittiMetric":
            keep = ("metric", "ap_modes", "difficulty_mode", "pcd_limit_range", "center_distance",
                    "dontcare_all_metrics", "prefix", "classes", "eval_classes")  # fmt: skip
            return {key: entry[key] for key in keep if key in entry}
    return {}
