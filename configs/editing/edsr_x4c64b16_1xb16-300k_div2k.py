# EDSR x4 (Lim et al. 2017), MMagic's edsr_x4c64b16_1xb16-300k_div2k: 64 channels, 16 residual blocks
# (res_scale 1), two PixelShuffle x2 stages, L1 loss, Adam 1e-4, 300k iterations of batch 16 with 192 x 192 GT
# patches, the learning rate halved at 200k. MMagic's Set5 figure: PSNR 30.2223 / SSIM 0.8500 (RGB, crop 4).
_base_ = ["../_base_/datasets/div2k_set5.py", "../_base_/default_runtime.py"]
scale = 4
model = dict(
    type="BaseEditModel",
    generator=dict(type="EDSRNet", in_channels=3, out_channels=3, mid_channels=64, num_blocks=16,
                   upscale_factor=scale, res_scale=1, rgb_mean=(0.4488, 0.4371, 0.4040), rgb_std=(1.0, 1.0, 1.0)),
    pixel_loss=dict(type="PixelL1Loss", loss_weight=1.0, reduction="mean"),
    data_preprocessor=dict(type="EditDataPreprocessor", mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0]),
)  # fmt: skip
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="Adam", lr=1e-4, betas=(0.9, 0.999)))
param_scheduler = [dict(type="MultiStepLR", by_epoch=False, milestones=[200000], gamma=0.5)]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=300000, val_interval=5000)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=5000, by_epoch=False, max_keep_ckpts=10, save_best="PSNR", rule="greater"),
)
