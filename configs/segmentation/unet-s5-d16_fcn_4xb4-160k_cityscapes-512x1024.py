# UNet-S5-D16 + FCN head on Cityscapes, MMSegmentation's 160k recipe (4 GPUs x 4 images, 1024 x 512 crops,
# SGD 0.01 with poly decay), trained from scratch. Needs Cityscapes at data_root (no download).
_base_ = [
    "../_base_/models/unet-s5-d16_fcn.py",
    "../_base_/datasets/cityscapes.py",
    "../_base_/default_runtime.py",
    "../_base_/schedules/schedule_160k.py",
]
crop_size = (1024, 512)
model = dict(data_preprocessor=dict(size=crop_size))
train_dataloader = dict(batch_size=4)
