"""3D object detection on point clouds (MMDetection3D's scope): the KITTI layout and its camera/LiDAR frames,
point-cloud transforms and ground-truth sampling, voxelisation, rotated IoU and NMS in pure PyTorch, PointPillars
and a CenterPoint head on the same pillars, KITTI AP (11 and 40 recall points, image-free difficulties too) and
nuScenes-style centre-distance AP with its error breakdown, bird's-eye pictures, a synthetic LiDAR simulator
(:mod:`.adapter`)."""

from ...utils.lazy import lazy_attributes

__getattr__, __dir__ = lazy_attributes(
    __name__,
    (
        "boxes",
        "kitti",
        "datasets",
        "drawing",
        "transforms",
        "gt_database",
        "lidar_sim",
        "synthetic",
        "kitti_eval",
        "center_eval",
        "metrics",
        "results",
        "records",
        "runtime",
        "box_coder",
        "ops",
        "models",
    ),
)
