# The simple-baseline MLP of Martinez et al. 2017 (2 residual blocks, batch norm, ReLU, dropout 0.5, max-norm 1),
# narrowed to 512 units for the CPU, on the synthetic lifting data: one frame in, its 3D joints out. Same data,
# loss (MPJPE) and schedule as configs/pose3d/videopose3d_27f_synth.py, so the two differ only in the network.
_base_ = ["../_base_/default_runtime.py", "./_base_/synth_pose3d.py", "./_base_/lifting_schedule_cpu.py"]

model = dict(
    type="PoseLifter",
    backbone=dict(type="SimpleBaselineMLP", channels=512, num_blocks=2, dropout=0.5, max_norm=1.0),
    loss=dict(type="MPJPELoss"),
)
train_dataloader = dict(dataset=dict(receptive_field=1))
val_dataloader = dict(dataset=dict(receptive_field=1))
infer_pipeline = [dict(type="LoadKeypointSequence", receptive_field=1), dict(type="PackLiftingInputs")]
train_cfg = dict(max_epochs=32, val_interval=32)  # cheaper per step: more epochs in the same minutes
default_hooks = dict(checkpoint=dict(interval=32))
