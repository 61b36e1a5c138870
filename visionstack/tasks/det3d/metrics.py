"""The 3D detection metric: KITTI AP (:mod:`.kitti_eval`) and centre-distance AP (:mod:`.center_eval`).

:class:`KittiMetric` (``METRICS``) turns each sample's ``pred_instances_3d`` (LiDAR boxes) into a
KITTI detection annotation as MMDetection3D's ``KittiMetric`` does (``convert_valid_bboxes``):

1. the boxes go to the camera frame through the sample's ``lidar2cam`` (:mod:`.boxes`);
2. their 8 corners are projected through ``cam2img``; the min/max is the 2D box; a box is kept when
   that (unclipped) 2D box overlaps the image (``x1 < w, y1 < h, x2 > 0, y2 > 0``) *and* its LiDAR
   bottom centre lies strictly inside ``pcd_limit_range`` (x0, y0, z0, x1, y1, z1);
3. the kept 2D boxes are clipped to the image; ``alpha`` from the camera box; ``truncated`` and
   ``occluded`` 0; ``name`` = ``classes[label]``.

The GT is the sample's ``eval_ann_info`` (the dataset's KITTI annotation, DontCare included). A
sample without ``lidar2cam`` (data without images) keeps its LiDAR boxes (``lidar_boxes``, only the
``pcd_limit_range`` test) and the whole evaluation runs in ``difficulty_mode="lidar"``.

Returned keys (``prefix/`` in front when a prefix is given): the KITTI keys of :mod:`.kitti_eval`
prefixed ``kitti/`` (``kitti/Car/BEV_AP40_moderate``, ``kitti/Overall/3D_AP11_hard``, ...) for the
``ap_modes`` asked, and with ``center_distance`` the keys of :mod:`.center_eval` prefixed ``center/``
(``center/mAP``, ``center/Car/AP_2.0``, ``center/ATE``, ``center/range_0-20/mAP`` ...). Values are in
[0, 1] (AP) and metres / radians (errors).
"""

from __future__ import annotations

import os
import warnings
from collections.abc import Mapping, Sequence
from typing import Any

import numpy as np

from visionstack.evaluation import BaseMetric
from visionstack.registry import METRICS

from .boxes import alpha_from_camera, camera_box_corners, lidar_to_camera_boxes, project_to_image
from .center_eval import center_eval
from .kitti_eval import kitti_eval

__all__ = ["KittiMetric", "evaluate_annos", "predictions_to_anno"]

DEFAULT_CLASSES = ("Pedestrian", "Cyclist", "Car")
AP_MODES = ("AP11", "AP40")
DEFAULT_LIMIT_RANGE = (0, -40, -3, 70.4, 40, 0.0)  # MMDetection3D's KittiMetric default


def _numpy(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value)


def _in_range(boxes: np.ndarray, pcd_limit_range: Sequence[float] | None) -> np.ndarray:
    if pcd_limit_range is None:
        return np.ones(len(boxes), dtype=bool)
    limits = np.asarray(pcd_limit_range, dtype=np.float64)
    return ((boxes[:, :3] > limits[:3]) & (boxes[:, :3] < limits[3:])).all(axis=1)


def predictions_to_anno(
    boxes: Any,
    scores: Any,
    labels: Any,
    classes: Sequence[str],
    lidar2cam: Any = None,
    cam2img: Any = None,
    img_shape: Sequence[int] | None = None,
    pcd_limit_range: Sequence[float] | None = DEFAULT_LIMIT_RANGE,
) -> dict[str, np.ndarray]:
    """A detection annotation from LiDAR predictions (module docstring for the rules).

    Args:
        boxes: (K, 7) LiDAR boxes; scores: (K,); labels: (K,) indices into ``classes``.
        lidar2cam, cam2img: (4, 4) matrices; None for LiDAR-only data.
        img_shape: (h, w) of the image (needed with ``lidar2cam``).
        pcd_limit_range: the LiDAR range the bottom centres must lie in; None keeps all.

    Returns:
        With a camera: the KITTI annotation fields plus ``score`` and ``lidar_boxes`` (K', 7);
        without: ``name``, ``lidar_boxes``, ``score``, ``num_points_in_gt`` (-1).
    """
    boxes = _numpy(boxes).astype(np.float64).reshape(-1, 7)
    scores = _numpy(scores).astype(np.float64).reshape(-1)
    labels = _numpy(labels).astype(np.int64).reshape(-1)
    keep = _in_range(boxes, pcd_limit_range) & (labels >= 0) & (labels < len(classes))
    if lidar2cam is None:
        boxes, scores, labels = boxes[keep], scores[keep], labels[keep]
        names = np.array([classes[i] for i in labels], dtype="<U16")
        return {
            "name": names,
            "lidar_boxes": boxes,
            "score": scores,
            "num_points_in_gt": np.full(len(boxes), -1),
        }
    if img_shape is None or cam2img is None:
        raise ValueError("predictions_to_anno: a sample with lidar2cam needs cam2img and img_shape")
    cam_boxes = lidar_to_camera_boxes(boxes, np.asarray(lidar2cam, dtype=np.float64)).reshape(-1, 7)
    height, width = img_shape[:2]
    if len(boxes):
        pixels, _ = project_to_image(
            camera_box_corners(cam_boxes).reshape(-1, 3), np.asarray(cam2img, dtype=np.float64)
        )
        pixels = pixels.reshape(-1, 8, 2)
        box_2d = np.concatenate([pixels.min(axis=1), pixels.max(axis=1)], axis=1)
    else:
        box_2d = np.zeros((0, 4))
    keep &= (box_2d[:, 0] < width) & (box_2d[:, 1] < height) & (box_2d[:, 2] > 0) & (box_2d[:, 3] > 0)
    box_2d = box_2d[keep]
    box_2d[:, :2] = np.maximum(box_2d[:, :2], 0)
    box_2d[:, 2:] = np.minimum(box_2d[:, 2:], [width, height])
    cam_boxes, labels, n = cam_boxes[keep], labels[keep], int(keep.sum())
    return {
        "name": np.array([classes[i] for i in labels], dtype="<U16"),
        "truncated": np.zeros(n),
        "occluded": np.zeros(n, dtype=np.int64),
        "alpha": alpha_from_camera(cam_boxes).reshape(-1),
        "bbox": box_2d.reshape(-1, 4),
        "dimensions": cam_boxes[:, [3, 4, 5]],  # (l, h, w)
        "location": cam_boxes[:, :3],
        "rotation_y": cam_boxes[:, 6],
        "num_points_in_gt": np.full(n, -1, dtype=np.int64),
        "score": scores[keep],
        "lidar_boxes": boxes[keep],
    }


def evaluate_annos(
    gt_annos: Sequence[Mapping],
    dt_annos: Sequence[Mapping],
    classes: Sequence[str],
    metric: Sequence[str] = ("bbox", "bev", "3d"),
    ap_modes: Sequence[str] = AP_MODES,
    difficulty_mode: str = "kitti",
    center_distance: bool = True,
    dontcare_all_metrics: bool = False,
    pcd_limit_range: Sequence[float] | None = None,
) -> tuple[str, dict[str, float]]:
    """KITTI AP and (optionally) centre-distance numbers of detection annos against GT annos; the
    centre-distance evaluation counts the GT objects inside ``pcd_limit_range`` and the image (as the kept
    detections are).

    The one computation behind :class:`KittiMetric` and :func:`.results.evaluate_folders`.

    Returns:
        ``(table, {key: value})`` with the ``kitti/`` and ``center/`` keys of the module docstring.
    """
    unknown = [mode for mode in ap_modes if mode not in AP_MODES]
    if unknown:
        raise ValueError(f"ap_modes must be among {AP_MODES}, got {unknown}")
    table, kitti = kitti_eval(
        gt_annos, dt_annos, classes, tuple(metric), difficulty_mode, dontcare_all_metrics
    )
    results = {
        f"kitti/{key}": value for key, value in kitti.items() if any(f"_{mode}_" in key for mode in ap_modes)
    }
    if center_distance:
        if not all("lidar_boxes" in anno for anno in list(gt_annos) + list(dt_annos)):
            raise ValueError("center_distance needs lidar_boxes in every GT and detection annotation")
        visible = [_visible_objects(anno, pcd_limit_range) for anno in gt_annos]
        results.update(
            {f"center/{key}": value for key, value in center_eval(visible, dt_annos, classes).items()}
        )
    return table, results


def _visible_objects(gt: Mapping, pcd_limit_range: Sequence[float] | None) -> dict[str, np.ndarray]:
    """The GT objects a kept detection could match in the centre-distance evaluation: the predictions' rule
    (:func:`predictions_to_anno`) applied to the GT, i.e. the bottom centre inside ``pcd_limit_range`` and, with
    a camera, a 2D box of non-zero size (an object outside the image has none; KITTI leaves such objects
    unlabelled, the synthetic scenes label them for training)."""
    keep = _in_range(np.asarray(gt["lidar_boxes"], dtype=np.float64).reshape(-1, 7), pcd_limit_range)
    if "bbox" in gt and len(gt["bbox"]):
        box = np.asarray(gt["bbox"], dtype=np.float64)
        keep &= (box[:, 2] > box[:, 0]) & (box[:, 3] > box[:, 1])
    return {"name": np.asarray(gt["name"])[keep], "lidar_boxes": np.asarray(gt["lidar_boxes"])[keep]}


@METRICS.register()
class KittiMetric(BaseMetric):
    """KITTI AP (2D, BEV, 3D, AOS; AP11 / AP40) and nuScenes-style centre-distance AP of 3D detection.

    Args:
        metric: the KITTI evaluation types among ``bbox``, ``bev``, ``3d``.
        ap_modes: ``AP11`` and/or ``AP40`` keys to return.
        difficulty_mode: ``"kitti"`` (2D height, occlusion, truncation) or ``"lidar"`` (distance and
            points; forced when a sample has no ``lidar2cam``).
        pcd_limit_range: (x0, y0, z0, x1, y1, z1) LiDAR range of the kept predictions; None keeps all.
        outfile_prefix: a folder to write the result files into (one ``<frame_id>.txt`` per frame:
            KITTI's 16 columns, or ``class x y z dx dy dz yaw score`` for LiDAR-only samples).
        center_distance: also compute :func:`.center_eval.center_eval`.
        classes: the class names of the label ids; None: ``dataset_meta["classes"]`` (else KITTI's
            ``("Pedestrian", "Cyclist", "Car")``).
        eval_classes: the classes evaluated (a subset of the names); None: all of ``classes``.
        dontcare_all_metrics: apply the DontCare rule to BEV and 3D too (the devkit; MMDetection3D
            applies it to bbox only).
        collect_device, prefix: see :class:`~visionstack.evaluation.BaseMetric`.
    """

    default_prefix = None

    def __init__(
        self,
        metric: Sequence[str] | str = ("bbox", "bev", "3d"),
        ap_modes: Sequence[str] = AP_MODES,
        difficulty_mode: str = "kitti",
        pcd_limit_range: Sequence[float] | None = DEFAULT_LIMIT_RANGE,
        outfile_prefix: str | None = None,
        center_distance: bool = True,
        classes: Sequence[str] | None = None,
        eval_classes: Sequence[str] | None = None,
        dontcare_all_metrics: bool = False,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.metric = (metric,) if isinstance(metric, str) else tuple(metric)
        unknown = [m for m in self.metric if m not in ("bbox", "bev", "3d")]
        if unknown:
            raise ValueError(f"KittiMetric: metric must be among ('bbox', 'bev', '3d'), got {unknown}")
        if difficulty_mode not in ("kitti", "lidar"):
            raise ValueError(
                f"KittiMetric: difficulty_mode must be 'kitti' or 'lidar', got {difficulty_mode!r}"
            )
        self.ap_modes = tuple(ap_modes)
        self.difficulty_mode = difficulty_mode
        self.pcd_limit_range = None if pcd_limit_range is None else tuple(pcd_limit_range)
        self.outfile_prefix = outfile_prefix
        self.center_distance = center_distance
        self.classes = None if classes is None else tuple(classes)
        self.eval_classes = None if eval_classes is None else tuple(eval_classes)
        self.dontcare_all_metrics = dontcare_all_metrics
        self.table = ""

    @property
    def class_names(self) -> tuple[str, ...]:
        if self.classes is not None:
            return self.classes
        meta = self.dataset_meta or {}
        return tuple(meta.get("classes", DEFAULT_CLASSES))

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        """Append ``{"frame_id", "gt", "dt", "lidar_only"}`` per sample."""
        from .results import saved_detections  # results imports this module

        owner = type(self).__name__
        for index, sample in enumerate(data_samples):
            pred = sample.get("pred_instances_3d")
            gt = sample.get("eval_ann_info")
            if pred is None or gt is None:
                missing = "pred_instances_3d" if pred is None else "eval_ann_info"
                raise KeyError(
                    f"{owner}: data_samples[{index}] has no {missing}; the metric expects the model's "
                    "pred_instances_3d and the test-mode dataset's eval_ann_info"
                )
            lidar2cam = sample.get("lidar2cam")
            dt = predictions_to_anno(
                pred.bboxes_3d,
                pred.scores_3d,
                pred.labels_3d,
                self.class_names,
                lidar2cam,
                sample.get("cam2img"),
                sample.get("img_shape"),
                self.pcd_limit_range,
            )
            dt = saved_detections(
                dt, lidar2cam
            )  # scored as its result file reads: `eval` gives `test`'s numbers
            frame_id = sample.get("frame_id")
            if frame_id is None:
                frame_id = f"{int(sample.get('sample_idx', len(self.results))):06d}"
            gt = {key: _numpy(value) for key, value in gt.items()}
            self.results.append(
                {"frame_id": str(frame_id), "gt": gt, "dt": dt, "lidar_only": lidar2cam is None}
            )

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        mode = self.difficulty_mode
        if mode == "kitti" and any(record["lidar_only"] for record in results):
            warnings.warn(
                "KittiMetric: samples without lidar2cam: evaluating in difficulty_mode='lidar'", stacklevel=2
            )
            mode = "lidar"
        if self.outfile_prefix is not None:
            self.write_results(results)
        self.table, metrics = evaluate_annos(
            [record["gt"] for record in results],
            [record["dt"] for record in results],
            self.eval_classes or self.class_names,
            self.metric,
            self.ap_modes,
            mode,
            self.center_distance,
            self.dontcare_all_metrics,
            self.pcd_limit_range,
        )
        return metrics

    def write_results(self, results: list[dict]) -> None:
        """One result file per frame in ``outfile_prefix`` (see :mod:`.results`)."""
        from .results import write_kitti_results, write_lidar_results

        os.makedirs(self.outfile_prefix, exist_ok=True)
        for record in results:
            write = write_lidar_results if record["lidar_only"] else write_kitti_results
            write(self.outfile_prefix, record["frame_id"], record["dt"])
