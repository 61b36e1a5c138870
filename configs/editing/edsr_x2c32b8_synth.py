# EDSR (Lim et al. 2017) x2, CPU-sized: 32 channels, 8 residual blocks without batch norm (res_scale 1), one
# PixelShuffle x2 stage, RGB mean shift; L1 loss, Adam. Write the data first:
#   visionstack data synth restoration --out data/synth_editing/restoration
# Evaluated as MMagic evaluates Set5: PSNR/SSIM on the Y channel with 2 border pixels cropped, on 8-bit outputs.
_base_ = [
    "../_base_/datasets/synth_sr_x2.py",
    "../_base_/schedules/cpu_editing_adam.py",
    "../_base_/default_runtime.py",
]
scale = 2
model = dict(
    type="BaseEditModel",
    generator=dict(
        type="EDSRNet",
        in_channels=3,
        out_channels=3,
        mid_channels=32,
        num_blocks=8,
        upscale_factor=scale,
        res_scale=1,
        rgb_mean=(0.4488, 0.4371, 0.4040),
        rgb_std=(1.0, 1.0, 1.0),
    ),
    pixel_loss=dict(type="PixelL1Loss", loss_weight=1.0, reduction="mean"),
    test_cfg=dict(tile=None),  # e.g. tile=128: tiled inference, equal to whole-image inference
    data_preprocessor=dict(type="EditDataPreprocessor", mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0]),
)
train_cfg = dict(max_iters=2300, val_interval=1150)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=1150, by_epoch=False, max_keep_ckpts=2, save_best="Set5/PSNR", rule="greater"),
)
