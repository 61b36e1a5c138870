# VideoPose3D (Pavllo et al. 2019), 27-frame receptive field (filter widths 3, 3, 3), narrowed to 384 channels
# for the CPU, on the synthetic lifting data (configs/pose3d/_base_/synth_pose3d.py). Trained on single-frame
# windows with the strided form of the network, evaluated on whole sequences with the dilated form.
_base_ = ["../_base_/default_runtime.py", "./_base_/synth_pose3d.py", "./_base_/lifting_schedule_cpu.py"]

model = dict(
    type="PoseLifter",
    backbone=dict(type="TemporalConvNet", filter_widths=(3, 3, 3), channels=384, dropout=0.25, causal=False),
    loss=dict(type="MPJPELoss"),
)
train_dataloader = dict(dataset=dict(receptive_field=27))
val_dataloader = dict(dataset=dict(receptive_field=27))
infer_pipeline = [dict(type="LoadKeypointSequence", receptive_field=27), dict(type="PackLiftingInputs")]
