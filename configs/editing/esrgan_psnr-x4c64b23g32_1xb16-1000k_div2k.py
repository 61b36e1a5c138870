# RRDBNet (ESRGAN's generator, Wang et al. 2018) trained with the L1 loss alone, MMagic's
# esrgan_psnr-x4c64b23g32_1xb16-1000k_div2k: 23 RRDB blocks of 64 channels, growth 32, residual scaling 0.2,
# nearest up-sampling x2 twice; Adam 2e-4, 1M iterations, cosine restarts every 250k, 128 x 128 GT patches.
# MMagic's Set5 figure: PSNR 30.6428 (RGB, crop 4).
_base_ = ["../_base_/datasets/div2k_set5.py", "../_base_/default_runtime.py"]
scale = 4
model = dict(
    type="BaseEditModel",
    generator=dict(type="RRDBNet", in_channels=3, out_channels=3, mid_channels=64, num_blocks=23,
                   growth_channels=32, upscale_factor=scale),
    pixel_loss=dict(type="PixelL1Loss", loss_weight=1.0, reduction="mean"),
    test_cfg=dict(tile=256),  # 23 blocks on a whole 2K image do not fit most memories: tiled, equal to whole
    data_preprocessor=dict(type="EditDataPreprocessor", mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0]),
)  # fmt: skip
train_dataloader = dict(
    dataset=dict(
        pipeline=[
            dict(type="LoadImage"),
            dict(type="LoadEditAnnotations"),
            dict(type="PairedRandomCrop", gt_patch_size=128, scale=scale),
            dict(type="EditFlip", keys=["img", "gt"], flip_ratio=0.5, direction="horizontal"),
            dict(type="EditFlip", keys=["img", "gt"], flip_ratio=0.5, direction="vertical"),
            dict(type="RandomTransposeHW", keys=["img", "gt"], transpose_ratio=0.5),
            dict(type="PackEditInputs"),
        ]
    )
)
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="Adam", lr=2e-4, betas=(0.9, 0.99)))
param_scheduler = [
    dict(type="CosineAnnealingLR", by_epoch=False, begin=start, end=start + 250000, T_max=250000, eta_min=1e-7)
    for start in (0, 250000, 500000, 750000)
]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=1000000, val_interval=5000)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(interval=5000, by_epoch=False, save_best="PSNR", rule="greater"))
