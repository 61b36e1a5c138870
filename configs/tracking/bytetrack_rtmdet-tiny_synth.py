# ByteTrack on the synthetic MOT sequences, CPU-sized: a tracking model is a detector + a tracker.
#   visionstack data synth tracking --out data/synth_tracking
#   visionstack train configs/tracking/bytetrack_rtmdet-tiny_synth.py        (trains the detector, ~14 min)
#   visionstack test configs/tracking/bytetrack_rtmdet-tiny_synth.py work_dirs/.../latest.pth   (HOTA/MOTA/IDF1)
#   visionstack track configs/tracking/bytetrack_rtmdet-tiny_synth.py CKPT VIDEO_OR_SEQUENCE
# The detector is RTMDet-tiny as published (see configs/_base_/models/rtmdet_tiny.py) for the three classes at
# 384x224, trained from scratch on the train sequences' frames (COCO conversion) with the published AdamW
# recipe at half the learning rate (batches of 8, not 256) and without Mosaic/MixUp and EMA (CPU budget).
# The tracker is ByteTrack with the published MOT17 thresholds and a lost-track buffer of 3 s (the synthetic
# occlusions last up to 3 s); its clock and buffers follow each sequence's frame rate (seqinfo.ini). Tracks are
# post-processed by linear interpolation of short gaps before scoring (the dataset config's MOTMetric).
_base_ = ["../_base_/datasets/synth_mot.py", "../_base_/default_runtime.py"]

detector = dict(
    type="RTMDet",
    data_preprocessor=dict(
        type="DetDataPreprocessor",
        mean=[103.53, 116.28, 123.675],
        std=[57.375, 57.12, 58.395],
        bgr_to_rgb=False,
        pad_size_divisor=32,
    ),
    backbone=dict(
        type="CSPNeXt", arch="P5", deepen_factor=0.167, widen_factor=0.375, expand_ratio=0.5, channel_attention=True
    ),
    neck=dict(type="CSPNeXtPAFPN", in_channels=[96, 192, 384], out_channels=96, num_csp_blocks=1, expand_ratio=0.5),
    bbox_head=dict(
        type="RTMDetSepBNHead",
        num_classes=3,
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
        # boxes may run past the border, as the whole-extent gt of objects entering or leaving
        test_cfg=dict(
            nms_pre=1000, score_thr=0.05, nms_iou_thr=0.65, max_per_img=100, min_bbox_size=0, clip_to_image=False
        ),
    ),
)
model = dict(
    type="MOTModel",
    detector=detector,
    tracker=dict(
        type="ByteTracker",
        high_thr=0.6,
        low_thr=0.1,
        init_thr=0.7,
        match_thr=0.8,
        low_match_thr=0.5,
        tentative_match_thr=0.7,
        # seconds: the synthetic occlusions last 1-3 s (MOT17's published buffer is 30 frames at 30 fps, 1 s)
        track_buffer=3.0,
    ),
)

optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=0.002, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
)
max_epochs = 6
param_scheduler = [
    dict(type="LinearLR", start_factor=1.0e-3, by_epoch=False, begin=0, end=100),
    dict(type="CosineAnnealingLR", eta_min=0.002 * 0.05, begin=max_epochs // 2, end=max_epochs, by_epoch=True),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_interval=max_epochs)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(logger=dict(interval=20), checkpoint=dict(interval=1, save_best="tracking/HOTA", rule="greater"))
# (N, H, W, C) weights and batches: 1.09-1.15x training on CPU (benchmarks/speed_options.py)
channels_last = True
