# The synthetic scene-text set (`visionstack data synth ocr --out data/synth_ocr`) in the ICDAR 2015 layout:
# 320x320 images, quadrilaterals with `###` for the regions to ignore. The test split's fonts never appear in
# training. The Total-Text polygons of the same images are in totaltext/Groundtruth/Polygon/{Train,Test}
# (ann_format="totaltext").
data_root = "data/synth_ocr/"
dataset_type = "TextDetDataset"
train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadOCRAnnotations", with_polygon=True, with_bbox=True, with_label=True),
    dict(type="FixInvalidPolygon", min_poly_points=4),
    dict(type="RandomFlip", prob=0.5),
    dict(type="RandomRotate", max_angle=10, pad_with_fixed_color=True, use_canvas=True),
    dict(type="RandomResize", scale=(320, 320), ratio_range=(0.75, 1.5), keep_ratio=True),
    dict(type="TextDetRandomCrop", target_size=(320, 320)),
    dict(type="PackTextDetInputs", meta_keys=("img_path", "ori_shape", "img_shape", "scale_factor")),
]
# MMOCR's order: resize before loading the annotations, so the ground truth stays in original pixels
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=(320, 320), keep_ratio=True),
    dict(type="LoadOCRAnnotations", with_polygon=True, with_bbox=True, with_label=True),
    dict(type="PackTextDetInputs", meta_keys=("img_path", "ori_shape", "img_shape", "scale_factor")),
]
train_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_format="icdar2015",
        img_dir="ch4_training_images",
        ann_dir="ch4_training_localization_transcription_gt",
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=8,
    num_workers=2,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type=dataset_type,
        data_root=data_root,
        ann_format="icdar2015",
        img_dir="ch4_test_images",
        ann_dir="Challenge4_Test_Task1_GT",
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
# the ICDAR 2015 protocol at one fixed score threshold (MMOCR's default sweeps 0.3..0.9 and reports the best:
# pred_score_thrs=dict(start=0.3, stop=0.9, step=0.1), reported as a sweep)
val_evaluator = dict(type="HmeanIOUMetric", pred_score_thrs=0.3)
test_evaluator = val_evaluator
