# Mask R-CNN sized for a CPU on the synthetic shapes (write them first:
#   visionstack data synth detection --out data/synth_det).
# The CPU Faster R-CNN of faster_rcnn_r18_fpn_synth.py plus the 4-conv FCN mask head (128 channels) on
# 14x14 RoIAlign features; the metric reports box and mask AP.
_base_ = ["./faster_rcnn_r18_fpn_synth.py"]

model = dict(
    type="MaskRCNN",
    data_preprocessor=dict(pad_mask=True),
    roi_head=dict(
        mask_roi_extractor=dict(
            type="SingleRoIExtractor",
            output_size=14,
            sampling_ratio=0,
            out_channels=128,
            featmap_strides=[4, 8, 16, 32],
        ),
        mask_head=dict(
            type="FCNMaskHead",
            num_convs=4,
            in_channels=128,
            conv_out_channels=128,
            roi_feat_size=14,
            num_classes=5,
            loss_mask=dict(type="BCEWithLogitsLoss", loss_weight=1.0),
        ),
        test_cfg=dict(mask_thr_binary=0.5),
    ),
)

train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="Resize", scale=(256, 256), keep_ratio=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
# The test pipeline stays the base one: CocoMetric reads the ground-truth masks from ann_file.
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_evaluator = dict(metric=("bbox", "segm"))
test_evaluator = val_evaluator
