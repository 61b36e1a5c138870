"""3D detection models: the point-cloud data preprocessor (voxelisation), the pillar feature net and its scatter
to a bird's-eye canvas, SECOND and SECONDFPN, the VoxelNet / CenterPoint detectors, PointPillars' anchor head
and CenterPoint's centre head. Importing the package registers them in ``MODELS``."""

from . import (  # noqa: F401
    anchor3d_head,
    anchors3d,
    center_head,
    data_preprocessor,
    gaussian_targets,
    middle_encoders,
    second,
    voxel_encoders,
    voxelnet,
)
