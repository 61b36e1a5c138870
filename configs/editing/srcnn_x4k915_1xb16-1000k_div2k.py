# SRCNN (Dong et al. 2014), MMagic's srcnn_x4k915_1xb16-1000k_div2k: PyTorch bicubic up-sampling x4 inside, then
# 9-1-5 convolutions (64, 32 channels), L1 loss, Adam 2e-4, 1M iterations, cosine restarts every 250k.
_base_ = ["../_base_/datasets/div2k_set5.py", "../_base_/default_runtime.py"]
scale = 4
model = dict(
    type="BaseEditModel",
    generator=dict(type="SRCNNNet", channels=(3, 64, 32, 3), kernel_sizes=(9, 1, 5), upscale_factor=scale),
    pixel_loss=dict(type="PixelL1Loss", loss_weight=1.0, reduction="mean"),
    data_preprocessor=dict(type="EditDataPreprocessor", mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0]),
)
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="Adam", lr=2e-4, betas=(0.9, 0.999)))
param_scheduler = [
    dict(type="CosineAnnealingLR", by_epoch=False, begin=start, end=start + 250000, T_max=250000, eta_min=1e-7)
    for start in (0, 250000, 500000, 750000)
]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=1000000, val_interval=5000)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(interval=5000, by_epoch=False, save_best="PSNR", rule="greater"))
