# The synthetic lifting data, written by
#   visionstack data synth pose3d --out data/synth_pose3d
# Layout (visionstack/tasks/pose/lifting/sequences.py): <data_root>/{train,val}.json index the sequence files
# <data_root>/{train,val}/<subject>_<action>.<camera>.npz; 5 training subjects x 8 actions x 4 cameras, 2 val
# subjects x 8 actions x 2 other cameras, 250 frames each at 50 fps. Inputs: 2D keypoints normalised as
# VideoPose3D does; targets: root-relative 3D joints in the camera frame, mm.
# Training samples are single-frame windows of `receptive_field` frames (a child sets it in both datasets and in
# `infer_pipeline`), 256 per batch: on a CPU budget, more updates of smaller batches learn faster than
# VideoPose3D's 1024. Evaluation takes whole sequences (MPJVE needs consecutive frames).
data_root = "data/synth_pose3d/"
train_pipeline = [dict(type="RandomFlipLifting", prob=0.5), dict(type="PackLiftingInputs")]
test_pipeline = [dict(type="PackLiftingInputs")]
train_dataloader = dict(
    batch_size=256,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="Pose3dSequenceDataset",
        data_root=data_root,
        ann_file="train.json",
        sample_unit="window",
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="Pose3dSequenceDataset",
        data_root=data_root,
        ann_file="val.json",
        sample_unit="sequence",
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="MPJPEMetric")
test_evaluator = val_evaluator
