# The TSM config on raw frames instead of videos: the synthetic set written with `--rawframes`
# (rawframes_train/000000/img_00001.jpg ..., list files "frame_dir total_frames label", MMAction2's layout and
# 1-based frame files). Only the dataset and the decoder differ from tsm_r18-w16_1x1x8_synth-action.py.
_base_ = ["./tsm_r18-w16_1x1x8_synth-action.py"]
num_segments = 8
data_root = "data/synth_action/"
train_pipeline = [
    dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=num_segments),
    dict(type="RawFrameDecode"),
    dict(type="RandomResizedCrop", scale=64, crop_ratio_range=(0.6, 1.0), aspect_ratio_range=(0.8, 1.25)),
    dict(type="ColorJitter", brightness=0.2, contrast=0.2, saturation=0.2),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]
test_pipeline = [
    dict(type="SampleFrames", clip_len=1, frame_interval=1, num_clips=num_segments, test_mode=True),
    dict(type="RawFrameDecode"),
    dict(type="ResizeEdge", scale=72, edge="short"),
    dict(type="CenterCrop", crop_size=64),
    dict(type="FormatShape", input_format="NCHW"),
    dict(type="PackActionInputs"),
]
train_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type="RawframeDataset",
        data_root=data_root,
        ann_file="train_list_rawframes.txt",
        data_prefix=dict(img=""),
        classes="classes.txt",
        pipeline=train_pipeline,
    )
)
val_dataloader = dict(
    dataset=dict(
        _delete_=True,
        type="RawframeDataset",
        data_root=data_root,
        ann_file="val_list_rawframes.txt",
        data_prefix=dict(img=""),
        classes="classes.txt",
        pipeline=test_pipeline,
        test_mode=True,
    )
)
test_dataloader = val_dataloader
