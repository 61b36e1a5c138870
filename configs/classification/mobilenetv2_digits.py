# MobileNetV2 on scikit-learn's digits, with Mixup/CutMix batch augmentation.
_base_ = ["../_base_/datasets/digits.py", "../_base_/schedules/digits_sgd.py", "../_base_/default_runtime.py"]

model = dict(
    type="ImageClassifier",
    data_preprocessor=dict(
        type="ClsDataPreprocessor",
        mean=[78.0] * 3,
        std=[96.0] * 3,
        bgr_to_rgb=True,
        num_classes=10,
        batch_augments=[
            dict(
                type="RandomBatchAugment",
                augments=[dict(type="Mixup", alpha=0.2, num_classes=10), dict(type="CutMix", alpha=1.0, num_classes=10)],
                probs=[0.25, 0.25],
            )
        ],
    ),
    backbone=dict(type="MobileNetV2", widen_factor=1.0, out_indices=(7,)),
    neck=dict(type="GlobalAveragePooling"),
    head=dict(type="LinearClsHead", num_classes=10, in_channels=1280, loss=dict(type="CrossEntropyLoss")),
)
optim_wrapper = dict(optimizer=dict(lr=0.05))
train_cfg = dict(max_epochs=20)
# MobileNetV2 downsamples 32x: upscale the 16x16 digits to 32x32 so the last stage still sees 1x1.
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="RandomResizedCrop", scale=32, crop_ratio_range=(0.7, 1.0), aspect_ratio_range=(0.85, 1.18)),
    dict(type="PackInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=(32, 32)),
    dict(type="PackInputs"),
]

# (N, H, W, C) weights and batches: 1.12x (ResNet-18) / 1.08x (MobileNetV2) training and 1.37x / 1.49x
# inference on CPU (benchmarks/speed_options.py, docs/results.md "Issue 13")
channels_last = True
