# Human3.6M for 2D -> 3D lifting, protocol #1/#2 splits (train S1, S5, S6, S7, S8; val S9, S11), at data_root in
# the lifting layout (visionstack/tasks/pose/lifting/sequences.py):
#   <data_root>/train.json, val.json      split indexes
#   <data_root>/cameras.json              the calibration of every camera (world -> camera, intrinsics)
#   <data_root>/{train,val}/<subject>_<action>.<subject>_<camera id>.npz
#       keypoints_2d (T, 17, 2) pixels from a 2D detector (CPN fine-tuned on H36M in the papers),
#       keypoints_3d (T, 17, 3) camera frame, mm; image_size [w, h]
# Make it from VideoPose3D's prepared archives with
#   visionstack.tasks.pose.lifting.h36m.convert_videopose3d_h36m("data_3d_h36m.npz",
#       "data_2d_h36m_cpn_ft_h36m_dbb.npz", "h36m_cameras.json", "data/h36m")
# A child sets `receptive_field` in both datasets and in `infer_pipeline`.
data_root = "data/h36m/"
train_pipeline = [dict(type="RandomFlipLifting", prob=0.5), dict(type="PackLiftingInputs")]
test_pipeline = [dict(type="PackLiftingInputs")]
train_dataloader = dict(
    batch_size=1024,
    num_workers=2,
    persistent_workers=True,
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
    batch_size=4,
    num_workers=2,
    persistent_workers=True,
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
