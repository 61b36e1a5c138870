# TSM, ResNet-50, Kinetics-400 (MMAction2's tsm_imagenet-pretrained-r50_8xb16-1x1x8-50e_kinetics400-rgb): 8
# segments, 1/8 of the channels shifted each way in every residual branch, TSN's 13 fixed multi-scale crops, 50
# epochs of SGD on 8 GPUs x 16 videos. Test: two views of the 8 segments the model was built for (twice_sample;
# the recognizer checks the count) x three 256-pixel crops. MMAction2 starts from ImageNet weights
# (model.backbone.pretrained: a local torchvision checkpoint; nothing is downloaded).
_base_ = ["../_base_/datasets/kinetics400_video.py", "../_base_/default_runtime.py"]
num_segments = 8
model = dict(
    type="Recognizer2D",
    data_preprocessor=dict(
        type="ActionDataPreprocessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        format_shape="NCHW",
    ),
    backbone=dict(type="ResNetTSM", depth=50, norm_eval=False, shift_div=8, num_segments=num_segments),
    cls_head=dict(
        type="TSMHead",
        num_classes=400,
        in_channels=2048,
        num_segments=num_segments,
        consensus=dict(type="AvgConsensus", dim=1),
        dropout_ratio=0.5,
        init_std=0.001,
        is_shift=True,
    ),
    test_cfg=dict(average_clips="prob"),
)
train_pipeline = [
    dict(type="DecordInit"),
    dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=num_segments),
    dict(type="DecordDecode"),
    dict(type="ResizeEdge", scale=256, edge="short"),
    dict(
        type="MultiScaleCrop",
        input_size=224,
        scales=(1, 0.875, 0.75, 0.66),
        random_crop=False,
        max_wh_scale_gap=1,
        num_fixed_crops=13,
    ),
    dict(type="Resize", scale=224),
    dict(type="RandomFlip", prob=0.5),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]
val_pipeline = [
    dict(type="DecordInit"),
    dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=num_segments, test_mode=True),
    dict(type="DecordDecode"),
    dict(type="ResizeEdge", scale=256, edge="short"),
    dict(type="CenterCrop", crop_size=224),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]
test_pipeline = [
    dict(type="DecordInit"),
    dict(
        type="SampleFrames", clip_len=1, frame_interval=1, num_clips=num_segments, twice_sample=True, test_mode=True
    ),
    dict(type="DecordDecode"),
    dict(type="ResizeEdge", scale=256, edge="short"),
    dict(type="ThreeCrop", crop_size=256),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]
train_dataloader = dict(batch_size=16, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=16, dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=50, val_interval=1)
val_cfg = dict()
test_cfg = dict()
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=True, begin=0, end=5),
    dict(type="MultiStepLR", by_epoch=True, begin=0, end=50, milestones=[25, 45], gamma=0.1),
]
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="SGD", lr=0.02, momentum=0.9, weight_decay=0.0001), clip_grad=dict(max_norm=20, norm_type=2)
)
