# scikit-learn's bundled digits (8x8), written once as 16x16 PNG files under data_root in ImageNet
# layout, so training goes through the real loading path.
data_root = "data/digits"
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="RandomResizedCrop", scale=16, crop_ratio_range=(0.7, 1.0), aspect_ratio_range=(0.85, 1.18)),
    dict(type="PackInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="PackInputs"),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(type="Digits", data_root=data_root, split="train", scale=2, pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(type="Digits", data_root=data_root, split="val", scale=2, pipeline=test_pipeline),
)
test_dataloader = val_dataloader
val_evaluator = [dict(type="Accuracy", topk=(1, 3)), dict(type="SingleLabelMetric", average="macro")]
test_evaluator = [*val_evaluator, dict(type="ConfusionMatrix")]  # `visionstack test` draws it
