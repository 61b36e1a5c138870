# TSN (Wang et al. 2016) on the synthetic action videos, CPU-sized: the same quarter-width ResNet-18 and
# 8-segment sampling as the TSM config, but no temporal modelling: each segment is seen alone and the
# average consensus of the segments' scores ignores their order, so it stays near chance within each
# time-reversed pair (move left vs right, ...).
_base_ = [
    "../_base_/datasets/synth_action.py",
    "../_base_/schedules/cpu_action_adamw.py",
    "../_base_/default_runtime.py",
]
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
    backbone=dict(type="ResNet", depth=18, base_channels=16),
    cls_head=dict(
        type="TSNHead",
        num_classes=10,
        in_channels=128,
        consensus=dict(type="AvgConsensus", dim=1),
        dropout_ratio=0.3,
        init_std=0.01,
    ),
    test_cfg=dict(average_clips="prob"),
)
train_pipeline = [
    dict(type="PyAVInit"),
    dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=num_segments),
    dict(type="PyAVDecode"),
    dict(type="RandomResizedCrop", scale=64, crop_ratio_range=(0.6, 1.0), aspect_ratio_range=(0.8, 1.25)),
    dict(type="ColorJitter", brightness=0.2, contrast=0.2, saturation=0.2),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]
test_pipeline = [
    dict(type="PyAVInit"),
    dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=num_segments, test_mode=True),
    dict(type="PyAVDecode"),
    dict(type="ResizeEdge", scale=72, edge="short"),
    dict(type="CenterCrop", crop_size=64),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader
train_cfg = dict(max_epochs=25, val_interval=5)
