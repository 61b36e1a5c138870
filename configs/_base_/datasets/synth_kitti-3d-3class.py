# The synthetic LiDAR scenes in the KITTI layout (3 classes: Pedestrian, Cyclist, Car), written by
#   visionstack data synth det3d --out data/synth_det3d
# Layout: <data_root>/training/{velodyne,label_2,calib,image_2}/<id>.*, <data_root>/ImageSets/{train,val}.txt and
# the ground-truth database (kitti_gt_database/, kitti_dbinfos_train.json) the writer builds from the training
# split. The CPU grid covers 40 m x 40 m in front of the sensor (0.2 m pillars: 200 x 200 cells); KITTI's
# evaluation counts the objects in the camera's view. Augmentation as MMDetection3D's KITTI PointPillars.
dataset_type = "KittiDataset"
data_root = "data/synth_det3d/"
class_names = ["Pedestrian", "Cyclist", "Car"]
metainfo = dict(classes=class_names)
point_cloud_range = [0, -20, -3, 40, 20, 1]
data_prefix = dict(
    pts="training/velodyne", img="training/image_2", label="training/label_2", calib="training/calib"
)
db_sampler = dict(
    data_root=data_root,
    info_path="kitti_dbinfos_train.json",
    rate=1.0,
    prepare=dict(filter_by_difficulty=[-1], filter_by_min_points=dict(Car=5, Pedestrian=5, Cyclist=5)),
    classes=class_names,
    sample_groups=dict(Car=12, Pedestrian=8, Cyclist=8),
    points_loader=dict(type="LoadPointsFromFile", coord_type="LIDAR", load_dim=4, use_dim=4),
)
train_pipeline = [
    dict(type="LoadPointsFromFile", coord_type="LIDAR", load_dim=4, use_dim=4),
    dict(type="LoadAnnotations3D", with_bbox_3d=True, with_label_3d=True),
    dict(type="ObjectSample", db_sampler=db_sampler),
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
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file="ImageSets/train.txt",
        data_prefix=data_prefix,
        pipeline=train_pipeline,
        metainfo=metainfo,
        test_mode=False,
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
