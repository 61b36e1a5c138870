# EDSR x2, MMagic's edsr_x2c64b16_1xb16-300k_div2k: as the x4 config with one PixelShuffle x2 stage and 96 x 96 GT
# patches. MMagic's Set5 figure: PSNR 35.7592 / SSIM 0.9372 (RGB, crop 2).
_base_ = ["./edsr_x4c64b16_1xb16-300k_div2k.py"]
scale = 2
model = dict(generator=dict(upscale_factor=scale))
train_dataloader = dict(
    dataset=dict(
        data_prefix=dict(img=f"DIV2K_train_LR_bicubic/X{scale}", gt="DIV2K_train_HR"),
        filename_tmpl=dict(img=f"{{}}x{scale}", gt="{}"),
        pipeline=[
            dict(type="LoadImage"),
            dict(type="LoadEditAnnotations"),
            dict(type="PairedRandomCrop", gt_patch_size=96, scale=scale),
            dict(type="EditFlip", keys=["img", "gt"], flip_ratio=0.5, direction="horizontal"),
            dict(type="EditFlip", keys=["img", "gt"], flip_ratio=0.5, direction="vertical"),
            dict(type="RandomTransposeHW", keys=["img", "gt"], transpose_ratio=0.5),
            dict(type="PackEditInputs"),
        ],
    )
)
val_dataloader = dict(dataset=dict(data_prefix=dict(img=f"LRbicx{scale}", gt="GTmod12")))
test_dataloader = val_dataloader
val_evaluator = [dict(type="MAE"), dict(type="PSNR", crop_border=scale), dict(type="SSIM", crop_border=scale)]
test_evaluator = val_evaluator
