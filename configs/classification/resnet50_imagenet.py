# ResNet-50 on an ImageNet-layout folder (MMPretrain's resnet50_8xb32_in1k: 76.55 top-1).
_base_ = ["../_base_/datasets/imagenet_bs32.py", "../_base_/schedules/imagenet_bs256.py", "../_base_/default_runtime.py"]

model = dict(
    type="ImageClassifier",
    backbone=dict(type="ResNet", depth=50, out_indices=(3,)),
    neck=dict(type="GlobalAveragePooling"),
    head=dict(type="LinearClsHead", num_classes=1000, in_channels=2048, loss=dict(type="CrossEntropyLoss"), topk=(1, 5)),
)
