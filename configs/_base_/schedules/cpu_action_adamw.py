# The CPU schedule of the synthetic action configs: AdamW (no decay on norms and biases), gradient clipping,
# float32 (bfloat16 autocast only pays on CPUs with AMX), 100 warm-up iterations, then a cosine to the end.
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=3e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=20.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.05, by_epoch=False, begin=0, end=100),
    dict(type="CosineAnnealingLR", by_epoch=True, begin=0, eta_min=1e-5),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=12, val_interval=3)
val_cfg = dict()
test_cfg = dict()
