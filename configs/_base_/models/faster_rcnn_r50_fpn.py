# Faster R-CNN R-50-FPN as published (Ren et al., NeurIPS 2015; FPN: Lin et al., CVPR 2017), with
# MMDetection 3.x's settings: ResNet-50 (stem and stage 1 frozen, frozen BN statistics), FPN P2-P6, RPN with
# 3 anchors per position, a 2-fc RoI box head, 80 COCO classes. Configs list it in `_base_` and override what
# they change.
model = dict(
    type="FasterRCNN",
    data_preprocessor=dict(
        type="DetDataPreprocessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32,
    ),
    backbone=dict(type="ResNet", depth=50, out_indices=(0, 1, 2, 3), frozen_stages=1, norm_eval=True),
    neck=dict(type="FPN", in_channels=[256, 512, 1024, 2048], out_channels=256, num_outs=5),
    rpn_head=dict(
        type="RPNHead",
        in_channels=256,
        feat_channels=256,
        anchor_generator=dict(
            type="AnchorGenerator", scales=[8], ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32, 64]
        ),
        bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[1.0] * 4),
        loss_cls=dict(type="BCEWithLogitsLoss", loss_weight=1.0),
        loss_bbox=dict(type="L1Loss", loss_weight=1.0),
        assigner=dict(
            type="MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3, match_low_quality=True
        ),
        sampler=dict(type="RandomSampler", num=256, pos_fraction=0.5, add_gt_as_proposals=False),
        train_proposal_cfg=dict(nms_pre=2000, max_per_img=1000, nms_iou_thr=0.7, min_bbox_size=0),
        test_proposal_cfg=dict(nms_pre=1000, max_per_img=1000, nms_iou_thr=0.7, min_bbox_size=0),
    ),
    roi_head=dict(
        type="StandardRoIHead",
        bbox_roi_extractor=dict(
            type="SingleRoIExtractor",
            output_size=7,
            sampling_ratio=0,
            out_channels=256,
            featmap_strides=[4, 8, 16, 32],
        ),
        bbox_head=dict(
            type="Shared2FCBBoxHead",
            num_classes=80,
            in_channels=256,
            fc_out_channels=1024,
            roi_feat_size=7,
            bbox_coder=dict(
                type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[0.1, 0.1, 0.2, 0.2]
            ),
            reg_class_agnostic=False,
            loss_cls=dict(type="CrossEntropyLoss", loss_weight=1.0),
            loss_bbox=dict(type="L1Loss", loss_weight=1.0),
        ),
        assigner=dict(
            type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5, match_low_quality=False
        ),
        sampler=dict(type="RandomSampler", num=512, pos_fraction=0.25, add_gt_as_proposals=True),
        test_cfg=dict(score_thr=0.05, nms_iou_thr=0.5, max_per_img=100),
    ),
)
