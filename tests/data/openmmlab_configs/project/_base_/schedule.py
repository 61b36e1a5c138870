# A short SGD schedule with a linear warm-up over `warmup_iters` iterations.
warmup_iters = 2
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=2, val_interval=1)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=warmup_iters),
    dict(type="MultiStepLR", begin=0, end=2, by_epoch=True, milestones=[1], gamma=0.1),
]
optim_wrapper = dict(
    type="OptimWrapper", optimizer=dict(type="SGD", lr=0.02, momentum=0.9, weight_decay=0.0001)
)
auto_scale_lr = dict(enable=False, base_batch_size=16)
