# MOT17 in the MOT Challenge layout: <data_root>/{train,test}/MOT17-XX-{DPM,FRCNN,SDP}/{seqinfo.ini, img1/,
# gt/gt.txt (train only), det/det.txt}. The detector trains on the COCO conversion of the train split:
#   python -c "from visionstack.tasks.tracking.coco_conversion import mot_to_coco as c; \
#       c('data/MOT17/train', 'data/MOT17/annotations/train_cocoformat.json', class_ids=(1,))"
# (pedestrians; distractors, boxes marked not-to-consider and boxes under 25 % visible are iscrowd). Tracking is
# scored on the seven FRCNN train sequences (the test split has no public ground truth), class "pedestrian"
# (MOT id 1) with trackeval's MOT17 preprocessing (distractor matches removed).
data_root = "data/MOT17/"
classes = ("pedestrian",)
class_ids = (1,)
frcnn_sequences = [f"MOT17-{n:02d}-FRCNN" for n in (2, 4, 5, 9, 10, 11, 13)]
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="RandomResize", scale=(1440, 800), ratio_range=(0.5, 1.5), keep_ratio=True),
    dict(type="RandomCrop", crop_size=(800, 1440), allow_negative_crop=False),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=(1440, 800), keep_ratio=True),
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
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="CocoDataset",
        data_root=data_root,
        ann_file="annotations/train_cocoformat.json",
        data_prefix=dict(img=""),
        metainfo=dict(classes=classes),
        filter_cfg=dict(filter_empty_gt=True, min_size=8),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=2,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="MOTSequenceDataset",
        data_root=data_root,
        split="train",
        sequences=frcnn_sequences,
        metainfo=dict(classes=classes, class_ids=class_ids),
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(
    type="MOTMetric", metric=["HOTA", "CLEAR", "Identity"], interpolate=dict(max_gap=18, min_track_length=6)
)
test_evaluator = val_evaluator
