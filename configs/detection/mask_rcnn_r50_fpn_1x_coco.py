# Mask R-CNN R-50-FPN 1x on COCO (He et al., ICCV 2017), the settings of MMDetection 3.x's
# mask-rcnn_r50_fpn_1x_coco (box AP 38.2 / mask AP 34.7 there): Faster R-CNN R-50-FPN plus a 4-conv FCN
# mask head on 14x14 RoIAlign features predicting 28x28 masks per class. Set model.backbone.pretrained to a
# local torchvision resnet50 checkpoint (nothing is downloaded).
_base_ = ["./faster_rcnn_r50_fpn_1x_coco.py"]

model = dict(
    type="MaskRCNN",
    data_preprocessor=dict(pad_mask=True),
    roi_head=dict(
        mask_roi_extractor=dict(
            type="SingleRoIExtractor",
            output_size=14,
            sampling_ratio=0,
            out_channels=256,
            featmap_strides=[4, 8, 16, 32],
        ),
        mask_head=dict(
            type="FCNMaskHead",
            num_convs=4,
            in_channels=256,
            conv_out_channels=256,
            roi_feat_size=14,
            num_classes=80,
            loss_mask=dict(type="BCEWithLogitsLoss", loss_weight=1.0),
        ),
        test_cfg=dict(mask_thr_binary=0.5),
    ),
)

train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="Resize", scale=(1333, 800), keep_ratio=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
# The test pipeline stays the base one: CocoMetric reads the ground-truth masks from ann_file.
train_dataloader = dict(dataset=dict(pipeline=train_pipeline))
val_evaluator = dict(metric=("bbox", "segm"))
test_evaluator = val_evaluator
