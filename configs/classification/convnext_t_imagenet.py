# ConvNeXt-T on an ImageNet-layout folder (MMPretrain's convnext-tiny_32xb128_in1k: 82.14 top-1):
# batch 128 per device (x32 = 4096 with lr 4e-3 in the paper), AdamW + cosine 300 epochs, Mixup
# 0.8 / CutMix 1.0, RandAugment, label smoothing 0.1, stochastic depth 0.1, EMA.
_base_ = [
    "../_base_/datasets/imagenet_bs128_deit.py",
    "../_base_/schedules/imagenet_adamw_300e.py",
    "../_base_/default_runtime.py",
]
model = dict(
    type="ImageClassifier",
    # pool, then normalise (the paper's classifier order): no pooling neck
    backbone=dict(type="ConvNeXt", arch="tiny", drop_path_rate=0.1, out_indices=(3,), gap_before_final_norm=True),
    neck=None,
    head=dict(
        type="LinearClsHead",
        num_classes=1000,
        in_channels=768,
        loss=dict(type="CrossEntropyLoss", label_smoothing=0.1),
        topk=(1, 5),
    ),
)
optim_wrapper = dict(optimizer=dict(lr=4e-3))
custom_hooks = [dict(type="EMAHook", momentum=1e-4)]
