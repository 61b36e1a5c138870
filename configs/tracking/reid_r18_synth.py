# The re-identification net of DeepSORT on crops of the synthetic tracking objects (MMTracking's
# configs/reid, sized for a CPU): ResNet-18 on 64 x 32 crops with the last stage at stride 1 (a 4 x 2 map),
# a 128-d embedding, identity cross-entropy + batch-hard triplet loss (margin 0.3) on P x K = 8 x 4 batches.
# Write the crops first (one list per split, identities numbered per (sequence, id); 50 crops per identity
# for training, 20 for validation):
#   python -c "from visionstack.tasks.tracking.reid.crops import write_reid_crops as w; \
#       w('data/synth_tracking/train', 'data/synth_tracking/reid', max_per_identity=50); \
#       w('data/synth_tracking/val', 'data/synth_tracking/reid', max_per_identity=20)"
# num_identities is the count of identities in meta/train.txt (192 for `visionstack data synth tracking`'s
# defaults: 8 training sequences, seed 0); set it for other data.
_base_ = ["../_base_/default_runtime.py"]

data_root = "data/synth_tracking/reid"
input_size = (32, 64)  # (w, h) of the crops; write_reid_crops' default size, so the pipeline does not resize
num_identities = 192  # identities in meta/train.txt (the width of the head's identity classifier)

model = dict(
    type="ReID",
    data_preprocessor=dict(
        type="DataPreprocessor", mean=[123.675, 116.28, 103.53], std=[58.395, 57.12, 57.375], bgr_to_rgb=True
    ),
    backbone=dict(type="ResNet", depth=18, out_indices=(3,), strides=(1, 2, 2, 1)),
    neck=dict(type="GlobalAveragePooling"),
    head=dict(
        type="LinearReIDHead",
        num_classes=num_identities,
        in_channels=512,
        out_channels=128,
        loss_cls=dict(type="CrossEntropyLoss", label_smoothing=0.1),
        loss_triplet=dict(type="TripletLoss", margin=0.3),
    ),
    input_size=input_size,
)

train_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=input_size),
    dict(type="RandomFlip", prob=0.5),
    dict(type="PackInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="Resize", scale=input_size),
    dict(type="PackInputs", meta_keys=("img_path", "frame_id")),  # frame_id: ReIDMetric's min_frame_gap
]
train_dataloader = dict(
    batch_size=32,  # = num_identities * num_instances of the sampler
    num_workers=0,  # crops load in the training process: on 2 cores loader workers take the model's cores
    sampler=dict(type="IdentityBalancedSampler", num_identities=8, num_instances=4),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="ReIDDataset",
        data_root=data_root,
        ann_file="meta/train.txt",
        data_prefix="imgs",
        pipeline=train_pipeline,
    ),
)
val_dataloader = dict(
    batch_size=128,
    num_workers=0,  # crops load in the training process: on 2 cores loader workers take the model's cores
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="ReIDDataset",
        data_root=data_root,
        ann_file="meta/val.txt",
        data_prefix="imgs",
        test_mode=True,
        pipeline=test_pipeline,
    ),
)
test_dataloader = val_dataloader
# MMTracking's protocol (every other val crop is the gallery; neighbouring frames make it easy) and the one
# that asks what DeepSORT needs: same-object crops less than 2 s (20 frames) apart are left out of the gallery
val_evaluator = [
    dict(type="ReIDMetric", ranks=(1, 5)),
    dict(type="ReIDMetric", ranks=(1, 5), min_frame_gap=20, prefix="reid_gap20"),
]
test_evaluator = val_evaluator

optim_wrapper = dict(
    type="OptimWrapper",
    optimizer=dict(type="AdamW", lr=1e-3, weight_decay=5e-4),
    paramwise_cfg=dict(norm_decay_mult=0.0, bias_decay_mult=0.0),
)
param_scheduler = [
    dict(type="LinearLR", start_factor=0.01, by_epoch=False, begin=0, end=50),
    dict(type="CosineAnnealingLR", by_epoch=False, begin=0, eta_min=1e-5),
]
train_cfg = dict(type="IterBasedTrainLoop", max_iters=600, val_interval=600)
val_cfg = dict()
test_cfg = dict()
default_hooks = dict(
    logger=dict(interval=50),
    checkpoint=dict(
        by_epoch=False, interval=600, max_keep_ckpts=1, save_best="reid_gap20/mAP", rule="greater"
    ),
)
