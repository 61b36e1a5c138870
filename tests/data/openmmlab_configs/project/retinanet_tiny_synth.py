# A user's config: an mmdet:: model and runtime, local data and schedule, then changes of its own.
_base_ = [
    "mmdet::_base_/models/tiny_retinanet.py",
    "./_base_/synth_detection.py",
    "./_base_/schedule.py",
    "mmdet::_base_/default_runtime.py",
]
# MMEngine's rule: redefining a base variable does not change where the base used it (the
# warm-up end stays 2).
warmup_iters = 1
max_epochs = _base_.train_cfg.max_epochs

model = dict(bbox_head=dict(num_classes=5))
train_pipeline = [
    dict(type="LoadImageFromFile", backend_args={{_base_.backend_args}}),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="Resize", scale=(64, 64), keep_ratio=True),
    dict(type="YOLOXHSVRandomAug"),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
optim_wrapper = dict(
    _delete_=True,
    type="OptimWrapper",
    optimizer=dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0001),
    paramwise_cfg=dict(norm_decay_mult=0.0, bypass_duplicate=True),
)
custom_hooks = [dict(type="NumClassCheckHook"), dict(type="EMAHook", momentum=0.001, priority=49)]
