# The CPU schedule of the R-18 synthetic detection configs: AdamW (no decay on norms and biases), gradient
# clipping, bfloat16 autocast on the CPU (AMX; float16 on CUDA), 100 warm-up iterations, then a cosine to the
# end. A child sets train_cfg (its epochs) and default_hooks.
optim_wrapper = dict(
    type="AmpOptimWrapper",
    optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=35.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=100),
    dict(type="CosineAnnealingLR", by_epoch=True, begin=0, eta_min=1e-5),
]
val_cfg = dict()
test_cfg = dict()
