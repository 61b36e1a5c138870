# RTMDet-tiny sized for a CPU on the synthetic shapes (write them first:
#   visionstack data synth detection --out data/synth_det).
# The published tiny model (CSPNeXt deepen 0.167 / widen 0.375, CSPNeXt-PAFPN with 96 channels, shared-conv
# separate-BN head, dynamic soft-label assignment, QFL + GIoU) trained from scratch at 256 px with the
# published optimizer (AdamW, weight decay 0.05, no decay on norms and biases, flat-cosine schedule) at half the
# published learning rate (0.002: the published 0.004 is for batches of 256, these are batches of 8) for 10 epochs
# of the 2000 images (bfloat16 autocast on the CPU).
# Left out for the CPU budget: Mosaic/MixUp (the synthetic images are small and plentiful) and the EMA
# (momentum 0.0002 needs far more iterations than this schedule has).
_base_ = ["../_base_/datasets/synth_det.py", "../_base_/default_runtime.py"]

model = dict(
    type="RTMDet",
    data_preprocessor=dict(
        type="DetDataPreprocessor",
        mean=[103.53, 116.28, 123.675],
        std=[57.375, 57.12, 58.395],
        bgr_to_rgb=False,
        pad_size_divisor=32,
    ),
    backbone=dict(
        type="CSPNeXt",
        arch="P5",
        deepen_factor=0.167,
        widen_factor=0.375,
        expand_ratio=0.5,
        channel_attention=True,
    ),
    neck=dict(type="CSPNeXtPAFPN", in_channels=[96, 192, 384], out_channels=96, num_csp_blocks=1, expand_ratio=0.5),
    bbox_head=dict(
        type="RTMDetSepBNHead",
        num_classes=5,
        in_channels=96,
        feat_channels=96,
        stacked_convs=2,
        share_conv=True,
        pred_kernel_size=1,
        exp_on_reg=False,
        prior_generator=dict(type="MlvlPointGenerator", strides=[8, 16, 32], offset=0),
        bbox_coder=dict(type="DistancePointBBoxCoder"),
        assigner=dict(type="DynamicSoftLabelAssigner", topk=13),
        loss_cls=dict(type="QualityFocalLoss", use_sigmoid=True, beta=2.0, loss_weight=1.0),
        loss_bbox=dict(type="GIoULoss", loss_weight=2.0),
        test_cfg=dict(nms_pre=30000, score_thr=0.001, iou_threshold=0.65, max_per_img=300, min_bbox_size=0),
    ),
)

optim_wrapper = dict(
    type="AmpOptimWrapper",  # bfloat16 autocast on the CPU (AMX), float16 on CUDA
    optimizer=dict(type="AdamW", lr=0.002, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
)
max_epochs = 10
param_scheduler = [
    dict(type="LinearLR", start_factor=1.0e-3, by_epoch=False, begin=0, end=200),
    # flat, then cosine to 5% over the second half (RTMDet's "flat-cosine")
    dict(type="CosineAnnealingLR", eta_min=0.002 * 0.05, begin=max_epochs // 2, end=max_epochs, by_epoch=True),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_interval=5)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=10), checkpoint=dict(interval=5, save_best="coco/bbox_mAP"))
