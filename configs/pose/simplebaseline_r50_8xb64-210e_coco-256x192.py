# SimpleBaseline ResNet-50 as published (Xiao et al. 2018; MMPose's td-hm_res50_8xb64-210e_coco-256x192):
# ResNet-50 + three 4x4 deconvolutions of 256 channels + 1x1 conv to 17 heatmaps of 64x48, MSRA Gaussian heatmaps
# (sigma 2), MSE loss weighted by visibility, Adam lr 5e-4 for batches of 512 (8 x 64), 210 epochs with steps at
# 170 and 200, flip test with the one-pixel heatmap shift. MMPose starts from ImageNet weights (load_from=...).
_base_ = ["../_base_/datasets/coco_keypoints.py", "../_base_/default_runtime.py"]

input_size = (192, 256)
codec = dict(type="MSRAHeatmap", input_size=input_size, heatmap_size=(48, 64), sigma=2.0)
model = dict(
    type="TopdownPoseEstimator",
    data_preprocessor=dict(
        type="DataPreprocessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True
    ),
    backbone=dict(type="ResNet", depth=50, out_indices=(3,)),
    head=dict(
        type="HeatmapHead",
        in_channels=2048,
        out_channels=17,
        deconv_out_channels=(256, 256, 256),
        deconv_kernel_sizes=(4, 4, 4),
        loss=dict(type="KeypointMSELoss", use_target_weight=True),
        decoder=codec,
    ),
    test_cfg=dict(
        flip_test=True,
        flip_mode="heatmap",
        shift_heatmap=True,
        flip_indices=[0, 2, 1, 4, 3, 6, 5, 8, 7, 10, 9, 12, 11, 14, 13, 16, 15],
    ),
)
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale", padding=1.25),
    dict(type="RandomHalfBody"),
    dict(type="RandomBBoxTransform"),
    dict(type="TopdownAffine", input_size=input_size),
    dict(type="TopdownRandomFlip", prob=0.5),
    dict(type="GenerateTarget", encoder=codec),
    dict(type="PackPoseInputs"),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))

optim_wrapper = dict(optimizer=dict(type="Adam", lr=5e-4))
param_scheduler = [
    dict(type="LinearLR", start_factor=0.001, by_epoch=False, begin=0, end=500),
    dict(type="MultiStepLR", milestones=[170, 200], gamma=0.1, by_epoch=True, begin=0, end=210),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=210, val_interval=10)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=1, save_best="coco/AP", rule="greater"))
