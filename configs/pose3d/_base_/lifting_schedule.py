# VideoPose3D's optimisation: Adam (amsgrad), lr 1e-3 decayed by 0.95 every epoch; the best checkpoint is the
# one of lowest val MPJPE.
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="Adam", lr=1e-3, amsgrad=True))
param_scheduler = [dict(type="ExponentialLR", gamma=0.95, by_epoch=True)]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=20, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(type="LoggerHook", interval=10),
    checkpoint=dict(
        type="CheckpointHook", interval=5, max_keep_ckpts=1, save_best="pose3d/MPJPE", rule="less"
    ),
)
