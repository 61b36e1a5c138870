# Cityscapes (19 train-id classes) in its own layout: <data_root>/leftImg8bit/{train,val}/<city>/*_leftImg8bit.png
# and <data_root>/gtFine/{train,val}/<city>/*_gtFine_labelTrainIds.png (made by cityscapesscripts'
# createTrainIdLabelImgs; 255 = ignore). Training: rescale 0.5-2.0 around 2048 x 1024, a 1024 x 512 crop (no
# class above 75 %), flip, photometric distortion; 2 images per GPU. Testing: the full 2048 x 1024 image.
data_root = "data/cityscapes/"
crop_size = (1024, 512)
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadAnnotations"),
    dict(type="RandomResize", scale=(2048, 1024), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type="RandomCrop", crop_size=crop_size, cat_max_ratio=0.75),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PhotoMetricDistortion", swap_channels=False),  # MMSeg: no channel swap
    dict(type="PackSegInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=(2048, 1024), keep_ratio=True),
    dict(type="LoadAnnotations"),
    dict(type="PackSegInputs"),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="CityscapesDataset",
        data_root=data_root,
        data_prefix=dict(img_path="leftImg8bit/train", seg_map_path="gtFine/train"),
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
        type="CityscapesDataset",
        data_root=data_root,
        data_prefix=dict(img_path="leftImg8bit/val", seg_map_path="gtFine/val"),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="IoUMetric", iou_metrics=["mIoU"])
test_evaluator = val_evaluator
