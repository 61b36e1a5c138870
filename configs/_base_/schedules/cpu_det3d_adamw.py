# The CPU schedule of the synthetic 3D detection configs: AdamW as MMDetection3D's KITTI PointPillars
# (lr 1e-3, weight decay 0.01, gradient clipping at 35), a short linear warm-up, then a cosine to the end of
# the run (MMDetection3D's cyclic schedule needs its full 80 epochs to pay off); float32.
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=2e-3, betas=(0.95, 0.99), weight_decay=0.01),
    clip_grad=dict(max_norm=35, norm_type=2),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.1, by_epoch=False, begin=0, end=100),
    dict(type="CosineAnnealingLR", by_epoch=True, begin=0, eta_min=1e-5),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=5, val_interval=5)
val_cfg = dict()
test_cfg = dict()
