# Gaussian denoising at sigma 25 with a small U-Net (3 stride-2 levels, 24 base channels, residual: it predicts
# the noise), L1 loss, Adam. Write the data first:
#   visionstack data synth restoration --out data/synth_editing/restoration
# Training (batch 8) adds new noise to every 96 x 96 crop of the DIV2K-style images, rounded and clipped to 8 bits as a
# saved noisy photo is; the test inputs are the held-out images with fixed sigma-25 noise stored as PNG files
# (Set5/noisy_sigma25), so both backends read the same noisy pixels. PSNR/SSIM on RGB, no border crop.
_base_ = ["../_base_/schedules/cpu_editing_adam.py", "../_base_/default_runtime.py"]
data_root = "data/synth_editing/restoration/"
sigma = 25
model = dict(
    type="BaseEditModel",
    generator=dict(type="UNetDenoiser", in_channels=3, base_channels=24, depth=3, residual=True),
    pixel_loss=dict(type="PixelL1Loss", loss_weight=1.0),
    data_preprocessor=dict(type="EditDataPreprocessor", mean=[0.0, 0.0, 0.0], std=[255.0, 255.0, 255.0]),
)
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="EditRandomCrop", keys=["img"], crop_size=(96, 96)),
    dict(type="EditFlip", keys=["img"], flip_ratio=0.5, direction="horizontal"),
    dict(type="RandomTransposeHW", keys=["img"], transpose_ratio=0.5),
    dict(type="CopyValues", src_keys=["img"], dst_keys=["gt"]),
    dict(type="AddGaussianNoise", sigma=sigma, key="img", quantize=True),
    dict(type="PackEditInputs"),
]
test_pipeline = [dict(type="LoadImage"), dict(type="LoadEditAnnotations"), dict(type="PackEditInputs")]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(type="BasicImageDataset", data_root=data_root, data_prefix=dict(img="DIV2K_train_HR"),
                 pipeline=train_pipeline),
)  # fmt: skip
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(type="BasicImageDataset", data_root=data_root,
                 data_prefix=dict(img=f"Set5/noisy_sigma{sigma}", gt="Set5/GTmod12"), test_mode=True,
                 pipeline=test_pipeline),
)  # fmt: skip
test_dataloader = val_dataloader
val_evaluator = [dict(type="PSNR", prefix="Set5-sigma25"), dict(type="SSIM", prefix="Set5-sigma25")]
test_evaluator = val_evaluator
train_cfg = dict(max_iters=1500, val_interval=500)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=500, by_epoch=False, max_keep_ckpts=2, save_best="Set5-sigma25/PSNR", rule="greater"),
)
