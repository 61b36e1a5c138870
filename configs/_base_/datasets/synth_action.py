# The synthetic action videos of `visionstack data synth action --out data/synth_action`: ten motion classes in
# five time-reversed pairs (move left/right, rotate clockwise/anticlockwise, grow/shrink, approach/recede,
# appear/disappear), 80x80 px, 32 frames at 16 fps, H.264, 800 train and 200 val videos. The list files are
# MMAction2's ("path label", paths relative to data_root). A child sets the pipelines' sampler and format.
#
# No horizontal flip: it would turn move_left into move_right and clockwise into anticlockwise (MMAction2 flips
# Something-Something with a `flip_label_map` for the same reason).
dataset_type = "VideoDataset"
data_root = "data/synth_action/"
classes_file = "classes.txt"
train_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file="train_list_videos.txt",
        data_prefix=dict(video=""),
        classes=classes_file,
        pipeline=[],
    ),
)
val_dataloader = dict(
    batch_size=16,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file="val_list_videos.txt",
        data_prefix=dict(video=""),
        classes=classes_file,
        pipeline=[],
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
val_evaluator = dict(type="AccMetric")
# `visionstack test` draws the confusion matrix beside its results (confusion_matrix.png)
test_evaluator = [dict(type="AccMetric"), dict(type="ConfusionMatrix")]
