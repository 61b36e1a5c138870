# The synthetic shapes dataset (5 classes: circle, square, triangle, star, cross), COCO format, written by
#   visionstack data synth detection --out data/synth_det
# Layout: <data_root>/annotations/instances_{train,val}.json, <data_root>/{train,val}/*.png; image sides
# are 128-256 px, so resizing to fit 256x256 keeps the CPU cost small.
data_root = "data/synth_det/"
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="Resize", scale=(256, 256), keep_ratio=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=(256, 256), keep_ratio=True),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="CocoDataset",
        data_root=data_root,
        ann_file="annotations/instances_train.json",
        data_prefix=dict(img="train/"),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="CocoDataset",
        data_root=data_root,
        ann_file="annotations/instances_val.json",
        data_prefix=dict(img="val/"),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="CocoMetric", ann_file=data_root + "annotations/instances_val.json", metric="bbox")
test_evaluator = val_evaluator
