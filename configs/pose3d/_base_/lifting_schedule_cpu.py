# The schedule of the synthetic CPU configs (about 5 minutes on 2 cores): VideoPose3D's optimiser (Adam with
# amsgrad) at lr 2e-3, annealed to 1 % of it by a per-iteration cosine over the whole run, instead of the paper's
# lr 1e-3 decayed by 0.95 per epoch over 80 epochs, which a few-minute budget cannot follow. Validation runs at
# the end only; the best checkpoint is the one of lowest val MPJPE.
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="Adam", lr=2e-3, amsgrad=True))
param_scheduler = [
    dict(type="CosineAnnealingLR", by_epoch=True, begin=0, eta_min_ratio=0.01, convert_to_iter_based=True)
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=20, val_interval=20)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=50),
    checkpoint=dict(
        type="CheckpointHook", interval=20, max_keep_ckpts=1, save_best="pose3d/MPJPE", rule="less"
    ),
)
