# SegFormer-B0 sized for a CPU on the synthetic scenes (write them first:
#   visionstack data synth segmentation --out data/synth_seg).
# The published MiT-B0 encoder and all-MLP head (256 channels), from scratch (no ImageNet weights here), AdamW
# with bfloat16 autocast, 128 x 128 crops, batch 8.
_base_ = [
    "../_base_/models/segformer_mit-b0.py",
    "../_base_/datasets/synth_seg.py",
    "../_base_/default_runtime.py",
    "../_base_/schedules/cpu_seg_adamw.py",
]
crop_size = (128, 128)
model = dict(data_preprocessor=dict(size=crop_size), decode_head=dict(num_classes=8))
train_cfg = dict(max_iters=1500, val_interval=500)
