# RTMPose-t sized for a CPU on the synthetic people (write them first:
#   visionstack data synth pose --out data/synth_pose).
# The published RTMPose-t (Jiang et al. 2023; MMPose's rtmpose-t_8xb256-420e_coco-256x192): CSPNeXt-t (deepen
# 0.167, widen 0.375, last stage only) + RTMCC head (7x7 conv, gated attention unit of 256 hidden dims, SimCC
# with split ratio 2, KL-divergence loss with beta 10 and label softmax), trained from scratch at half the
# published input (128x96; the SimCC sigmas halve with it) with AdamW at the published learning rate scaled to
# batches of 32 (4e-3 x 32 / 256 = 5e-4, no weight decay as RTMPose-t; 2e-3 with decay 0.05 stalled at loss 0.73
# even on 64 fixed crops), a flat-cosine schedule, flip test on.
_base_ = ["../_base_/models/rtmpose-t.py", "../_base_/datasets/synth_pose.py", "../_base_/default_runtime.py"]

input_size = (96, 128)
codec = dict(
    type="SimCCLabel", input_size=input_size, sigma=(2.45, 2.83), simcc_split_ratio=2.0, normalize=False
)
model = dict(
    head=dict(
        input_size=input_size, in_featuremap_size=(input_size[0] // 32, input_size[1] // 32), decoder=codec
    )
)
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale", padding=1.25),
    dict(type="RandomHalfBody"),
    dict(type="RandomBBoxTransform", scale_factor=(0.75, 1.25), rotate_factor=60.0),
    dict(type="TopdownAffine", input_size=input_size),
    dict(type="TopdownRandomFlip", prob=0.5),
    dict(type="GenerateTarget", encoder=codec),
    dict(type="PackPoseInputs"),
]
train_dataloader = dict(batch_size=32, dataset=dict(pipeline=train_pipeline))

max_epochs = 8
optim_wrapper = dict(
    type="AmpOptimWrapper",  # bfloat16 autocast on CPUs with AMX / AVX512-BF16, float32 elsewhere
    optimizer=dict(type="AdamW", lr=5e-4, weight_decay=0.0),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=35.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=1.0e-3, by_epoch=False, begin=0, end=200),
    dict(type="CosineAnnealingLR", eta_min=5e-4 * 0.05, begin=max_epochs // 2, end=max_epochs, by_epoch=True),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_interval=4)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(interval=20), checkpoint=dict(interval=4, save_best="coco/AP", rule="greater")
)
