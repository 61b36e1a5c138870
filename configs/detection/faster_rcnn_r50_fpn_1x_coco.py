# Faster R-CNN R-50-FPN 1x on COCO (Ren et al., NeurIPS 2015; FPN: Lin et al., CVPR 2017), the settings of
# MMDetection 3.x's faster-rcnn_r50_fpn_1x_coco (box AP 37.4 there): ResNet-50 (stem and stage 1 frozen,
# frozen BN statistics), FPN P2-P6, RPN with 3 anchors per position, a 2-fc RoI box head, SGD lr 0.02 for a
# batch of 16. The backbone should start from ImageNet weights: set model.backbone.pretrained to a local
# torchvision resnet50 checkpoint (nothing is downloaded).
_base_ = [
    "../_base_/models/faster_rcnn_r50_fpn.py",
    "../_base_/datasets/coco_detection.py",
    "../_base_/schedules/schedule_1x.py",
    "../_base_/default_runtime.py",
]

