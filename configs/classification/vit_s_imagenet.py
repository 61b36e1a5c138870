# ViT-S/16 on an ImageNet-layout folder with the DeiT recipe (DeiT-S: 79.8 top-1): AdamW lr 1e-3
# for batch 1024, cosine over 300 epochs, Mixup 0.8 / CutMix 1.0, RandAugment, label smoothing 0.1,
# stochastic depth 0.1.
_base_ = [
    "../_base_/datasets/imagenet_bs128_deit.py",
    "../_base_/schedules/imagenet_adamw_300e.py",
    "../_base_/default_runtime.py",
]
model = dict(
    type="ImageClassifier",
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
