# UNet-S5-D16 + FCN head sized for a CPU on the synthetic scenes (write them first:
#   visionstack data synth segmentation --out data/synth_seg).
# The published five-stage UNet with 16 base channels instead of 64 (16-256 channels, 1/16 of the compute),
# from scratch, AdamW with bfloat16 autocast, 128 x 128 crops (multiples of 16), batch 8. Measured on the
# synthetic set: the plain (non-residual) 16-channel UNet learns slower than the ResNet models, so it gets a
# 3x learning rate and 2000 iterations, and no channel dropout in its 16-channel heads (Dropout2d(0.1) there
# cost ~3 mIoU points at 400 iterations).
_base_ = [
    "../_base_/models/unet-s5-d16_fcn.py",
    "../_base_/datasets/synth_seg.py",
    "../_base_/default_runtime.py",
    "../_base_/schedules/cpu_seg_adamw.py",
]
crop_size = (128, 128)
model = dict(
    data_preprocessor=dict(size=crop_size, size_divisor=16),
    backbone=dict(base_channels=16),
    decode_head=dict(in_channels=16, channels=16, num_classes=8, dropout_ratio=0.0),
    auxiliary_head=dict(in_channels=32, channels=16, num_classes=8, dropout_ratio=0.0),
)
optim_wrapper = dict(optimizer=dict(lr=0.003))
train_cfg = dict(max_iters=2000, val_interval=500)

# (N, H, W, C) weights and batches in test and infer runs only: 1.28x inference on CPU, but 1.03x training
# (benchmarks/speed_options.py, docs/results.md "Issue 13"); True would also train channels-last
channels_last = "inference"
