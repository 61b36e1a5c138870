# Kinetics-400 as MMAction2 lays it out (tools/data/kinetics): videos under data_root/videos_train and
# videos_val, list files "path label" (paths relative to those folders). Decoding is PyAV's (DecordInit /
# DecordDecode in an MMAction2 config are accepted and decode with PyAV too). A child sets the pipelines.
dataset_type = "VideoDataset"
data_root = "data/kinetics400/"
train_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file="kinetics400_train_list_videos.txt",
        data_prefix=dict(video="videos_train"),
        pipeline=[],
    ),
)
val_dataloader = dict(
    batch_size=32,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file="kinetics400_val_list_videos.txt",
        data_prefix=dict(video="videos_val"),
        pipeline=[],
        test_mode=True,
    ),
)
test_dataloader = dict(
    batch_size=1,
    num_workers=8,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file="kinetics400_val_list_videos.txt",
        data_prefix=dict(video="videos_val"),
        pipeline=[],
        test_mode=True,
    ),
)
val_evaluator = dict(type="AccMetric")
test_evaluator = val_evaluator
