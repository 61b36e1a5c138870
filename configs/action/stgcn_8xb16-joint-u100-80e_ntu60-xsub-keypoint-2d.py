# ST-GCN, NTU RGB+D 60 cross-subject, 2D keypoints (MMAction2's stgcn_8xb16-joint-u100-80e_ntu60-xsub-keypoint-2d):
# HRNet's COCO-17 keypoints of up to two people (data/skeleton/ntu60_2d.pkl, MMAction2's skeleton pickle),
# clips of 100 frames drawn uniformly, the joint stream; 16 epochs over the set repeated 5 times (the "80e") of
# SGD with Nesterov momentum and a cosine schedule, 8 GPUs x 16 clips. Test: 10 clips averaged.
_base_ = ["../_base_/default_runtime.py"]
data_root = "data/skeleton/"
ann_file = "ntu60_2d.pkl"
model = dict(
    type="RecognizerGCN",
    data_preprocessor=dict(type="ActionDataPreprocessor", format_shape=None),
    backbone=dict(type="STGCN", graph_cfg=dict(layout="coco", mode="stgcn_spatial")),
    cls_head=dict(type="GCNHead", num_classes=60, in_channels=256),
    test_cfg=dict(average_clips="prob"),
)
train_pipeline = [
    dict(type="PreNormalize2D"),
    dict(type="GenSkeFeat", dataset="coco", feats=["j"]),
    dict(type="UniformSampleFrames", clip_len=100),
    dict(type="PoseDecode"),
    dict(type="FormatGCNInput", num_person=2),
    dict(type="PackActionInputs"),
]
val_pipeline = [
    dict(type="PreNormalize2D"),
    dict(type="GenSkeFeat", dataset="coco", feats=["j"]),
    dict(type="UniformSampleFrames", clip_len=100, num_clips=1, test_mode=True),
    dict(type="PoseDecode"),
    dict(type="FormatGCNInput", num_person=2),
    dict(type="PackActionInputs"),
]
test_pipeline = [
    dict(type="PreNormalize2D"),
    dict(type="GenSkeFeat", dataset="coco", feats=["j"]),
    dict(type="UniformSampleFrames", clip_len=100, num_clips=10, test_mode=True),
    dict(type="PoseDecode"),
    dict(type="FormatGCNInput", num_person=2),
    dict(type="PackActionInputs"),
]
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="RepeatDataset",
        times=5,
        dataset=dict(
            type="PoseDataset", data_root=data_root, ann_file=ann_file, split="xsub_train", pipeline=train_pipeline
        ),
    ),
)
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="PoseDataset",
        data_root=data_root,
        ann_file=ann_file,
        split="xsub_val",
        pipeline=val_pipeline,
        test_mode=True,
    ),
)
test_dataloader = dict(
    batch_size=1,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="PoseDataset",
        data_root=data_root,
        ann_file=ann_file,
        split="xsub_val",
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
val_evaluator = [dict(type="AccMetric")]
test_evaluator = val_evaluator
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=16, val_interval=1)
val_cfg = dict()
test_cfg = dict()
param_scheduler = [dict(type="CosineAnnealingLR", eta_min=0, T_max=16, by_epoch=True, convert_to_iter_based=True)]
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="SGD", lr=0.1, momentum=0.9, weight_decay=0.0005, nesterov=True))
