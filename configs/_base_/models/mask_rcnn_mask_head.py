# What Mask R-CNN adds to a Faster R-CNN config (He et al., ICCV 2017): a 4-conv FCN mask head on
# 14x14 RoIAlign features predicting 28x28 masks per class, mask-padded batches, and box + mask AP.
# Listed after a Faster R-CNN config in `_base_`; a child sets the channels and class count it needs.
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
# The test pipeline stays the detector's: CocoMetric reads the ground-truth masks from ann_file.
val_evaluator = dict(metric=("bbox", "segm"))
test_evaluator = val_evaluator
