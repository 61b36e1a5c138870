# RTMDet-tiny as published (Lyu et al. 2022; MMDetection 3.x's rtmdet_tiny): CSPNeXt (deepen 0.167, widen
# 0.375) + CSPNeXt-PAFPN (96 channels, 1 block) + shared-conv separate-BN head, dynamic soft-label assignment
# (top-k 13), QFL (weight 1) + GIoU (weight 2), 80 COCO classes, plain BatchNorm. Configs list it in `_base_`
# and override what they change (classes, norm layers).
model = dict(
    type="RTMDet",
    data_preprocessor=dict(
        type="DetDataPreprocessor",
        mean=[103.53, 116.28, 123.675],
        std=[57.375, 57.12, 58.395],
        bgr_to_rgb=False,
        pad_size_divisor=32,
    ),
    backbone=dict(
        type="CSPNeXt",
        arch="P5",
        deepen_factor=0.167,
        widen_factor=0.375,
        expand_ratio=0.5,
        channel_attention=True,
    ),
    neck=dict(type="CSPNeXtPAFPN", in_channels=[96, 192, 384], out_channels=96, num_csp_blocks=1, expand_ratio=0.5),
    bbox_head=dict(
        type="RTMDetSepBNHead",
        num_classes=80,
        in_channels=96,
        feat_channels=96,
        stacked_convs=2,
        share_conv=True,
        pred_kernel_size=1,
        exp_on_reg=False,
        prior_generator=dict(type="MlvlPointGenerator", strides=[8, 16, 32], offset=0),
        bbox_coder=dict(type="DistancePointBBoxCoder"),
        assigner=dict(type="DynamicSoftLabelAssigner", topk=13),
        loss_cls=dict(type="QualityFocalLoss", use_sigmoid=True, beta=2.0, loss_weight=1.0),
        loss_bbox=dict(type="GIoULoss", loss_weight=2.0),
        test_cfg=dict(nms_pre=30000, score_thr=0.001, nms_iou_thr=0.65, max_per_img=300, min_bbox_size=0),
    ),
)
