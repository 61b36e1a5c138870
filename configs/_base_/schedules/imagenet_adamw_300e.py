# The DeiT / ConvNeXt recipe: AdamW lr 5e-4 x batch/512 (here batch 1024 -> 1e-3), weight decay
# 0.05 without decay on norms, biases, position embeddings and the class token; 20 warmup epochs
# then cosine to 1e-5 over 300 epochs; gradient clipping at 5.
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=1e-3, weight_decay=0.05, betas=(0.9, 0.999), eps=1e-8),
    paramwise_cfg=dict(
        norm_decay_mult=0.0,
        bias_decay_mult=0.0,
        flat_decay_mult=0.0,
        custom_keys={".cls_token": dict(decay_mult=0.0), ".pos_embed": dict(decay_mult=0.0)},
    ),
    clip_grad=dict(max_norm=5.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-3, by_epoch=True, begin=0, end=20, convert_to_iter_based=True),
    dict(type="CosineAnnealingLR", eta_min=1e-5, by_epoch=True, begin=20, end=300),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=300, val_interval=1)
val_cfg = dict()
test_cfg = dict()
