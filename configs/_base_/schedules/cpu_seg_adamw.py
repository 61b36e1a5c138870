# The CPU schedule of the synthetic segmentation configs: AdamW from scratch (no decay on norms and biases),
# bfloat16 autocast on the CPU (AMX; float16 on CUDA), 100 warm-up iterations, then a linear (poly, power 1)
# decay to the end. A child sets train_cfg.max_iters (the decay follows it).
optim_wrapper = dict(
    type="AmpOptimWrapper",
    optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=35.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type="PolyLR", eta_min=1e-5, power=1.0, begin=100, by_epoch=False),
]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=1500, val_interval=500)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(type="CheckpointHook", by_epoch=False, interval=500, save_best="mIoU"),
)
