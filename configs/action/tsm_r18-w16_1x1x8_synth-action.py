# TSM (Lin et al. 2019) on the synthetic action videos, CPU-sized: a ResNet-18 of quarter width (16 base
# channels) on 8 segments of one 64x64 frame; a quarter of the channels (1/8 each way) shift one segment in
# time inside every residual branch. MMAction2's `1x1x8` sampling: 8 segments of 1 frame, interval 1.
_base_ = [
    "../_base_/datasets/synth_action.py",
    "../_base_/schedules/cpu_action_adamw.py",
    "../_base_/default_runtime.py",
]
num_segments = 8
data_root = "data/synth_action/"
model = dict(
    type="Recognizer2D",
    data_preprocessor=dict(
        type="ActionDataPreprocessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        format_shape="NCHW",
    ),
    backbone=dict(type="ResNetTSM", depth=18, base_channels=16, num_segments=num_segments, shift_div=8),
    cls_head=dict(
        type="TSMHead",
        num_classes=10,
        in_channels=128,
        num_segments=num_segments,
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
val_pipeline = [
    dict(type="PyAVInit"),
    dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=num_segments, test_mode=True),
    dict(type="PyAVDecode"),
    dict(type="ResizeEdge", scale=72, edge="short"),
    dict(type="CenterCrop", crop_size=64),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]
# TSM's test protocol (MMAction2's TSM configs, the paper's code): `twice_sample` adds the segments' starts to
# their centres, two views of 8 segments whose probabilities are averaged
test_pipeline = [
    dict(type="PyAVInit"),
    dict(
        type="SampleFrames",
        clip_len=1,
        frame_interval=1,
        num_clips=num_segments,
        twice_sample=True,
        test_mode=True,
    ),
    dict(type="PyAVDecode"),
    dict(type="ResizeEdge", scale=72, edge="short"),
    dict(type="CenterCrop", crop_size=64),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="VideoDataset",
        data_root=data_root,
        ann_file="val_list_videos.txt",
        data_prefix=dict(video=""),
        classes="classes.txt",
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
train_cfg = dict(max_epochs=25, val_interval=5)
