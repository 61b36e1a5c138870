# RTMDet-tiny sized for a CPU on the synthetic shapes (write them first:
#   visionstack data synth detection --out data/synth_det).
# The published tiny model (CSPNeXt deepen 0.167 / widen 0.375, CSPNeXt-PAFPN with 96 channels, shared-conv
# separate-BN head, dynamic soft-label assignment, QFL + GIoU) trained from scratch at 256 px with the
# published optimizer (AdamW, weight decay 0.05, no decay on norms and biases, flat-cosine schedule) at half the
# published learning rate (0.002: the published 0.004 is for batches of 256, these are batches of 8) for 10 epochs
# of the 2000 images (bfloat16 autocast on the CPU).
# Left out for the CPU budget: Mosaic/MixUp (the synthetic images are small and plentiful) and the EMA
# (momentum 0.0002 needs far more iterations than this schedule has).
_base_ = ["../_base_/models/rtmdet_tiny.py", "../_base_/datasets/synth_det.py", "../_base_/default_runtime.py"]

model = dict(bbox_head=dict(num_classes=5))

optim_wrapper = dict(
    type="AmpOptimWrapper",  # bfloat16 autocast on the CPU (AMX), float16 on CUDA
    optimizer=dict(type="AdamW", lr=0.002, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
)
max_epochs = 10
param_scheduler = [
    dict(type="LinearLR", start_factor=1.0e-3, by_epoch=False, begin=0, end=200),
    # flat, then cosine to 5% over the second half (RTMDet's "flat-cosine")
    dict(type="CosineAnnealingLR", eta_min=0.002 * 0.05, begin=max_epochs // 2, end=max_epochs, by_epoch=True),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=5, save_best="coco/bbox_mAP"))

# (N, H, W, C) weights and batches in test and infer runs only: 1.15-1.17x inference on CPU, but 1.09-1.15x training
# (benchmarks/speed_options.py, docs/results.md "Issue 13"); True would also train channels-last
channels_last = "inference"
