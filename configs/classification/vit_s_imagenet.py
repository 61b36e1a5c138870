# ViT-S/16 on an ImageNet-layout folder with the DeiT recipe (DeiT-S: 79.8 top-1): AdamW lr 1e-3
# for batch 1024, cosine over 300 epochs, Mixup 0.8 / CutMix 1.0, RandAugment, label smoothing 0.1,
# stochastic depth 0.1.
_base_ = [
    "../_base_/datasets/imagenet_bs32.py",
    "../_base_/schedules/imagenet_adamw_300e.py",
    "../_base_/default_runtime.py",
]
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
    type="ImageClassifier",
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
    backbone=dict(type="VisionTransformer", arch="small", img_size=224, patch_size=16, drop_path_rate=0.1),
    neck=None,
    head=dict(
        type="VisionTransformerClsHead",
        num_classes=1000,
        in_channels=384,
        loss=dict(type="CrossEntropyLoss", label_smoothing=0.1),
        topk=(1, 5),
    ),
)
