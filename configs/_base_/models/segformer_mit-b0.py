# SegFormer-B0 (Xie et al. 2021) as MMSegmentation builds it: the MiT-B0 encoder (overlapping patch
# embeddings, efficient self-attention with spatial reduction 8/4/2/1, Mix-FFN) and the all-MLP head that
# projects the four stages to 256 channels, upsamples them to 1/4 and fuses them. 150 classes (ADE20K).
crop_size = (512, 512)
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
        type="MixVisionTransformer",
        in_channels=3,
        embed_dims=32,
        num_stages=4,
        num_layers=(2, 2, 2, 2),
        num_heads=(1, 2, 5, 8),
        patch_sizes=(7, 3, 3, 3),
        sr_ratios=(8, 4, 2, 1),
        out_indices=(0, 1, 2, 3),
        mlp_ratio=4,
        qkv_bias=True,
        drop_rate=0.0,
        attn_drop_rate=0.0,
        drop_path_rate=0.1,
    ),
    decode_head=dict(
        type="SegformerHead",
        in_channels=[32, 64, 160, 256],
        in_index=[0, 1, 2, 3],
        channels=256,
        dropout_ratio=0.1,
        num_classes=150,
        align_corners=False,
        loss_decode=dict(type="CrossEntropyLoss", avg_non_ignore=False, loss_weight=1.0),
    ),
    test_cfg=dict(mode="whole"),
)
