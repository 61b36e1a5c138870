# The CPU schedule of the synthetic OCR configs: AdamW (no decay on norms and biases), gradient clipping,
# a linear warm-up over the first iterations, then a cosine to the end. float32 (bfloat16 autocast only pays on
# CPUs with AMX).
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=10.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.05, by_epoch=False, begin=0, end=200),
    dict(type="CosineAnnealingLR", by_epoch=True, begin=0, eta_min=1e-5),
]
val_cfg = dict()
test_cfg = dict()
