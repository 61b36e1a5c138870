# VideoPose3D as published (Pavllo et al. 2019): 27-frame receptive field (filter widths 3, 3, 3), 1024
# channels, dropout 0.25, MPJPE loss, flip augmentation in training and at test time, Adam (amsgrad) lr 1e-3
# decayed by 0.95 per epoch, batch 1024, 80 epochs, on Human3.6M with CPN detections
# (configs/pose3d/_base_/h36m.py). The paper's receptive-field ablation reports 48.8 mm MPJPE (protocol #1) for
# 27 frames with CPN 2D.
_base_ = ["../_base_/default_runtime.py", "./_base_/h36m.py", "./_base_/lifting_schedule.py"]

model = dict(
    type="PoseLifter",
    backbone=dict(type="TemporalConvNet", filter_widths=(3, 3, 3), channels=1024, dropout=0.25),
    loss=dict(type="MPJPELoss"),
    test_flip=True,
)
train_dataloader = dict(dataset=dict(receptive_field=27))
val_dataloader = dict(dataset=dict(receptive_field=27))
infer_pipeline = [dict(type="LoadKeypointSequence", receptive_field=27), dict(type="PackLiftingInputs")]
train_cfg = dict(max_epochs=80, val_interval=10)
