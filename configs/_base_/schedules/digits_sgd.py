# A short SGD + cosine schedule sized for the Digits dataset on a laptop CPU.
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=5e-4, nesterov=True),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=45),
    # no `end`: the cosine ends at train_cfg.max_epochs
    dict(type="CosineAnnealingLR", by_epoch=True, begin=0, eta_min=1e-4),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=12, val_interval=1)
val_cfg = dict()
test_cfg = dict()
