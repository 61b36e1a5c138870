# The synthetic shapes dataset (5 classes: circle, square, triangle, star, cross), COCO format, written by
#   visionstack data synth detection --out data/synth_det
# Layout: <data_root>/annotations/instances_{train,val}.json, <data_root>/{train,val}/*.png; image sides
# are 128-256 px, so resizing to fit 256x256 keeps the CPU cost small. Everything else is COCO's.
_base_ = "coco_detection.py"
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
    dataset=dict(
        ann_file="annotations/instances_train.json",
        data_prefix=dict(img="train/"),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
    ),
)
val_dataloader = dict(
    batch_size=8,
    dataset=dict(ann_file="annotations/instances_val.json", data_prefix=dict(img="val/")),
)
val_evaluator = dict(ann_file=data_root + "annotations/instances_val.json")
test_evaluator = val_evaluator
