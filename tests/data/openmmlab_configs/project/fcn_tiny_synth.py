# An MMSegmentation-style FCN on the synthetic scenes: sizes are (h, w), SyncBN, a ResNetV1c.
default_scope = "mmseg"
norm_cfg = dict(type="SyncBN", requires_grad=True)
crop_size = (48, 64)
data_preprocessor = dict(
    type="SegDataPreProcessor",
    mean=[123.675, 116.28, 103.53],
    std=[58.395, 57.12, 57.375],
    bgr_to_rgb=True,
    pad_val=0,
    seg_pad_val=255,
    size=crop_size,
)
model = dict(
    type="EncoderDecoder",
    data_preprocessor=data_preprocessor,
    pretrained="open-mmlab://resnet18_v1c",
    backbone=dict(
        type="ResNetV1c",
        depth=18,
        num_stages=4,
        out_indices=(0, 1, 2, 3),
        dilations=(1, 1, 2, 4),
        strides=(1, 2, 1, 1),
        norm_cfg=norm_cfg,
        norm_eval=False,
        style="pytorch",
        contract_dilation=True,
    ),
    decode_head=dict(
        type="FCNHead",
        in_channels=512,
        in_index=3,
        channels=32,
        num_convs=1,
        concat_input=True,
        dropout_ratio=0.1,
        num_classes=8,
        norm_cfg=norm_cfg,
        align_corners=False,
        loss_decode=dict(type="CrossEntropyLoss", use_sigmoid=False, loss_weight=1.0),
    ),
    train_cfg=dict(),
    test_cfg=dict(mode="slide", crop_size=crop_size, stride=(32, 48)),
)
train_pipeline = [
    dict(type="LoadImageFromFile"),
    dict(type="LoadAnnotations"),
    dict(type="RandomCrop", crop_size=crop_size, cat_max_ratio=0.75),
    dict(type="PhotoMetricDistortion"),
    dict(type="PackSegInputs"),
]
train_dataloader = dict(
    batch_size=2,
    num_workers=0,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    dataset=dict(
        type="BaseSegDataset",
        data_root="data/synth_seg",
        data_prefix=dict(img_path="img_dir/train", seg_map_path="ann_dir/train"),
        img_suffix=".jpg",
        seg_map_suffix=".png",
        pipeline=train_pipeline,
    ),
)
train_cfg = dict(type="IterBasedTrainLoop", max_iters=2, val_interval=100)
optim_wrapper = dict(optimizer=dict(type="SGD", lr=0.01, momentum=0.9), clip_grad=None)
param_scheduler = [dict(type="PolyLR", eta_min=1e-4, power=0.9, begin=0, end=2, by_epoch=False)]
