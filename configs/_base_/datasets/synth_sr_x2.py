# The synthetic super-resolution set, DIV2K + Set5 layout, written by
#   visionstack data synth restoration --out data/synth_editing/restoration
# Training: DIV2K_train_HR/0001.png ... (192 x 192 crops of scikit-image photos and procedural textures) with
# MATLAB-bicubic x2 inputs DIV2K_train_LR_bicubic/X2/0001x2.png; validation: five held-out photos never seen
# in training, Set5/GTmod12 (sizes multiples of 12) with Set5/LRbicx2 inputs. Paired 96 x 96 GT crops
# (48 x 48 LR), flips and transposes, as MMagic's EDSR configs.
data_root = "data/synth_editing/restoration/"
scale = 2
train_pipeline = [
    dict(type="LoadImage"),  # the LR input (img_path)
    dict(type="LoadEditAnnotations"),  # the HR ground truth (gt_path)
    dict(type="PairedRandomCrop", gt_patch_size=96, scale=scale),
    dict(type="EditFlip", keys=["img", "gt"], flip_ratio=0.5, direction="horizontal"),
    dict(type="EditFlip", keys=["img", "gt"], flip_ratio=0.5, direction="vertical"),
    dict(type="RandomTransposeHW", keys=["img", "gt"], transpose_ratio=0.5),
    dict(type="PackEditInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadEditAnnotations"),
    dict(type="PackEditInputs"),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="BasicImageDataset",
        data_root=data_root,
        data_prefix=dict(img="DIV2K_train_LR_bicubic/X2", gt="DIV2K_train_HR"),
        filename_tmpl=dict(img="{}x2", gt="{}"),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="BasicImageDataset",
        data_root=data_root,
        data_prefix=dict(img="Set5/LRbicx2", gt="Set5/GTmod12"),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
# MMagic's Set5 protocol: PSNR/SSIM with `scale` border pixels cropped; here on the Y channel (BT.601, as
# MATLAB) as the SR papers report, and on RGB beside it
val_evaluator = [
    dict(type="PSNR", crop_border=scale, convert_to="Y", prefix="Set5"),
    dict(type="SSIM", crop_border=scale, convert_to="Y", prefix="Set5"),
    dict(type="PSNR", crop_border=scale, prefix="Set5-RGB"),
]
test_evaluator = val_evaluator
