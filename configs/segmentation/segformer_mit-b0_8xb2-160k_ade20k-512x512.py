# SegFormer-B0 on ADE20K, MMSegmentation's recipe: 8 GPUs x 2 images, 512 x 512 crops, AdamW (lr 6e-5,
# weight decay 0.01; the head at 10x lr, no decay on norms and position convs), 1500 warm-up iterations then
# poly decay (power 1) over 160k iterations. ImageNet-1k MiT-B0 weights: set model.backbone.pretrained to a
# local MMSeg-format file. Needs ADE20K at data_root (no download).
_base_ = [
    "../_base_/models/segformer_mit-b0.py",
    "../_base_/datasets/ade20k.py",
    "../_base_/default_runtime.py",
    "../_base_/schedules/schedule_160k.py",
]
crop_size = (512, 512)
model = dict(data_preprocessor=dict(size=crop_size))
train_dataloader = dict(batch_size=2, num_workers=2)
optim_wrapper = dict(
    _delete_=True,
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=0.00006, betas=(0.9, 0.999), weight_decay=0.01),
    paramwise_cfg=dict(
        custom_keys={"pos_block": dict(decay_mult=0.0), "norm": dict(decay_mult=0.0), "head": dict(lr_mult=10.0)}
    ),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=1e-6, by_epoch=False, begin=0, end=1500),
    dict(type="PolyLR", eta_min=0.0, power=1.0, begin=1500, end=160000, by_epoch=False),
]
