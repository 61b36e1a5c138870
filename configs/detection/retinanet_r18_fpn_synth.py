# RetinaNet sized for a CPU on the synthetic shapes (write them first:
#   visionstack data synth detection --out data/synth_det).
# ResNet-18 from scratch, C3-C5 -> a 4-level FPN (strides 8-64, 128 channels, P6 from C5), two convs per
# head tower instead of four, AdamW for 9 epochs at 256 px (bfloat16 autocast on the CPU). Assignment, losses
# and test settings are the paper's; the anchors are one octave smaller (octave base scale 2: 16-203 px instead
# of 32-406 px at strides 8-64), since at 256 px many shapes are smaller than 32 px.
_base_ = [
    "../_base_/datasets/synth_det.py",
    "../_base_/schedules/cpu_adamw_cosine.py",
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
    backbone=dict(type="ResNet", depth=18, out_indices=(1, 2, 3)),
    neck=dict(
        type="FPN", in_channels=[128, 256, 512], out_channels=128, num_outs=4, add_extra_convs="on_input"
    ),
    bbox_head=dict(
        type="RetinaHead",
        num_classes=5,
        in_channels=128,
        stacked_convs=2,
        feat_channels=128,
        anchor_generator=dict(
            type="AnchorGenerator",
            strides=[8, 16, 32, 64],
            ratios=[0.5, 1.0, 2.0],
            octave_base_scale=2,
            scales_per_octave=3,
        ),
        bbox_coder=dict(type="DeltaXYWHBBoxCoder", target_means=[0.0] * 4, target_stds=[1.0] * 4),
        loss_cls=dict(type="FocalLoss", gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type="L1Loss", loss_weight=1.0),
        assigner=dict(type="MaxIoUAssigner", pos_iou_thr=0.5, neg_iou_thr=0.4, min_pos_iou=0.0),
        sampler=dict(type="PseudoSampler"),
        test_cfg=dict(nms_pre=1000, score_thr=0.05, nms_iou_thr=0.5, max_per_img=100),
    ),
)

train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=9, val_interval=3)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=3, save_best="coco/bbox_mAP"))

# (N, H, W, C) weights and batches in test and infer runs only: 1.20x inference on CPU, but 1.05x training
# (benchmarks/speed_options.py, docs/results.md "Issue 13"); True would also train channels-last
channels_last = "inference"
