# RetinaNet R-50-FPN 1x on COCO (Lin et al., ICCV 2017), MMDetection 3.x's retinanet_r50_fpn_1x_coco:
# ResNet-50 (stem and stage 1 frozen, frozen BN statistics), FPN on C3-C5 with P6/P7 from C5, 4-conv
# 256-channel towers, 9 anchors per position, focal + L1 losses, SGD lr 0.01 for a batch of 16.
# The backbone should start from ImageNet weights: set model.backbone.pretrained to a local torchvision
# resnet50 checkpoint (nothing is downloaded).
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
        add_extra_convs="on_input",
        num_outs=5,
    ),
    bbox_head=dict(
        type="RetinaHead",
        num_classes=80,
        in_channels=256,
        stacked_convs=4,
        feat_channels=256,
        anchor_generator=dict(
            type="AnchorGenerator",
            strides=[8, 16, 32, 64, 128],
            ratios=[0.5, 1.0, 2.0],
            octave_base_scale=4,
            scales_per_octave=3,
        ),
        bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[1.0] * 4),
        loss_cls=dict(type="FocalLoss", gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type="L1Loss", loss_weight=1.0),
        assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0.0),
        sampler=dict(type="PseudoSampler"),
        test_cfg=dict(nms_pre=1000, min_bbox_size=0, score_thr=0.05, nms_iou_thr=0.5, max_per_img=100),
    ),
)
optim_wrapper = dict(optimizer=dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0001))
