# Faster R-CNN sized for a CPU on the synthetic shapes (write them first:
#   visionstack data synth detection --out data/synth_det).
# ResNet-18 from scratch, a 64-channel FPN (P2-P6), a 512-d two-fc box head, fewer proposals and sampled RoIs
# (the images are at most 256 px, 1/12 of COCO's anchors, and hold a few objects: 200 per level before NMS,
# 150 after, 128 RoIs per image), AdamW with bfloat16 autocast on the CPU for 5 epochs (~13 min on 2 cores). Assignment, sampling
# fractions, losses and test post-processing are those of the published Faster R-CNN FPN; the anchors are one
# octave smaller (scale 4: 16 px at stride 4 up to 256 px at stride 64, instead of 32-512 px), because at
# 256 px many shapes are under 17 px, the smallest side a 32-px anchor still matches at IoU 0.3.
_base_ = ["../_base_/datasets/synth_det.py", "../_base_/default_runtime.py"]

model = dict(
    type="FasterRCNN",
    data_preprocessor=dict(
        type="DetDataPreprocessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
        pad_size_divisor=32,
    ),
    backbone=dict(type="ResNet", depth=18, out_indices=(0, 1, 2, 3)),
    neck=dict(type="FPN", in_channels=[64, 128, 256, 512], out_channels=64, num_outs=5),
    rpn_head=dict(
        type="RPNHead",
        in_channels=64,
        feat_channels=64,
        anchor_generator=dict(
            type="AnchorGenerator", scales=[4], ratios=[0.5, 1.0, 2.0], strides=[4, 8, 16, 32, 64]
        ),
        bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[1.0] * 4),
        loss_cls=dict(type="BCEWithLogitsLoss", loss_weight=1.0),
        loss_bbox=dict(type="L1Loss", loss_weight=1.0),
        assigner=dict(
            type="MaxIoUAssigner", pos_iou_thr=0.7, neg_iou_thr=0.3, min_pos_iou=0.3, match_low_quality=True
        ),
        sampler=dict(type="RandomSampler", num=256, pos_fraction=0.5, add_gt_as_proposals=False),
        train_proposal_cfg=dict(nms_pre=200, max_per_img=150, nms_iou_thr=0.7, min_bbox_size=0),
        test_proposal_cfg=dict(nms_pre=300, max_per_img=300, nms_iou_thr=0.7, min_bbox_size=0),
    ),
    roi_head=dict(
        type="StandardRoIHead",
        bbox_roi_extractor=dict(
            type="SingleRoIExtractor",
            output_size=7,
            sampling_ratio=0,
            out_channels=64,
            featmap_strides=[4, 8, 16, 32],
        ),
        bbox_head=dict(
            type="Shared2FCBBoxHead",
            num_classes=5,
            in_channels=64,
            fc_out_channels=512,
            roi_feat_size=7,
            bbox_coder=dict(
                type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[0.1, 0.1, 0.2, 0.2]
            ),
            loss_cls=dict(type="CrossEntropyLoss", loss_weight=1.0),
            loss_bbox=dict(type="L1Loss", loss_weight=1.0),
        ),
        assigner=dict(
            type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.5, min_pos_iou=0.5, match_low_quality=False
        ),
        sampler=dict(type="RandomSampler", num=128, pos_fraction=0.25, add_gt_as_proposals=True),
        test_cfg=dict(score_thr=0.05, nms_iou_thr=0.5, max_per_img=100),
    ),
)

optim_wrapper = dict(
    type="AmpOptimWrapper",
    optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=35.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type="CosineAnnealingLR", by_epoch=True, begin=0, eta_min=1e-5),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=5, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=5, save_best="coco/bbox_mAP"))
