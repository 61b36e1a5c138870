# FCOS sized for a CPU on the synthetic shapes (write them first:
#   visionstack data synth detection --out data/synth_det).
# ResNet-18 from scratch, C3-C5 -> a 4-level FPN (strides 8-64, 128 channels, P6 from P5), two GroupNorm
# convs per tower, the improved FCOS recipe (center sampling, distances normalised by the stride,
# centerness on the regression branch, GIoU loss), AdamW for 9 epochs at 256 px with bfloat16 autocast on the
# CPU (AMX makes it twice as fast as float32; about 14 min on 2 cores). The last level takes
# every object above 256 px (the images are at most 256 px).
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
        type="FPN",
        in_channels=[128, 256, 512],
        out_channels=128,
        num_outs=4,
        add_extra_convs="on_output",
        relu_before_extra_convs=True,
    ),
    bbox_head=dict(
        type="FCOSHead",
        num_classes=5,
        in_channels=128,
        stacked_convs=2,
        feat_channels=128,
        strides=[8, 16, 32, 64],
        regress_ranges=[(-1, 64), (64, 128), (128, 256), (256, 1e8)],
        center_sampling=True,
        center_sample_radius=1.5,
        norm_on_bbox=True,
        centerness_on_reg=True,
        norm_layer=dict(type="GroupNorm", _partial_=True, num_groups=32),
        loss_cls=dict(type="FocalLoss", gamma=2.0, alpha=0.25, loss_weight=1.0),
        loss_bbox=dict(type="GIoULoss", loss_weight=1.0),
        loss_centerness=dict(type="BCEWithLogitsLoss", loss_weight=1.0),
        test_cfg=dict(nms_pre=1000, score_thr=0.05, nms_iou_thr=0.5, max_per_img=100),
    ),
)

train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=9, val_interval=3)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=3, save_best="coco/bbox_mAP"))

# (N, H, W, C) weights and batches in test and infer runs only: 2.38x inference on CPU, but 0.57x (GroupNorm) training
# (benchmarks/speed_options.py, docs/results.md "Issue 13"); True would also train channels-last
channels_last = "inference"
