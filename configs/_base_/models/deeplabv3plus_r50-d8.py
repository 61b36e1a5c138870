# DeepLabV3+ (Chen et al. 2018) as MMSegmentation builds it: a dilated ResNet-50 with the deep stem (ResNetV1c,
# output stride 8), a depthwise-separable ASPP head on C5 (rates 12, 24, 36
# at output stride 8, image pooling) fused with the 48-channel projection of C2, and an auxiliary FCN head
# on C4 (loss weight 0.4). 19 classes (Cityscapes); a dataset config sets num_classes and the crop size.
# Everything but the decode head is the FCN base.
# Norm layers are BatchNorm (MMSeg uses SyncBN on 4 GPUs: model_wrapper_cfg=dict(type="DistributedModel",
# sync_bn=True) under torchrun).
_base_ = "fcn_r50-d8.py"
model = dict(
    decode_head=dict(
        _delete_=True,
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
)
