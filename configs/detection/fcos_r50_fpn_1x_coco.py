# FCOS R-50-FPN 1x on COCO (Tian et al., ICCV 2019), after MMDetection 3.x's
# fcos_r50-caffe_fpn_gn-head_1x_coco: FPN on C3-C5 with P6/P7 from P5 (ReLU before P7), 4-conv
# 256-channel GroupNorm towers, focal + IoU + centerness losses, SGD lr 0.01 with bias lr x2 and no bias
# decay, a constant 1/3 warm-up for 500 iterations, gradient clipping at 35.
# Differences from that config (deliberate): the backbone is the PyTorch-style ResNet-50 (stride on the 3x3
# conv) that torchvision's ImageNet weights need, so the images use torchvision's mean/std in RGB; set
# model.backbone.pretrained to a local torchvision resnet50 checkpoint (nothing is downloaded). To run
# MMDetection's own FCOS checkpoints (converted), switch to its Caffe variant: model.backbone.style="caffe"
# and data_preprocessor mean=[102.9801, 115.9465, 122.7717], std=[1.0, 1.0, 1.0], bgr_to_rgb=False (the
# keys are the same, so the wrong style would load silently and compute other features).
# For the improved recipe (FCOS "tricks") set
# center_sampling=True, norm_on_bbox=True, centerness_on_reg=True and loss_bbox=dict(type="GIoULoss").
_base_ = [
    "../_base_/datasets/coco_detection.py",
    "../_base_/schedules/schedule_1x.py",
    "../_base_/default_runtime.py",
]

model = dict(
    type="SingleStageDetector",
    data_preprocessor=dict(
        type="DetDataPreprocessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32,
    ),
    backbone=dict(type="ResNet", depth=50, out_indices=(0, 1, 2, 3), frozen_stages=1, norm_eval=True),
    neck=dict(
        type="FPN",
        in_channels=[256, 512, 1024, 2048],
        out_channels=256,
        start_level=1,
        add_extra_convs="on_output",
        num_outs=5,
        relu_before_extra_convs=True,
    ),
    bbox_head=dict(
        type="FCOSHead",
        num_classes=80,
        in_channels=256,
        stacked_convs=4,
        feat_channels=256,
        strides=[8, 16, 32, 64, 128],
        norm_layer=dict(type="GroupNorm", _partial_=True, num_groups=32),
        loss_cls=dict(type="FocalLoss", gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type="IoULoss", loss_weight=1.0),
        loss_centerness=dict(type="BCEWithLogitsLoss", loss_weight=1.0),
        test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05, nms_iou_thr=0.5, max_per_img=100),
    ),
)
optim_wrapper = dict(
    optimizer=dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0001),
    paramwise_cfg=dict(bias_lr_mult=2.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=35.0, norm_type=2),
)
param_scheduler = [
    dict(type="ConstantLR", factor=1.0 / 3, by_epoch=False, begin=0, end=500),
    dict(type="MultiStepLR", begin=0, end=12, by_epoch=True, milestones=[8, 11], gamma=0.1),
]
