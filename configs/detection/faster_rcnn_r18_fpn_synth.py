# Faster R-CNN sized for a CPU on the synthetic shapes (write them first:
#   visionstack data synth detection --out data/synth_det).
# ResNet-18 from scratch, a 64-channel FPN (P2-P6), a 512-d two-fc box head, fewer proposals and sampled RoIs
# (the images are at most 256 px, 1/12 of COCO's anchors, and hold a few objects: 200 per level before NMS,
# 150 after, 128 RoIs per image), AdamW with bfloat16 autocast on the CPU for 5 epochs (~13 min on 2 cores).
# Everything else is the published model of _base_/models/faster_rcnn_r50_fpn.py (assignment, sampling
# fractions, losses, test post-processing), except that the anchors are one
# octave smaller (scale 4: 16 px at stride 4 up to 256 px at stride 64, instead of 32-512 px), because at
# 256 px many shapes are under 17 px, the smallest side a 32-px anchor still matches at IoU 0.3.
_base_ = [
    "../_base_/models/faster_rcnn_r50_fpn.py",
    "../_base_/datasets/synth_det.py",
    "../_base_/schedules/cpu_adamw_cosine.py",
    "../_base_/default_runtime.py",
]

model = dict(
    backbone=dict(_delete_=True, type="ResNet", depth=18, out_indices=(0, 1, 2, 3)),
    neck=dict(in_channels=[64, 128, 256, 512], out_channels=64),
    rpn_head=dict(
        in_channels=64,
        feat_channels=64,
        anchor_generator=dict(scales=[4]),
        train_proposal_cfg=dict(nms_pre=200, max_per_img=150),
        test_proposal_cfg=dict(nms_pre=300, max_per_img=300),
    ),
    roi_head=dict(
        bbox_roi_extractor=dict(out_channels=64),
        bbox_head=dict(num_classes=5, in_channels=64, fc_out_channels=512),
        sampler=dict(num=128),
    ),
)

train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=5, val_interval=5)
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=5, save_best="coco/bbox_mAP"))

# (N, H, W, C) weights and batches in test and infer runs only: 2.34x inference on CPU, but 0.59x training
# (benchmarks/speed_options.py, docs/results.md "Issue 13"); True would also train channels-last
channels_last = "inference"
