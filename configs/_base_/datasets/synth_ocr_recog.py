# The word crops of the synthetic scene-text set (`visionstack data synth ocr --out data/synth_ocr`):
# textrecog/{train,test}_list.txt, "image text" per line. The test crops are rendered in fonts never seen in
# training. Every crop is stretched to 100x32 (MMOCR's CRNN and SATRN/NRTR-small input), in colour.
data_root = "data/synth_ocr/"
dataset_type = "TextRecogDataset"
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadOCRAnnotations", with_text=True),
    dict(type="RandomApply", transforms=[dict(type="TextRecogGeneralAug")], prob=0.3),
    dict(type="RandomApply", transforms=[dict(type="CropHeight", min_pixels=1, max_pixels=4)], prob=0.3),
    dict(type="Resize", scale=(100, 32), keep_ratio=False),
    dict(type="PackTextRecogInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=(100, 32), keep_ratio=False),
    dict(type="LoadOCRAnnotations", with_text=True),
    dict(type="PackTextRecogInputs"),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file="textrecog/train_list.txt",
        data_prefix=dict(img_path="textrecog/"),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=64,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_file="textrecog/test_list.txt",
        data_prefix=dict(img_path="textrecog/"),
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
# MMOCR's recognition metrics: word accuracy (exact, ignoring case, ignoring case and symbols), character
# precision and recall, 1 - normalised edit distance
val_evaluator = [
    dict(type="WordMetric", mode=["exact", "ignore_case", "ignore_case_symbol"]),
    dict(type="CharMetric"),
    dict(type="OneMinusNEDMetric"),
]
test_evaluator = val_evaluator
