# ST-GCN (Yan et al. 2018) on the synthetic skeleton sequences (COCO-17 keypoints of the pose library's figure
# waving, squatting, walking left / right and jumping; one or two people), CPU-sized: 32 base channels instead
# of 64, clips of 48 frames instead of 100. The graph, its spatial partition and the learnable edge importance
# are the published ones; the pipeline is MMAction2's joint (`j`) stream.
_base_ = ["../_base_/schedules/cpu_action_adamw.py", "../_base_/default_runtime.py"]
data_root = "data/synth_action/"
ann_file = "skeleton/synth_skeleton_2d.pkl"
clip_len = 48
model = dict(
    type="RecognizerGCN",
    data_preprocessor=dict(type="ActionDataPreprocessor", format_shape=None),
    backbone=dict(
        type="STGCN", graph_cfg=dict(layout="coco", mode="spatial"), in_channels=3, base_channels=32
    ),
    cls_head=dict(type="GCNHead", num_classes=5, in_channels=128),
    test_cfg=dict(average_clips="prob"),
)
train_pipeline = [
    dict(type="PreNormalize2D"),
    dict(type="GenSkeFeat", dataset="coco", feats=["j"]),
    dict(type="UniformSampleFrames", clip_len=clip_len),
    dict(type="PoseDecode"),
    dict(type="FormatGCNInput", num_person=2),
    dict(type="PackActionInputs"),
]
test_pipeline = [
    dict(type="PreNormalize2D"),
    dict(type="GenSkeFeat", dataset="coco", feats=["j"]),
    dict(type="UniformSampleFrames", clip_len=clip_len, num_clips=5, test_mode=True),
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
        type="PoseDataset", data_root=data_root, ann_file=ann_file, split="xsub_train",
        classes="skeleton/classes.txt",
        pipeline=train_pipeline,
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
        classes="skeleton/classes.txt",
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="AccMetric")
test_evaluator = [dict(type="AccMetric"), dict(type="ConfusionMatrix")]
train_cfg = dict(max_epochs=16, val_interval=4)
