# ResNet-18 on scikit-learn's digits (16x16 PNGs written once under data_root): the embedded
# default of `make demo`. The CIFAR-style stem (3x3 conv, no max-pool) keeps the 16x16 input
# at full resolution in the first stage; reaches ~99% val top-1 in 8 epochs, about 80 s on 2 idle CPU cores.
_base_ = ["../_base_/datasets/digits.py", "../_base_/schedules/digits_sgd.py", "../_base_/default_runtime.py"]

model = dict(
    type="ImageClassifier",
    data_preprocessor=dict(type="ClsDataPreprocessor", mean=[78.0] * 3, std=[96.0] * 3, bgr_to_rgb=True),
    backbone=dict(type="ResNet", depth=18, stem="cifar", out_indices=(3,)),
    neck=dict(type="GlobalAveragePooling"),
    head=dict(
        type="LinearClsHead",
        num_classes=10,
        in_channels=512,
        loss=dict(type="CrossEntropyLoss", label_smoothing=0.1),
        topk=(1, 3),
    ),
)
train_cfg = dict(max_epochs=8)

# (N, H, W, C) weights and batches: 1.12x (ResNet-18) / 1.08x (MobileNetV2) training and 1.37x / 1.49x
# inference on CPU (benchmarks/speed_options.py, docs/results.md "Issue 13")
channels_last = True
