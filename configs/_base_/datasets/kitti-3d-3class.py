# KITTI 3D object detection (3 classes), the raw KITTI layout at data_root (no info files to generate):
#   data_root/training/{velodyne,label_2,calib,image_2}/<id>.*   data_root/ImageSets/{train,val}.txt
# The ground-truth database for ObjectSample comes from the training split, once:
#   python -m visionstack.tasks.det3d.gt_database data/kitti
# MMDetection3D's kitti-3d-3class pipeline: GT sampling (15 per class), per-object noise, flip, global rotation
# and scaling, range filters, shuffle; evaluation on the val split with KITTI's AP (11 and 40 recall points).
dataset_type = "KittiDataset"
data_root = "data/kitti/"
class_names = ["Pedestrian", "Cyclist", "Car"]
metainfo = dict(classes=class_names)
point_cloud_range = [0, -40, -3, 70.4, 40, 1]
data_prefix = dict(
    pts="training/velodyne", img="training/image_2", label="training/label_2", calib="training/calib"
)
db_sampler = dict(
    data_root=data_root,
    info_path="kitti_dbinfos_train.json",
    rate=1.0,
    prepare=dict(filter_by_difficulty=[-1], filter_by_min_points=dict(Car=5, Pedestrian=10, Cyclist=10)),
    classes=class_names,
    sample_groups=dict(Car=12, Pedestrian=6, Cyclist=6),
    points_loader=dict(type="LoadPointsFromFile", coord_type="LIDAR", load_dim=4, use_dim=4),
)
train_pipeline = [
    dict(type="LoadPointsFromFile", coord_type="LIDAR", load_dim=4, use_dim=4),
    dict(type="LoadAnnotations3D", with_bbox_3d=True, with_label_3d=True),
    dict(type="ObjectSample", db_sampler=db_sampler),
    dict(
        type="ObjectNoise",
        num_try=100,
        translation_std=[1.0, 1.0, 0.5],
        global_rot_range=[0.0, 0.0],
        rot_range=[-0.78539816, 0.78539816],
    ),
    dict(type="RandomFlip3D", flip_ratio_bev_horizontal=0.5),
    dict(type="GlobalRotScaleTrans", rot_range=[-0.78539816, 0.78539816], scale_ratio_range=[0.95, 1.05]),
    dict(type="PointsRangeFilter", point_cloud_range=point_cloud_range),
    dict(type="ObjectRangeFilter", point_cloud_range=point_cloud_range),
    dict(type="ObjectNameFilter", classes=class_names),
    dict(type="PointShuffle"),
    dict(type="Pack3DDetInputs", keys=["points", "gt_bboxes_3d", "gt_labels_3d"]),
]
test_pipeline = [
    dict(type="LoadPointsFromFile", coord_type="LIDAR", load_dim=4, use_dim=4),
    dict(type="PointsRangeFilter", point_cloud_range=point_cloud_range),
    dict(type="Pack3DDetInputs", keys=["points"]),
]
train_dataloader = dict(
    batch_size=6,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(
        type="RepeatDataset",
        times=2,
        dataset=dict(
            type=dataset_type,
            data_root=data_root,
            ann_file="ImageSets/train.txt",
            data_prefix=data_prefix,
            pipeline=train_pipeline,
            metainfo=metainfo,
            test_mode=False,
        ),
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=1,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file="ImageSets/val.txt",
        data_prefix=data_prefix,
        pipeline=test_pipeline,
        metainfo=metainfo,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="KittiMetric", metric=["bbox", "bev", "3d"], pcd_limit_range=[0, -40, -3, 70.4, 40, 0.0])
test_evaluator = val_evaluator
