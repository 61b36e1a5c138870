# PointPillars on KITTI, 3 classes: MMDetection3D's published configuration (0.16 m pillars over 69.12 m x
# 79.36 m: a 432 x 496 grid, 64-channel pillar features, SECOND (64, 128, 256) + SECONDFPN (3 x 128), the 3-class
# anchor head), 8 GPUs x 6 clouds, the cyclic 40-epoch schedule on the training split repeated twice.
_base_ = [
    "../_base_/datasets/kitti-3d-3class.py",
    "../_base_/schedules/cyclic-40e.py",
    "../_base_/default_runtime.py",
]
voxel_size = [0.16, 0.16, 4]
point_cloud_range = [0, -39.68, -3, 69.12, 39.68, 1]
model = dict(
    type="VoxelNet",
    data_preprocessor=dict(
        type="Det3DDataPreprocessor",
        voxel=True,
        voxel_layer=dict(
            max_num_points=32,
            point_cloud_range=point_cloud_range,
            voxel_size=voxel_size,
            max_voxels=(16000, 40000),
        ),
    ),
    # MMDetection3D's released PointPillars checkpoints were trained with its legacy=True pillar features
    # (raw x, y, z replaced by the pillar-centre offsets): with one converted by `visionstack convert
    # checkpoint --from openmmlab`, add `--set model.voxel_encoder.legacy=True` (docs/openmmlab_parity.md)
    voxel_encoder=dict(
        type="PillarFeatureNet",
        in_channels=4,
        feat_channels=[64],
        with_distance=False,
        voxel_size=voxel_size,
        point_cloud_range=point_cloud_range,
    ),
    middle_encoder=dict(type="PointPillarsScatter", in_channels=64, output_shape=[496, 432]),
    backbone=dict(
        type="SECOND",
        in_channels=64,
        layer_nums=[3, 5, 5],
        layer_strides=[2, 2, 2],
        out_channels=[64, 128, 256],
    ),
    neck=dict(
        type="SECONDFPN",
        in_channels=[64, 128, 256],
        upsample_strides=[1, 2, 4],
        out_channels=[128, 128, 128],
    ),
    bbox_head=dict(
        type="Anchor3DHead",
        num_classes=3,
        in_channels=384,
        feat_channels=384,
        use_direction_classifier=True,
        assign_per_class=True,
        anchor_generator=dict(
            type="AlignedAnchor3DRangeGenerator",
            ranges=[
                [0, -39.68, -0.6, 69.12, 39.68, -0.6],
                [0, -39.68, -0.6, 69.12, 39.68, -0.6],
                [0, -39.68, -1.78, 69.12, 39.68, -1.78],
            ],
            sizes=[[0.8, 0.6, 1.73], [1.76, 0.6, 1.73], [3.9, 1.6, 1.56]],
            rotations=[0, 1.57],
            reshape_out=False,
        ),
        diff_rad_by_sin=True,
        bbox_coder=dict(type="DeltaXYZWLHRBBoxCoder"),
        loss_cls=dict(type="FocalLoss", gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type="SmoothL1Loss", beta=1.0 / 9.0, loss_weight=2.0),
        loss_dir=dict(type="CrossEntropyLoss", loss_weight=0.2),
    ),
    train_cfg=dict(
        assigner=[
            dict(type="Max3DIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.35, min_pos_iou=0.35, ignore_iof_thr=-1),
            dict(type="Max3DIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.35, min_pos_iou=0.35, ignore_iof_thr=-1),
            dict(type="Max3DIoUAssigner", pos_iou_thr=0.6, neg_iou_thr=0.45, min_pos_iou=0.45, ignore_iof_thr=-1),
        ],
        allowed_border=0,
        pos_weight=-1,
        debug=False,
    ),
    test_cfg=dict(
        use_rotate_nms=True,
        nms_across_levels=False,
        nms_thr=0.01,
        score_thr=0.1,
        min_bbox_size=0,
        nms_pre=100,
        max_num=50,
    ),
)
default_hooks = dict(
    checkpoint=dict(interval=2, max_keep_ckpts=3, save_best="kitti/Car/BEV_AP40_moderate", rule="greater"),
)
