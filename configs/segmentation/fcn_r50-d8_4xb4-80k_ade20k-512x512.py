# FCN R-50-D8 on ADE20K, MMSegmentation's 80k recipe (4 GPUs x 4 images, 512 x 512 crops, SGD 0.01 with poly
# decay), 150 classes. Needs ADE20K at data_root (no download).
_base_ = [
    "../_base_/models/fcn_r50-d8.py",
    "../_base_/datasets/ade20k.py",
    "../_base_/default_runtime.py",
    "../_base_/schedules/schedule_80k.py",
]
crop_size = (512, 512)
model = dict(
    data_preprocessor=dict(size=crop_size),
    decode_head=dict(num_classes=150),
    auxiliary_head=dict(num_classes=150),
)
