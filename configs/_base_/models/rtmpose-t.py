# RTMPose-t as published (Jiang et al. 2023; MMPose's rtmpose-t_8xb256-420e_coco-256x192): CSPNeXt-t (deepen
# 0.167, widen 0.375, last stage only, SyncBN's norm defaults) + RTMCC head (7x7 conv, gated attention unit of 256
# hidden dims, SimCC with split ratio 2 and sigma (4.9, 5.66) for 192x256, KL-divergence loss with beta 10 and label
# softmax), flip test with COCO's flip pairs. Configs list it in `_base_` and override widths and sizes.
input_size = (192, 256)
codec = dict(
    type="SimCCLabel", input_size=input_size, sigma=(4.9, 5.66), simcc_split_ratio=2.0, normalize=False
)
model = dict(
    type="TopdownPoseEstimator",
    data_preprocessor=dict(
        type="DataPreprocessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True
    ),
    backbone=dict(
        type="CSPNeXt",
        arch="P5",
        deepen_factor=0.167,
        widen_factor=0.375,
        expand_ratio=0.5,
        out_indices=(4,),
        channel_attention=True,
        # SyncBN's defaults (momentum 0.1, eps 1e-5) as RTMPose trains, not RTMDet's (0.03, 1e-3)
        norm_layer=dict(type="torch.nn.BatchNorm2d", _partial_=True),
    ),
    head=dict(
        type="RTMCCHead",
        in_channels=384,
        out_channels=17,
        input_size=input_size,
        in_featuremap_size=(input_size[0] // 32, input_size[1] // 32),
        simcc_split_ratio=2.0,
        final_layer_kernel_size=7,
        gau_cfg=dict(
            hidden_dims=256,
            s=128,
            expansion_factor=2,
            dropout_rate=0.0,
            drop_path=0.0,
            act_fn="SiLU",
            use_rel_bias=False,
            pos_enc=False,
        ),
        loss=dict(type="KLDiscretLoss", use_target_weight=True, beta=10.0, label_softmax=True),
        decoder=codec,
    ),
    test_cfg=dict(flip_test=True, flip_indices=[0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15]),
)
