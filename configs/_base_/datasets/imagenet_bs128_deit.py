# ImageNet-layout folder with the DeiT / ConvNeXt data recipe: batch 128 per device, bicubic
# RandomResizedCrop, flip, RandAugment (m9, std 0.5), and Mixup 0.8 / CutMix 1.0 on the batch.
_base_ = "imagenet_bs32.py"
train_dataloader = dict(batch_size=128)
val_dataloader = dict(batch_size=128)
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="RandomResizedCrop", scale=224, interpolation="bicubic"),
    dict(type="RandomFlip", prob=0.5, direction="horizontal"),
    dict(type="RandAugment", policies="timm_increasing", num_policies=2, magnitude_level=9, magnitude_std=0.5),
    dict(type="PackInputs"),
]
model = dict(
    data_preprocessor=dict(
        num_classes=1000,
        batch_augments=[
            dict(
                type="RandomBatchAugment",
                augments=[dict(type="Mixup", alpha=0.8, num_classes=1000), dict(type="CutMix", alpha=1.0, num_classes=1000)],
                probs=[0.5, 0.5],
            )
        ],
    ),
)
