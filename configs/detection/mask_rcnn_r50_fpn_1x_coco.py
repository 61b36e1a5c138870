# Mask R-CNN R-50-FPN 1x on COCO (He et al., ICCV 2017), the settings of MMDetection 3.x's
# mask-rcnn_r50_fpn_1x_coco (box AP 38.2 / mask AP 34.7 there): Faster R-CNN R-50-FPN plus a 4-conv FCN
# mask head on 14x14 RoIAlign features predicting 28x28 masks per class. Set model.backbone.pretrained to a
# local torchvision resnet50 checkpoint (nothing is downloaded).
_base_ = ["./faster_rcnn_r50_fpn_1x_coco.py", "../_base_/models/mask_rcnn_mask_head.py"]

train_pipeline = [
    dict(type="LoadImage"),
    dict(type="LoadAnnotations", with_bbox=True, with_mask=True),
    dict(type="Resize", scale=(1333, 800), keep_ratio=True),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackDetInputs"),
]
# MMDetection's Mask R-CNN (unlike its Faster R-CNN) lets each ground truth keep its best proposal in the
# second stage too
model = dict(roi_head=dict(assigner=dict(match_low_quality=True)))
