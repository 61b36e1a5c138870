# Mask R-CNN sized for a CPU on the synthetic shapes (write them first:
#   visionstack data synth detection --out data/synth_det).
# The CPU Faster R-CNN of faster_rcnn_r18_fpn_synth.py plus the 4-conv FCN mask head (64 channels) on
# 14x14 RoIAlign features; the metric reports box and mask AP.
_base_ = ["./faster_rcnn_r18_fpn_synth.py", "../_base_/models/mask_rcnn_mask_head.py"]

model = dict(
    roi_head=dict(
        mask_roi_extractor=dict(out_channels=64),
        mask_head=dict(in_channels=64, conv_out_channels=64, num_classes=5),
    ),
)
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="Resize", scale=(256, 256), keep_ratio=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
# With masks an iteration takes ~0.95 s instead of ~0.6 s, so 3 epochs instead of 5 keep training under 15 minutes.
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=3, val_interval=3)
default_hooks = dict(checkpoint=dict(interval=3))

# (N, H, W, C) weights and batches in test and infer runs only: 1.26x inference on CPU, but 0.95x training
# (benchmarks/speed_options.py, docs/results.md "Issue 13"); True would also train channels-last
channels_last = "inference"
