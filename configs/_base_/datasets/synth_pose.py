# The synthetic people (COCO person keypoints, 17 keypoints), written by
#   visionstack data synth pose --out data/synth_pose
# Layout: <data_root>/annotations/person_keypoints_{train,val}.json, <data_root>/{train,val}/*.png. Top-down:
# one sample per annotated person, cropped around its box (padding 1.25) to `input_size` (w, h). A child config
# sets `codec` (and `input_size` when it differs) and the model.
data_root = "data/synth_pose/"
input_size = (96, 128)
codec = dict(
    type="SimCCLabel", input_size=input_size, sigma=(4.9, 5.66), simcc_split_ratio=2.0, normalize=False
)
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale", padding=1.25),
    dict(type="RandomHalfBody"),
    dict(type="RandomBBoxTransform", scale_factor=(0.75, 1.25), rotate_factor=30.0),
    dict(type="TopdownAffine", input_size=input_size),
    dict(type="TopdownRandomFlip", prob=0.5),
    dict(type="GenerateTarget", encoder=codec),
    dict(type="PackPoseInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale", padding=1.25),
    dict(type="TopdownAffine", input_size=input_size),
    dict(type="PackPoseInputs"),
]
# Loading runs in the training process: on 2 cores, worker processes take the cores from the model's threads
# (RTMPose-t 128x96: 0.42 s/it in-process against 0.64 s/it with one or two workers, AMD EPYC).
train_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="CocoKeypointsDataset",
        data_root=data_root,
        ann_file="annotations/person_keypoints_train.json",
        data_prefix=dict(img="train/"),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=0,
    persistent_workers=False,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="CocoKeypointsDataset",
        data_root=data_root,
        ann_file="annotations/person_keypoints_val.json",
        data_prefix=dict(img="val/"),
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="CocoKeypointMetric", ann_file=data_root + "annotations/person_keypoints_val.json")
test_evaluator = val_evaluator
