# CenterPoint (Yin et al. 2021) on the same pillars, CPU-sized, on the synthetic KITTI-layout scenes: the pillar
# feature net (32 channels), SECOND (32, 64, 128) + SECONDFPN to a 100 x 100 map (0.4 m cells, out_size_factor 2),
# and the centre head (32-channel shared conv and branches): a Gaussian heatmap per class (two tasks: Pedestrian +
# Cyclist, Car), and per-cell offset, centre height, log size and (sin, cos) yaw, penalty-reduced focal loss + L1
# (0.25); top-K peaks, rotated NMS in BEV. Write the data first:
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
    type="CenterPoint",
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
    pts_voxel_encoder=dict(
        type="PillarFeatureNet",
        in_channels=4,
        feat_channels=[32],
        with_distance=False,
        voxel_size=voxel_size,
        point_cloud_range=point_cloud_range,
        norm_cfg=norm_cfg,
    ),
    pts_middle_encoder=dict(type="PointPillarsScatter", in_channels=32, output_shape=[200, 200]),
    pts_backbone=dict(
        type="SECOND",
        in_channels=32,
        layer_nums=[3, 5, 5],
        layer_strides=[2, 2, 2],
        out_channels=[32, 64, 128],
        norm_cfg=norm_cfg,
    ),
    pts_neck=dict(
        type="SECONDFPN",
        in_channels=[32, 64, 128],
        upsample_strides=[1, 2, 4],
        out_channels=[64, 64, 64],
        norm_cfg=norm_cfg,
    ),
    pts_bbox_head=dict(
        type="CenterHead",
        in_channels=192,
        # label ids are the tasks' class names in order: Pedestrian 0, Cyclist 1, Car 2 (the dataset's order)
        tasks=[
            dict(num_class=2, class_names=["Pedestrian", "Cyclist"]),
            dict(num_class=1, class_names=["Car"]),
        ],
        common_heads=dict(reg=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2)),
        share_conv_channel=32,
        bbox_coder=dict(
            type="CenterPointBBoxCoder",
            post_center_range=[-5, -25, -5, 45, 25, 3],
            max_num=100,
            score_threshold=0.1,
            out_size_factor=2,
            voxel_size=voxel_size[:2],
            pc_range=point_cloud_range[:2],
            code_size=7,
        ),
        # CPU-sized branches (MMDetection3D's CenterPoint: 64 channels, 3x3 last convs): the ten 3x3 convs of two
        # tasks' five branches on the 100 x 100 map would cost twice the backbone
        separate_head=dict(init_bias=-2.19, final_kernel=1, head_conv=32),
        loss_cls=dict(type="GaussianFocalLoss", reduction="mean"),
        loss_bbox=dict(type="L1Loss", reduction="mean", loss_weight=0.25),
        norm_bbox=True,
    ),
    train_cfg=dict(
        pts=dict(
            grid_size=[200, 200, 1],
            voxel_size=voxel_size,
            point_cloud_range=point_cloud_range,
            out_size_factor=2,
            dense_reg=1,
            gaussian_overlap=0.1,
            max_objs=500,
            min_radius=2,
            code_weights=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        )
    ),
    test_cfg=dict(
        pts=dict(
            post_center_limit_range=[-5, -25, -5, 45, 25, 3],
            max_num=100,
            score_threshold=0.1,
            pc_range=point_cloud_range[:2],
            out_size_factor=2,
            voxel_size=voxel_size[:2],
            nms_type="rotate",
            pre_max_size=100,
            post_max_size=50,
            nms_thr=0.2,
        )
    ),
)
train_cfg = dict(max_epochs=5, val_interval=5)  # 1,000 iterations of 4 clouds: 18-20 min on 2 cores
default_hooks = dict(
    logger=dict(interval=25),
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best="kitti/Car/BEV_AP40_moderate", rule="greater"),
)
