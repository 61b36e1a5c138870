# DIV2K for training and Set5 for validation, MMagic's layout at data_root:
#   <data_root>/DIV2K/DIV2K_train_HR/0001.png ...            (or the *_sub crops of MMagic's extract_subimages)
#   <data_root>/DIV2K/DIV2K_train_LR_bicubic/X{s}/0001x{s}.png
#   <data_root>/Set5/GTmod12/baby.png ...   <data_root>/Set5/LRbicx{s}/baby.png ...
# A child config sets `scale` and rebuilds the paths that depend on it (see edsr_x2c64b16_1xb16-300k_div2k.py).
data_root = "data/"
scale = 4
gt_patch_size = 96 if scale != 4 else 192
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadEditAnnotations"),
    dict(type="PairedRandomCrop", gt_patch_size=gt_patch_size, scale=scale),
    dict(type="EditFlip", keys=["img", "gt"], flip_ratio=0.5, direction="horizontal"),
    dict(type="EditFlip", keys=["img", "gt"], flip_ratio=0.5, direction="vertical"),
    dict(type="RandomTransposeHW", keys=["img", "gt"], transpose_ratio=0.5),
    dict(type="PackEditInputs"),
]
test_pipeline = [dict(type="LoadImage"), dict(type="LoadEditAnnotations"), dict(type="PackEditInputs")]
train_dataloader = dict(
    batch_size=16,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="BasicImageDataset",
        data_root=data_root + "DIV2K",
        data_prefix=dict(img=f"DIV2K_train_LR_bicubic/X{scale}", gt="DIV2K_train_HR"),
        filename_tmpl=dict(img=f"{{}}x{scale}", gt="{}"),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="BasicImageDataset",
        data_root=data_root + "Set5",
        data_prefix=dict(img=f"LRbicx{scale}", gt="GTmod12"),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
# MMagic's Set5 metrics: MAE, and PSNR/SSIM on RGB with `scale` border pixels cropped (the Y-channel figures of
# the papers: add convert_to="Y")
val_evaluator = [
    dict(type="MAE"),
    dict(type="PSNR", crop_border=scale),
    dict(type="SSIM", crop_border=scale),
]
test_evaluator = val_evaluator
