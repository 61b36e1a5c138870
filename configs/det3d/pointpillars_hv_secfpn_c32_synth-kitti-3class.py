# PointPillars (Lang et al. 2019), CPU-sized, on the synthetic KITTI-layout scenes: 0.2 m pillars over 40 m x 40 m
# (200 x 200), a pillar feature net of 32 channels, SECOND with (32, 64, 128) channels and SECONDFPN to a 100 x 100
# map, and MMDetection3D's 3-class anchor head: one anchor size per class at 0 and 90 degrees, per-class
# max-IoU assignment on the nearest axis-aligned BEV boxes (Car 0.6 / 0.45, the others 0.5 / 0.35), focal
# loss, smooth-L1 on sin-encoded boxes, a direction classifier, rotated NMS in BEV. Write the data first:
#   visionstack data synth det3d --out data/synth_det3d
_base_ = [
    "../_base_/datasets/synth_kitti-3d-3class.py",
    "../_base_/schedules/cpu_det3d_adamw.py",
    "../_base_/default_runtime.py",
]
voxel_size = [0.2, 0.2, 4]
point_cloud_range = [0, -20, -3, 40, 20, 1]
# BatchNorm with PyTorch's momentum 0.1 (MMDetection3D: 0.01): its running statistics must follow the weights
# within a training of ~1,500 iterations, not ~30,000
norm_cfg = dict(eps=1e-3, momentum=0.1)
model = dict(
    type="VoxelNet",
    data_preprocessor=dict(
        type="Det3DDataPreprocessor",
        voxel=True,
        voxel_layer=dict(
            max_num_points=32,
            point_cloud_range=point_cloud_range,
            voxel_size=voxel_size,
            max_voxels=(12000, 16000),
        ),
    ),
    voxel_encoder=dict(
        type="PillarFeatureNet",
        in_channels=4,
        feat_channels=[32],
        with_distance=False,
        voxel_size=voxel_size,
        point_cloud_range=point_cloud_range,
        norm_cfg=norm_cfg,
    ),
    middle_encoder=dict(type="PointPillarsScatter", in_channels=32, output_shape=[200, 200]),
    backbone=dict(
        type="SECOND",
        in_channels=32,
        layer_nums=[3, 5, 5],
        layer_strides=[2, 2, 2],
        out_channels=[32, 64, 128],
        norm_cfg=norm_cfg,
    ),
    neck=dict(
        type="SECONDFPN",
        in_channels=[32, 64, 128],
        upsample_strides=[1, 2, 4],
        out_channels=[64, 64, 64],
        norm_cfg=norm_cfg,
    ),
    bbox_head=dict(
        type="Anchor3DHead",
        num_classes=3,
        in_channels=192,
        feat_channels=192,
        use_direction_classifier=True,
        assign_per_class=True,
        anchor_generator=dict(
            type="AlignedAnchor3DRangeGenerator",
            ranges=[
                [0, -20, -0.6, 40, 20, -0.6],
                [0, -20, -0.6, 40, 20, -0.6],
                [0, -20, -1.78, 40, 20, -1.78],
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
train_cfg = dict(max_epochs=5, val_interval=5)  # 1,000 iterations of 4 clouds: 18-20 min on 2 cores
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best="kitti/Car/BEV_AP40_moderate", rule="greater"),
)
