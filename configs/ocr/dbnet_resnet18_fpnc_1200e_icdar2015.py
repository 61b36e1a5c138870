# DBNet with ResNet-18 + FPNC on ICDAR 2015 (MMOCR's dbnet_resnet18_fpnc_1200e_icdar2015, hmean 0.8169 with
# ImageNet weights): the official download layout at data_root (ch4_training_images/,
# ch4_training_localization_transcription_gt/, ch4_test_images/, Challenge4_Test_Task1_GT/), 640x640 training
# crops, test at 1333x736 (keep ratio), SGD 0.007 with a poly decay over 1200 epochs, batch 16.
# ImageNet weights: backbone.pretrained=<a local torchvision resnet18 .pth> (nothing is downloaded).
_base_ = ["../_base_/default_runtime.py"]
data_root = "data/icdar2015/"
dataset_type = "TextDetDataset"
model = dict(
    type="DBNet",
    backbone=dict(type="ResNet", depth=18, out_indices=(0, 1, 2, 3), frozen_stages=-1, norm_eval=False),
    neck=dict(type="FPNC", in_channels=[64, 128, 256, 512], lateral_channels=256, out_channels=64),
    det_head=dict(type="DBHead", in_channels=256, with_bias=False),
    module_loss=dict(
        type="DBModuleLoss", weight_prob=5.0, weight_thr=10.0, shrink_ratio=0.4, thr_min=0.3, thr_max=0.7
    ),
    test_cfg=dict(text_repr_type="quad"),
    data_preprocessor=dict(
        type="DataPreprocessor",
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32
    ),
)
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadOCRAnnotations", with_polygon=True, with_bbox=True, with_label=True),
    dict(type="FixInvalidPolygon", min_poly_points=4),
    dict(type="RandomFlip", prob=0.5),
    dict(type="RandomRotate", max_angle=10, pad_with_fixed_color=True, use_canvas=True),
    dict(type="RandomResize", scale=(1280, 720), ratio_range=(0.5, 3.0), keep_ratio=True),
    dict(type="TextDetRandomCrop", target_size=(640, 640)),
    dict(
        type="PhotoMetricDistortion",
        brightness_delta=32 // 2,
        contrast_range=(0.5, 1.5),
        saturation_range=(0.5, 1.5),
        hue_delta=18,
    ),
    dict(type="PackTextDetInputs", meta_keys=("img_path", "ori_shape", "img_shape", "scale_factor")),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=(1333, 736), keep_ratio=True),
    dict(type="LoadOCRAnnotations", with_polygon=True, with_bbox=True, with_label=True),
    dict(type="PackTextDetInputs", meta_keys=("img_path", "ori_shape", "img_shape", "scale_factor")),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_format="icdar2015",
        img_dir="ch4_training_images",
        ann_dir="ch4_training_localization_transcription_gt",
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
        type=dataset_type,
        data_root=data_root,
        ann_format="icdar2015",
        img_dir="ch4_test_images",
        ann_dir="Challenge4_Test_Task1_GT",
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
# MMOCR reports the best hmean of a score-threshold sweep; the sweep is reported as such (icdar/sweep_*)
val_evaluator = dict(type="HmeanIOUMetric", pred_score_thrs=dict(start=0.3, stop=0.9, step=0.1))
test_evaluator = val_evaluator
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=1200, val_interval=20)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=0.007, momentum=0.9, weight_decay=0.0001))
param_scheduler = [dict(type="PolyLR", power=0.9, eta_min=1e-7, end=1200, by_epoch=True)]
default_hooks = dict(checkpoint=dict(interval=20, max_keep_ckpts=2, save_best="icdar/hmean", rule="greater"))
