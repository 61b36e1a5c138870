# RTMPose-t as published (MMPose's rtmpose-t_8xb256-420e_coco-256x192): CSPNeXt (0.167 / 0.375, last stage) + RTMCC
# head (7x7 conv, GAU 256, SimCC split 2 with sigma (4.9, 5.66), KL loss beta 10 with label softmax), AdamW
# lr 4e-3 for batches of 256 (8 x 32 here as 8 GPUs x 32), 420 epochs, flat then cosine from epoch 210, flip test.
# MMPose initialises the backbone from ImageNet-pretrained CSPNeXt weights and trains with EMA and a second
# augmentation stage for the last 30 epochs; give load_from=... for pretrained weights.
_base_ = [
    "../_base_/models/rtmpose-t.py",
    "../_base_/datasets/coco_keypoints.py",
    "../_base_/default_runtime.py",
]

input_size = (192, 256)
codec = dict(
    type="SimCCLabel", input_size=input_size, sigma=(4.9, 5.66), simcc_split_ratio=2.0, normalize=False
)

train_pipeline = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale", padding=1.25),
    dict(type="RandomHalfBody"),
    dict(type="RandomBBoxTransform", scale_factor=(0.6, 1.4), rotate_factor=80.0),
    dict(type="TopdownAffine", input_size=input_size),
    dict(type="TopdownRandomFlip", prob=0.5),
    dict(type="GenerateTarget", encoder=codec),
    dict(type="PackPoseInputs"),
]
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))

max_epochs = 420
optim_wrapper = dict(
    type="AmpOptimWrapper",
    optimizer=dict(type="AdamW", lr=4e-3, weight_decay=0.0),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=35.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=1.0e-5, by_epoch=False, begin=0, end=1000),
    dict(type="CosineAnnealingLR", eta_min=4e-3 * 0.05, begin=max_epochs // 2, end=max_epochs, by_epoch=True),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_interval=10)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=1, save_best="coco/AP", rule="greater"))
