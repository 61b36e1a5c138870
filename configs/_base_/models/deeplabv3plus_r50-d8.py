# DeepLabV3+ (Chen et al. 2018) as MMSegmentation builds it: a dilated ResNet-50 with the deep stem (ResNetV1c,
# output stride 8), a depthwise-separable ASPP head on C5 (rates 12, 24, 36
# at output stride 8, image pooling) fused with the 48-channel projection of C2, and an auxiliary FCN head
# on C4 (loss weight 0.4). 19 classes (Cityscapes); a dataset config sets num_classes and the crop size.
# Norm layers are BatchNorm (MMSeg uses SyncBN on 4 GPUs: model_wrapper_cfg=dict(type="DistributedModel",
# sync_bn=True) under torchrun).
crop_size = (1024, 512)
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
    backbone=dict(
        type="ResNet",
        depth=50,
        stem="deep",
        out_indices=(0, 1, 2, 3),
        strides=(1, 2, 1, 1),
        dilations=(1, 1, 2, 4),
    ),
    decode_head=dict(
        type="DepthwiseSeparableASPPHead",
        in_channels=2048,
        in_index=3,
        channels=512,
        dilations=(1, 12, 24, 36),
        c1_in_channels=256,
        c1_channels=48,
        dropout_ratio=0.1,
        num_classes=19,
        align_corners=False,
        loss_decode=dict(type="CrossEntropyLoss", avg_non_ignore=False, loss_weight=1.0),
    ),
    auxiliary_head=dict(
        type="FCNHead",
        in_channels=1024,
        in_index=2,
        channels=256,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=19,
        align_corners=False,
        loss_decode=dict(type="CrossEntropyLoss", avg_non_ignore=False, loss_weight=0.4),
    ),
    test_cfg=dict(mode="whole"),
)
