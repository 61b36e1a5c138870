# COCO person keypoints 2017 at `data_root`:
#   <data_root>/annotations/person_keypoints_{train,val}2017.json, <data_root>/{train,val}2017/*.jpg,
#   <data_root>/person_detection_results/COCO_val2017_detections_AP_H_56_person.json (MMPose's detector boxes,
#   human AP 56.4: set val_dataloader.dataset.bbox_file to score with them, as the published figures do).
# Top-down 256x192, MMPose's augmentation (half body, shift/scale/rotate, flip). A child sets `codec`, the
# train pipeline's GenerateTarget and the model.
data_root = "data/coco/"
input_size = (192, 256)
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="GetBBoxCenterScale", padding=1.25),
    dict(type="TopdownAffine", input_size=input_size),
    dict(type="PackPoseInputs"),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="CocoKeypointsDataset",
        data_root=data_root,
        ann_file="annotations/person_keypoints_train2017.json",
        data_prefix=dict(img="train2017/"),
    ),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="CocoKeypointsDataset",
        data_root=data_root,
        ann_file="annotations/person_keypoints_val2017.json",
        data_prefix=dict(img="val2017/"),
        bbox_file="person_detection_results/COCO_val2017_detections_AP_H_56_person.json",
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(
    type="CocoKeypointMetric", ann_file=data_root + "annotations/person_keypoints_val2017.json"
)
test_evaluator = val_evaluator
