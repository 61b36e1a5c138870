# UNet (Ronneberger et al. 2015) as MMSegmentation builds it (UNet-S5-D16): a 5-stage encoder-decoder of
# 64-1024 channels with skip connections, an FCN head (one 3x3 conv) on the full-resolution decoder output and
# an auxiliary FCN head on the one below (loss weight 0.4). Inputs must be multiples of 16 (the crop is).
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
        type="UNet",
        in_channels=3,
        base_channels=64,
        num_stages=5,
        strides=(1, 1, 1, 1, 1),
        enc_num_convs=(2, 2, 2, 2, 2),
        dec_num_convs=(2, 2, 2, 2),
        downsamples=(True, True, True, True),
        enc_dilations=(1, 1, 1, 1, 1),
        dec_dilations=(1, 1, 1, 1),
    ),
    decode_head=dict(
        type="FCNHead",
        in_channels=64,
        in_index=4,
        channels=64,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=19,
        align_corners=False,
        loss_decode=dict(type="CrossEntropyLoss", avg_non_ignore=False, loss_weight=1.0),
    ),
    auxiliary_head=dict(
        type="FCNHead",
        in_channels=128,
        in_index=3,
        channels=64,
        num_convs=1,
        concat_input=False,
        dropout_ratio=0.1,
        num_classes=19,
        align_corners=False,
        loss_decode=dict(type="CrossEntropyLoss", avg_non_ignore=False, loss_weight=0.4),
    ),
    test_cfg=dict(mode="whole"),
)
