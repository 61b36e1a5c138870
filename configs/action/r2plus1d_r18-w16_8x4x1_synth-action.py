# R(2+1)D (Tran et al. 2018) on the synthetic action videos, CPU-sized: an R(2+1)D-18 of quarter width (16 base
# channels) on one clip of 8 frames of 64x64, every 4th frame (MMAction2's `8x4x1`: clip_len 8, interval 4,
# one clip), covering the whole 32-frame video. Every 3x3x3 convolution is a 1x3x3 spatial one and a 3x1x1
# temporal one, with the paper's middle width.
_base_ = [
    "../_base_/datasets/synth_action.py",
    "../_base_/schedules/cpu_action_adamw.py",
    "../_base_/default_runtime.py",
]
model = dict(
    type="Recognizer3D",
    data_preprocessor=dict(
        type="ActionDataPreprocessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        format_shape="NCTHW",
    ),
    backbone=dict(type="ResNet2Plus1d", depth=18, base_channels=16),
    cls_head=dict(type="I3DHead", num_classes=10, in_channels=128, dropout_ratio=0.3),
    test_cfg=dict(average_clips="prob"),
)
train_pipeline = [
    dict(type="PyAVInit"),
    dict(type="SampleFrames", clip_len=8, frame_interval=4, num_clips=1),
    dict(type="PyAVDecode"),
    dict(type="RandomResizedCrop", scale=64, crop_ratio_range=(0.6, 1.0), aspect_ratio_range=(0.8, 1.25)),
    dict(type="ColorJitter", brightness=0.2, contrast=0.2, saturation=0.2),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs"),
]
test_pipeline = [
    dict(type="PyAVInit"),
    dict(type="SampleFrames", clip_len=8, frame_interval=4, num_clips=1, test_mode=True),
    dict(type="PyAVDecode"),
    dict(type="ResizeEdge", scale=72, edge="short"),
    dict(type="CenterCrop", crop_size=64),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs"),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=15, val_interval=5)
