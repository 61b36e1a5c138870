# The synthetic MOT sequences (pedestrians, cars, bicycles), MOT Challenge layout, written by
#   visionstack data synth tracking --out data/synth_tracking
# Layout: <data_root>/{train,val}/<SEQ>/{seqinfo.ini, img1/, gt/gt.txt, det/det.txt}, and the COCO conversion
# <data_root>/annotations/{train,val}_cocoformat.json that the detector trains on (frames of 384x224; boxes of
# whole extent, as the gt).
# Tracking is evaluated on the val sequences frame by frame, in order (batch 1, no shuffling).
data_root = "data/synth_tracking/"
classes = ("pedestrian", "car", "bicycle")
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadAnnotations", with_bbox=True),
    # boxes keep their whole extent past the border (the gt's, MOT17's); the detector predicts it too
    # (test_cfg.clip_to_image=False in the tracking configs)
    dict(type="Resize", scale=(384, 224), keep_ratio=True, clip_object_border=False),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=(384, 224), keep_ratio=True),
    dict(
        type="PackDetInputs",
        meta_keys=(
            "img_id", "img_path", "ori_shape", "img_shape", "scale_factor", "seq_name", "seq_dir", "frame_id",
            "timestamp", "frame_rate", "is_first_frame", "public_detections",
        ),
    ),
]  # fmt: skip
train_dataloader = dict(
    batch_size=8,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="CocoDataset",
        data_root=data_root,
        ann_file="annotations/train_cocoformat.json",
        data_prefix=dict(img=""),
        metainfo=dict(classes=classes),
        filter_cfg=dict(filter_empty_gt=True, min_size=4),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(type="MOTSequenceDataset", data_root=data_root, split="val", pipeline=test_pipeline),
)
test_dataloader = val_dataloader
# linear interpolation of gaps of up to 18 missing frames in tracks of at least 6 rows before scoring:
# MMTracking's InterpolateTracklets defaults (max_num_frames=20, min_num_frames=5), as ByteTrack and OC-SORT
# post-process their MOT17 results
val_evaluator = dict(
    type="MOTMetric", metric=["HOTA", "CLEAR", "Identity"], interpolate=dict(max_gap=18, min_track_length=6)
)
test_evaluator = val_evaluator
