# MMSegmentation's 40k schedule: SGD (lr 0.01, momentum 0.9, weight decay 5e-4) for a total batch of 8
# (2 per GPU on 4 GPUs), polynomial decay (power 0.9) to 1e-4 over 40k iterations, validation and a
# checkpoint every 4k.
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=0.01, momentum=0.9, weight_decay=0.0005))
param_scheduler = [dict(type="PolyLR", eta_min=1e-4, power=0.9, begin=0, end=40000, by_epoch=False)]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=40000, val_interval=4000)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=4000, save_best="mIoU"),
)
