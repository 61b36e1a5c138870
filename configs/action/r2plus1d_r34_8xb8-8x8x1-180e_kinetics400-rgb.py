# R(2+1)D-34, Kinetics-400 from scratch (MMAction2's r2plus1d_r34_8xb8-8x8x1-180e_kinetics400-rgb): one clip of
# 8 frames every 8th, 180 epochs of SGD with a cosine schedule on 8 GPUs x 8 clips. Test: 10 clips x three
# 256-pixel crops, probabilities averaged over the 30 views.
_base_ = ["../_base_/datasets/kinetics400_video.py", "../_base_/default_runtime.py"]
model = dict(
    type="Recognizer3D",
    data_preprocessor=dict(
        type="ActionDataPreprocessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        format_shape="NCTHW",
    ),
    # MMAction2's norms: eps 1e-3 after each factorised convolution, BatchNorm's 1e-5 inside it
    backbone=dict(
        type="ResNet2Plus1d",
        depth=34,
        norm_layer=dict(type="torch.nn.BatchNorm3d", eps=1e-3, _partial_=True),
        mid_norm_layer=dict(type="torch.nn.BatchNorm3d", _partial_=True),
    ),
    cls_head=dict(type="I3DHead", num_classes=400, in_channels=512, dropout_ratio=0.5),
    test_cfg=dict(average_clips="prob"),
)
train_pipeline = [
    dict(type="DecordInit"),
    dict(type="SampleFrames", clip_len=8, frame_interval=8, num_clips=1),
    dict(type="DecordDecode"),
    dict(type="ResizeEdge", scale=256, edge="short"),
    dict(type="RandomResizedCrop", scale=224),
    dict(type="RandomFlip", prob=0.5),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs"),
]
val_pipeline = [
    dict(type="DecordInit"),
    dict(type="SampleFrames", clip_len=8, frame_interval=8, num_clips=1, test_mode=True),
    dict(type="DecordDecode"),
    dict(type="ResizeEdge", scale=256, edge="short"),
    dict(type="CenterCrop", crop_size=224),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs"),
]
test_pipeline = [
    dict(type="DecordInit"),
    dict(type="SampleFrames", clip_len=8, frame_interval=8, num_clips=10, test_mode=True),
    dict(type="DecordDecode"),
    dict(type="ResizeEdge", scale=256, edge="short"),
    dict(type="ThreeCrop", crop_size=256),
    dict(type="FormatShape", input_format="NCTHW"),
    dict(type="PackActionInputs"),
]
train_dataloader = dict(batch_size=8, dataset=dict(pipeline=train_pipeline))
val_dataloader = dict(batch_size=8, dataset=dict(pipeline=val_pipeline))
test_dataloader = dict(dataset=dict(pipeline=test_pipeline))
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=180, val_interval=5)
val_cfg = dict()
test_cfg = dict()
param_scheduler = [dict(type="CosineAnnealingLR", T_max=180, eta_min=0, by_epoch=True, begin=0, end=180)]
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.0001), clip_grad=dict(max_norm=40, norm_type=2)
)
