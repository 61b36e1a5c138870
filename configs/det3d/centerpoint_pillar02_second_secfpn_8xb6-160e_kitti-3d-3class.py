# CenterPoint on KITTI (3 classes), the pillar model of MMDetection3D's published nuScenes configuration
# (centerpoint_pillar02_second_secfpn: 0.2 m pillars, 64-channel pillar features, SECOND (64, 128, 256),
# SECONDFPN with up-sampling (0.5, 1, 2) to a stride-4 map, the centre head with share_conv 64, Gaussian overlap 0.1,
# min radius 2, rotated NMS 0.2 keeping 83 per task from the best 1000) on the KITTI range and classes, with the
# KITTI 3-class data pipeline and the cyclic 40-epoch schedule of PointPillars (no velocity: KITTI has none).
_base_ = [
    "../_base_/datasets/kitti-3d-3class.py",
    "../_base_/schedules/cyclic-40e.py",
    "../_base_/default_runtime.py",
]
voxel_size = [0.2, 0.2, 4]
point_cloud_range = [0, -40, -3, 70.4, 40, 1]
model = dict(
    type="CenterPoint",
    data_preprocessor=dict(
        type="Det3DDataPreprocessor",
        voxel=True,
        voxel_layer=dict(
            max_num_points=20,
            point_cloud_range=point_cloud_range,
            voxel_size=voxel_size,
            max_voxels=(30000, 40000),
        ),
    ),
    pts_voxel_encoder=dict(
        type="PillarFeatureNet",
        in_channels=4,
        feat_channels=[64],
        with_distance=False,
        voxel_size=voxel_size,
        point_cloud_range=point_cloud_range,
        legacy=False,
    ),
    pts_middle_encoder=dict(type="PointPillarsScatter", in_channels=64, output_shape=[400, 352]),
    pts_backbone=dict(
        type="SECOND",
        in_channels=64,
        layer_nums=[3, 5, 5],
        layer_strides=[2, 2, 2],
        out_channels=[64, 128, 256],
    ),
    pts_neck=dict(
        type="SECONDFPN",
        in_channels=[64, 128, 256],
        upsample_strides=[0.5, 1, 2],
        out_channels=[128, 128, 128],
        use_conv_for_no_stride=True,
    ),
    pts_bbox_head=dict(
        type="CenterHead",
        in_channels=384,
        tasks=[
            dict(num_class=2, class_names=["Pedestrian", "Cyclist"]),
            dict(num_class=1, class_names=["Car"]),
        ],
        common_heads=dict(reg=(2, 2), height=(1, 2), dim=(3, 2), rot=(2, 2)),
        share_conv_channel=64,
        bbox_coder=dict(
            type="CenterPointBBoxCoder",
            post_center_range=[-10, -50, -10, 80.4, 50, 10],
            max_num=500,
            score_threshold=0.1,
            out_size_factor=4,
            voxel_size=voxel_size[:2],
            pc_range=point_cloud_range[:2],
            code_size=7,
        ),
        separate_head=dict(init_bias=-2.19, final_kernel=3),
        loss_cls=dict(type="GaussianFocalLoss", reduction="mean"),
        loss_bbox=dict(type="L1Loss", reduction="mean", loss_weight=0.25),
        norm_bbox=True,
    ),
    train_cfg=dict(
        pts=dict(
            grid_size=[352, 400, 1],
            voxel_size=voxel_size,
            point_cloud_range=point_cloud_range,
            out_size_factor=4,
            dense_reg=1,
            gaussian_overlap=0.1,
            max_objs=500,
            min_radius=2,
            code_weights=[1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0, 1.0],
        )
    ),
    test_cfg=dict(
        pts=dict(
            post_center_limit_range=[-10, -50, -10, 80.4, 50, 10],
            max_num=100,
            max_per_img=500,
            max_pool_nms=False,
            score_threshold=0.1,
            pc_range=point_cloud_range[:2],
            out_size_factor=4,
            voxel_size=voxel_size[:2],
            nms_type="rotate",
            pre_max_size=1000,
            post_max_size=83,
            nms_thr=0.2,
        )
    ),
)
default_hooks = dict(
    checkpoint=dict(interval=2, max_keep_ckpts=3, save_best="kitti/Car/BEV_AP40_moderate", rule="greater"),
)
