# Inpainting with gated convolutions (Yu et al. 2019, DeepFill v2) in the U-Net of Liu et al. 2018 (skip
# connections at each of 3 levels, dilated gated convolutions at the bottom), CPU-sized: 16 base channels; Liu et
# al.'s masked losses (hole L1 x6, valid L1 x1, TV x0.1 over the hole). The network starts from a pull-push fill
# of the hole (6 pyramid levels) and learns its correction (fill_levels; None: the hole as zeros, as DeepFill).
# Write the data first:
#   visionstack data synth inpainting --out data/synth_editing/inpainting
# Training draws a 96 x 96 crop and a new mask for every image (free-form strokes, boxes or both, 5-50 % of it);
# the validation masks are fixed files (val/masks). PSNR is reported inside the holes (the measure) and
# over the whole image. DeepFill's coarse network without skips (GatedConvEncoderDecoder) is the other generator.
_base_ = ["../_base_/schedules/cpu_editing_adam.py", "../_base_/default_runtime.py"]
data_root = "data/synth_editing/inpainting/"
model = dict(
    type="Inpaintor",
    generator=dict(type="GatedConvUNet", in_channels=4, out_channels=3, base_channels=16, depth=3, dilations=(2, 4)),
    loss_hole=dict(type="PixelL1Loss", loss_weight=6.0),
    loss_valid=dict(type="PixelL1Loss", loss_weight=1.0),
    loss_tv=dict(type="MaskedTVLoss", loss_weight=0.1),
    fill_levels=6,
    data_preprocessor=dict(type="EditDataPreprocessor", mean=[127.5] * 3, std=[127.5] * 3),
)
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="EditRandomCrop", keys=["img"], crop_size=(96, 96)),
    dict(type="EditFlip", keys=["img"], flip_ratio=0.5, direction="horizontal"),
    dict(type="GenerateMask", mode="mixed"),
    dict(type="PackEditInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadMask"),
    dict(type="CopyValues", src_keys=["img"], dst_keys=["gt"]),  # the metrics' ground truth: the whole image
    dict(type="PackEditInputs"),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(type="BasicImageDataset", data_root=data_root, data_prefix=dict(img="train/images"), pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="BasicImageDataset",
        data_root=data_root,
        data_prefix=dict(img="val/images", mask="val/masks"),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = [
    dict(type="PSNR", mask_key="mask", prefix="hole"),
    dict(type="PSNR"),
    dict(type="SSIM"),
    dict(type="MAE", mask_key="mask", prefix="hole"),
]
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(lr=1e-3))
train_cfg = dict(max_iters=2500, val_interval=1250)
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(interval=1250, by_epoch=False, max_keep_ckpts=2, save_best="hole/PSNR", rule="greater"),
)
