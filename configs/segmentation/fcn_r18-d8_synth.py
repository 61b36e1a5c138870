# FCN R-18-D8 sized for a CPU on the synthetic scenes (write them first:
#   visionstack data synth segmentation --out data/synth_seg).
# MMSeg's R-18 variant of FCN (deep-stem ResNet-18 at output stride 8, 128-channel head, 64-channel auxiliary
# head) from scratch, AdamW with bfloat16 autocast, 128 x 128 crops, batch 8.
_base_ = [
    "../_base_/models/fcn_r50-d8.py",
    "../_base_/datasets/synth_seg.py",
    "../_base_/default_runtime.py",
    "../_base_/schedules/cpu_seg_adamw.py",
]
crop_size = (128, 128)
model = dict(
    data_preprocessor=dict(size=crop_size),
    backbone=dict(depth=18),
    decode_head=dict(in_channels=512, channels=128, num_classes=8),
    auxiliary_head=dict(in_channels=256, channels=64, num_classes=8),
)
train_cfg = dict(max_iters=1500, val_interval=500)

# (N, H, W, C) weights and batches in test and infer runs only: 1.35x inference on CPU, but 1.01x training
# (benchmarks/speed_options.py, docs/results.md "Issue 13"); True would also train channels-last
channels_last = "inference"
