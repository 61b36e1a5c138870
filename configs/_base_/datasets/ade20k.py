# ADE20K (SceneParsing, 150 classes) in MMSegmentation's layout: <data_root>/images/{training,validation}/*.jpg
# and <data_root>/annotations/{training,validation}/*.png (0 = "other", so reduce_zero_label: 0 -> 255 ignore,
# k -> k - 1). Training: rescale 0.5-2.0 around 2048 x 512, a 512 x 512 crop (no class above 75 %), flip,
# photometric distortion; 4 images per GPU. Testing: resize to fit 2048 x 512. Sizes are (w, h).
data_root = "data/ade/ADEChallengeData2016/"
crop_size = (512, 512)
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadAnnotations", reduce_zero_label=True),
    dict(type="RandomResize", scale=(2048, 512), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type="RandomCrop", crop_size=crop_size, cat_max_ratio=0.75),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PhotoMetricDistortion", swap_channels=False),  # MMSeg: no channel swap
    dict(type="PackSegInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=(2048, 512), keep_ratio=True),
    dict(type="LoadAnnotations", reduce_zero_label=True),
    dict(type="PackSegInputs"),
]
train_dataloader = dict(
    batch_size=4,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="ADE20KDataset",
        data_root=data_root,
        data_prefix=dict(img_path="images/training", seg_map_path="annotations/training"),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="ADE20KDataset",
        data_root=data_root,
        data_prefix=dict(img_path="images/validation", seg_map_path="annotations/validation"),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="IoUMetric", iou_metrics=["mIoU"])
test_evaluator = val_evaluator
