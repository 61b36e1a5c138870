# DCGAN (Radford et al. 2016) on scikit-learn's digits at 32 x 32, trained through the engine with one optimizer
# per network (Adam 2e-4, betas 0.5/0.999, as the paper): a discriminator step then a generator step per
# iteration (non-saturating loss). Write the data first:
#   visionstack data synth generation --out data/synth_editing/digits
# Testing draws one sample per real validation image (its latent fixed by the file name) and reports the KID
# between the two sets on the features of a digits classifier trained here (no download), and how many digit
# classes the samples cover. `infer` reads .npy latents (data/synth_editing/digits/latents).
_base_ = ["../_base_/default_runtime.py"]
data_root = "data/synth_editing/digits/"
noise_size = 100
model = dict(
    type="DCGAN",
    generator=dict(type="DCGANGenerator", output_scale=32, out_channels=1, base_channels=128, noise_size=noise_size),
    discriminator=dict(type="DCGANDiscriminator", input_scale=32, in_channels=1, base_channels=64),
    noise_size=noise_size,
    loss="vanilla",
    data_preprocessor=dict(type="GenerationDataPreprocessor", mean=[127.5], std=[127.5], bgr_to_rgb=False),
)
train_pipeline = [dict(type="LoadImage", color_type="grayscale"), dict(type="PackEditInputs")]
test_pipeline = [
    dict(type="LoadImage", color_type="grayscale"),  # the real image the generated set is compared with
    dict(type="LoadLatent", noise_size=noise_size),
    dict(type="PackLatentInputs"),
]
infer_pipeline = [dict(type="LoadLatent", noise_size=noise_size), dict(type="PackLatentInputs")]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="InfiniteSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(type="BasicImageDataset", data_root=data_root, data_prefix=dict(img="train"), recursive=True,
                 pipeline=train_pipeline),
)  # fmt: skip
val_dataloader = dict(
    batch_size=50,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(type="BasicImageDataset", data_root=data_root, data_prefix=dict(img="val"), recursive=True,
                 test_mode=True, pipeline=test_pipeline),
)  # fmt: skip
test_dataloader = val_dataloader
val_evaluator = [dict(type="KID")]
test_evaluator = val_evaluator
optim_wrapper = dict(
    constructor="MultiOptimWrapperConstructor",
    generator=dict(optimizer=dict(type="Adam", lr=2e-4, betas=(0.5, 0.999))),
    discriminator=dict(optimizer=dict(type="Adam", lr=2e-4, betas=(0.5, 0.999))),
)
train_cfg = dict(type="IterBasedTrainLoop", max_iters=2000, val_interval=1000)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(interval=100),
    checkpoint=dict(interval=1000, by_epoch=False, max_keep_ckpts=2, save_best="KID", rule="less"),
)
