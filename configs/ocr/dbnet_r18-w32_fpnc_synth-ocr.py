# DBNet (Liao et al. 2020) on the synthetic scene text, CPU-sized: a ResNet-18 of half width (32 base
# channels), FPNC with 128 lateral / 32 output channels, the DB head (probability and threshold maps,
# differentiable binarization k=50) and MMOCR's loss (balanced BCE with 3:1 OHEM x5, L1 on the threshold
# map x10, dice on the binary map). 320x320 inputs; quadrilateral output as the ICDAR 2015 ground truth.
_base_ = [
    "../_base_/datasets/synth_ocr_det.py",
    "../_base_/default_runtime.py",
]
data_root = "data/synth_ocr/"
model = dict(
    type="DBNet",
    backbone=dict(type="ResNet", depth=18, out_indices=(0, 1, 2, 3), base_channels=32),
    neck=dict(type="FPNC", in_channels=[32, 64, 128, 256], lateral_channels=128, out_channels=32),
    det_head=dict(type="DBHead", in_channels=128),
    module_loss=dict(type="DBModuleLoss"),
    test_cfg=dict(
        text_repr_type="quad",
        mask_thr=0.3,
        min_text_score=0.3,
        min_text_width=5,
        unclip_ratio=1.5,
        epsilon_ratio=0.01,
        max_candidates=3000,
    ),
    data_preprocessor=dict(
        type="DataPreprocessor",
        mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True, pad_size_divisor=32
    ),
)
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=16, val_interval=4)
val_cfg = dict()
test_cfg = dict()
# AdamW with a short warm-up and a cosine decay: from scratch on 2 CPU cores (MMOCR's SGD 0.007 with a poly
# decay runs 1200 epochs on 8 GPUs)
optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=2e-3, weight_decay=0.01),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
    clip_grad=dict(max_norm=10.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.05, by_epoch=False, begin=0, end=100),
    dict(type="CosineAnnealingLR", by_epoch=True, begin=0, eta_min=1e-5),
]
default_hooks = dict(checkpoint=dict(interval=4, max_keep_ckpts=2, save_best="icdar/hmean", rule="greater"))
