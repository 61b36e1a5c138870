# RTMDet-tiny on COCO (Lyu et al. 2022), MMDetection 3.x's rtmdet_tiny_8xb32-300e_coco: 41.1 box AP,
# 4.8 M parameters at 640 px (the published table; this model counts 4.90 M, of which 0.36 M in the head).
# CSPNeXt-tiny (deepen 0.167, widen 0.375) + CSPNeXt-PAFPN (96 channels, 1 block) + shared-conv separate-BN
# head, dynamic soft-label assignment (top-k 13), QFL (weight 1) + GIoU (weight 2). 300 epochs of AdamW
# (lr 0.004 for 8 GPUs x 32 images, weight decay 0.05 except norms and biases), 1000-iteration linear
# warm-up, flat learning rate for 150 epochs, then cosine to 5%; EMA of the weights (momentum 0.0002);
# Mosaic + MixUp augmentation at 640 px. Synchronised BN across GPUs (run with torchrun).
# Differences from MMDetection, because visionstack lacks the pieces: MMDetection's EMA ramps its momentum
# (ExpMomentumEMA, gamma 2000) where EMAHook uses a constant one; YOLOXHSVRandomAug is replaced by
# PhotoMetricDistortion; Mosaic and MixUp are the uncached versions over MultiImageMixDataset; the
# switch to the stage-2 pipeline (no Mosaic/MixUp) for the last 20 epochs needs a pipeline-switch hook,
# which visionstack does not have yet (call train_dataset.update_skip_type_keys(["Mosaic", "MixUp"])).
# The backbone should start from the ImageNet CSPNeXt-tiny weights, given as a local file.
_base_ = [
    "../_base_/models/rtmdet_tiny.py",
    "../_base_/datasets/coco_detection.py",
    "../_base_/default_runtime.py",
]

# MMDetection's config passes norm_cfg=dict(type="SyncBN"), which replaces CSPNeXt's default (momentum 0.03,
# eps 1e-3) with SyncBN's own (0.1, 1e-5): its checkpoints were trained, and must be run, with those.
norm_layer = dict(type="torch.nn.SyncBatchNorm", momentum=0.1, eps=1e-5, _partial_=True)
model = dict(
    backbone=dict(norm_layer=norm_layer),
    neck=dict(norm_layer=norm_layer),
    bbox_head=dict(norm_layer=norm_layer),
)

train_pipeline = [
    dict(type="Mosaic", img_scale=(640, 640), pad_val=114.0),
    dict(type="RandomResize", scale=(1280, 1280), ratio_range=(0.5, 2.0), keep_ratio=True),
    dict(type="RandomCrop", crop_size=(640, 640)),
    dict(type="PhotoMetricDistortion"),
    dict(type="RandomFlip", prob=0.5),
    dict(type="Pad", size=(640, 640), pad_val=dict(img=(114, 114, 114))),
    dict(type="MixUp", img_scale=(640, 640), ratio_range=(1.0, 1.0), pad_val=114.0),
    dict(type="FilterAnnotations", min_gt_bbox_wh=(1, 1), keep_empty=False),
    dict(type="PackDetInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=(640, 640), keep_ratio=True),
    dict(type="Pad", size=(640, 640), pad_val=dict(img=(114, 114, 114))),
    dict(type="LoadAnnotations", with_bbox=True),
    dict(type="PackDetInputs", meta_keys=("img_id", "img_path", "ori_shape", "img_shape", "scale_factor")),
]
train_dataloader = dict(
    batch_size=32,
    num_workers=10,
    pin_memory=True,
    dataset=dict(
        _delete_=True,
        type="MultiImageMixDataset",
        dataset=dict(
            type="CocoDataset",
            data_root="data/coco/",
            ann_file="annotations/instances_train2017.json",
            data_prefix=dict(img="train2017/"),
            filter_cfg=dict(filter_empty_gt=True, min_size=32),
            pipeline=[dict(type="LoadImage"), dict(type="LoadAnnotations", with_bbox=True)],
        ),
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(batch_size=5, num_workers=10, dataset=dict(pipeline=test_pipeline))
test_dataloader = val_dataloader

max_epochs = 300
base_lr = 0.004
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=base_lr, weight_decay=0.05),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=1.0e-5, by_epoch=False, begin=0, end=1000),
    # flat for the first half, then cosine to 5% of the base rate
    dict(
        type="CosineAnnealingLR",
        eta_min=base_lr * 0.05,
        begin=max_epochs // 2,
        end=max_epochs,
        T_max=max_epochs // 2,
        by_epoch=True,
    ),
]
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=max_epochs, val_interval=10)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(checkpoint=dict(interval=10, max_keep_ckpts=3, save_best="coco/bbox_mAP"))
custom_hooks = [dict(type="EMAHook", momentum=0.0002, update_buffers=True)]
