# TSN, ResNet-50, Kinetics-400 (MMAction2's tsn_imagenet-pretrained-r50_8xb32-1x1x3-100e_kinetics400-rgb):
# 3 segments of 1 frame, TSN's multi-scale corner crops, 100 epochs of SGD on 8 GPUs x 32 videos. Test: 25
# segments x ten crops, probabilities averaged over the 250 views. MMAction2 starts from ImageNet weights:
# set model.backbone.pretrained to a local torchvision resnet50 checkpoint (nothing is downloaded).
_base_ = ["../_base_/datasets/kinetics400_video.py", "../_base_/default_runtime.py"]
model = dict(
    type="Recognizer2D",
    data_preprocessor=dict(
        type="ActionDataPreprocessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        format_shape="NCHW",
    ),
    backbone=dict(type="ResNet", depth=50, norm_eval=False),
    cls_head=dict(
        type="TSNHead",
        num_classes=400,
        in_channels=2048,
        consensus=dict(type="AvgConsensus", dim=1),
        dropout_ratio=0.4,
        init_std=0.01,
    ),
    test_cfg=dict(average_clips="prob"),
)
train_pipeline = [
    dict(type="DecordInit"),
    dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=3),
    dict(type="DecordDecode"),
    dict(type="ResizeEdge", scale=256, edge="short"),
    dict(type="MultiScaleCrop", input_size=224, scales=(1, 0.875, 0.75, 0.66), random_crop=False, max_wh_scale_gap=1),
    dict(type="Resize", scale=224),
    dict(type="RandomFlip", prob=0.5),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]
val_pipeline = [
    dict(type="DecordInit"),
    dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=3, test_mode=True),
    dict(type="DecordDecode"),
    dict(type="ResizeEdge", scale=256, edge="short"),
    dict(type="CenterCrop", crop_size=224),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]
test_pipeline = [
    dict(type="DecordInit"),
    dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=25, test_mode=True),
    dict(type="DecordDecode"),
    dict(type="ResizeEdge", scale=256, edge="short"),
    dict(type="TenCrop", crop_size=224),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=100, val_interval=1)
val_cfg = dict()
test_cfg = dict()
param_scheduler = [dict(type="MultiStepLR", by_epoch=True, milestones=[40, 80], gamma=0.1)]
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0001), clip_grad=dict(max_norm=40, norm_type=2)
)
