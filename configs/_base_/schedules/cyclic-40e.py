# MMDetection3D's cyclic schedule for KITTI (40 epochs x a repeat of 2 = 80 passes): AdamW at lr 1e-3, weight
# decay 0.01, gradient clipping at 35; the learning rate climbs by cosine to 10x over the first 40 % of the
# epochs, then falls by cosine to 1e-4 x the base. (MMDetection3D also cycles Adam's beta1 between 0.85 and
# 0.95; the engine has no momentum scheduler, so beta1 stays at 0.95.)
lr = 0.001
epoch_num = 40
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=lr, betas=(0.95, 0.99), weight_decay=0.01),
    clip_grad=dict(max_norm=35, norm_type=2),
)
param_scheduler = [
    dict(type="CosineAnnealingLR", T_max=16, eta_min=lr * 10, begin=0, end=16, by_epoch=True),
    dict(type="CosineAnnealingLR", T_max=24, eta_min=lr * 1e-4, begin=16, end=40, by_epoch=True),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=epoch_num, val_interval=2)
val_cfg = dict()
test_cfg = dict()
