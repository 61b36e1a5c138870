# The simple baseline of Martinez et al. 2017 as published: one frame's 2D joints -> its 16 non-root 3D joints, an
# MLP of 1024 units with 2 residual blocks, batch norm, ReLU, dropout 0.5 and max-norm 1, trained with the mean
# squared error, Adam lr 1e-3 decayed by 0.96 every 100k iterations, batch 64, 200 epochs, on Human3.6M
# (configs/pose3d/_base_/h36m.py; the paper reports 62.9 mm protocol #1 from stacked-hourglass detections).
# Deviation: the inputs are VideoPose3D's normalised screen coordinates, not per-coordinate z-scores.
_base_ = ["../_base_/default_runtime.py", "./_base_/h36m.py", "./_base_/lifting_schedule.py"]

model = dict(
    type="PoseLifter",
    backbone=dict(type="SimpleBaselineMLP", channels=1024, num_blocks=2, dropout=0.5, max_norm=1.0),
    loss=dict(type="JointMSELoss"),
)
train_dataloader = dict(
    batch_size=64, dataset=dict(receptive_field=1, pipeline=[dict(type="PackLiftingInputs")])
)
val_dataloader = dict(dataset=dict(receptive_field=1))
infer_pipeline = [dict(type="LoadKeypointSequence", receptive_field=1), dict(type="PackLiftingInputs")]
optim_wrapper = dict(optimizer=dict(type="Adam", lr=1e-3, amsgrad=False))
param_scheduler = [dict(type="ExponentialLR", gamma=0.96 ** (1 / 100000), by_epoch=False)]
train_cfg = dict(max_epochs=200, val_interval=20)
