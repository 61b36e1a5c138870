# FCN R-50-D8 on Cityscapes, MMSegmentation's 40k recipe (4 GPUs x 2 images, 1024 x 512 crops, SGD 0.01
# with poly decay). Needs Cityscapes at data_root (no download); ImageNet weights: set
# model.backbone.pretrained to a local file (deep-stem ResNetV1c keys).
_base_ = [
    "../_base_/models/fcn_r50-d8.py",
    "../_base_/datasets/cityscapes.py",
    "../_base_/default_runtime.py",
    "../_base_/schedules/schedule_40k.py",
]
crop_size = (1024, 512)
model = dict(data_preprocessor=dict(size=crop_size))
