# scikit-learn's bundled digits, written once as 32x32 PNG files under data_root in ImageNet layout.
data_root = "data/digits"
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="RandomResizedCrop", scale=32, crop_ratio_range=(0.7, 1.0), aspect_ratio_range=(0.85, 1.18)),
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
    dataset=dict(type="Digits", data_root=data_root, split="train", pipeline=train_pipeline),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(type="Digits", data_root=data_root, split="val", pipeline=test_pipeline),
)
test_dataloader = val_dataloader
val_evaluator = [dict(type="Accuracy", topk=(1, 3)), dict(type="SingleLabelMetric", average="macro")]
test_evaluator = val_evaluator
