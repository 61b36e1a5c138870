# NRTR with the modality transform on SynthText + MJSynth (MMOCR's nrtr_modality-transform_6e_st_mj; 30 M
# parameters: d_model 512, a 12-layer encoder and a 6-layer decoder, 8 heads). The MMOCR-prepared layout at
# data_root (mjsynth/ and synthtext/ textrecog_train.json; IIIT5K for the test), colour 32x100 crops (the
# published config pads to 160 wide), 90 printable characters with start/end, padding and unknown tokens,
# Adam 3e-4 for 6 epochs with decays at 3 and 4, batch 384.
_base_ = ["../_base_/default_runtime.py"]
data_root = "data/"
dictionary = dict(
    type="Dictionary",
    chars="english_digits_symbols",
    with_start=True,
    with_end=True,
    same_start_end=True,
    with_padding=True,
    with_unknown=True,
)
model = dict(
    type="NRTR",
    backbone=dict(type="NRTRModalityTransform"),
    encoder=dict(type="NRTREncoder", n_layers=12),
    decoder=dict(type="NRTRDecoder", dictionary=dictionary, max_seq_len=30),
    module_loss=dict(
        type="CEModuleLoss", dictionary=dictionary, max_seq_len=30, ignore_first_char=True, flatten=True
    ),
    data_preprocessor=dict(
        type="TextRecogDataPreprocessor",
        mean=[123.675, 116.28, 103.53],
        std=[58.395, 57.12, 57.375],
        bgr_to_rgb=True,
    ),
)
train_pipeline = [
    dict(type="LoadImage", ignore_empty=True),
    dict(type="LoadOCRAnnotations", with_text=True),
    dict(type="RescaleToHeight", height=32, min_width=32, max_width=160, width_divisor=16),
    dict(type="PadToWidth", width=160),
    dict(type="PackTextRecogInputs"),
]
test_pipeline = [
    dict(type="LoadImage"),
    dict(type="RescaleToHeight", height=32, min_width=32, max_width=160, width_divisor=16),
    dict(type="PadToWidth", width=160),
    dict(type="LoadOCRAnnotations", with_text=True),
    dict(type="PackTextRecogInputs"),
]
train_dataloader = dict(
    batch_size=384,
    num_workers=24,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="ConcatDataset",
        datasets=[
            dict(
                type="TextRecogDataset",
                data_root=data_root,
                ann_file="mjsynth/textrecog_train.json",
                data_prefix=dict(img_path="mjsynth/mnt/ramdisk/max/90kDICT32px"),
                pipeline=train_pipeline,
            ),
            dict(
                type="TextRecogDataset",
                data_root=data_root,
                ann_file="synthtext/textrecog_train.json",
                data_prefix=dict(img_path="synthtext"),
                pipeline=train_pipeline,
            ),
        ],
    ),
)
val_dataloader = dict(
    batch_size=1,
    num_workers=4,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=False),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="TextRecogDataset",
        data_root=data_root,
        ann_file="iiit5k/textrecog_test.json",
        data_prefix=dict(img_path="iiit5k"),
        pipeline=test_pipeline,
        test_mode=True,
    ),
)
test_dataloader = val_dataloader
val_evaluator = [
    dict(type="WordMetric", mode=["exact", "ignore_case", "ignore_case_symbol"]),
    dict(type="CharMetric"),
    dict(type="OneMinusNEDMetric"),
]
test_evaluator = val_evaluator
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=6, val_interval=1)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="Adam", lr=3e-4))
param_scheduler = [dict(type="MultiStepLR", milestones=[3, 4], end=6)]
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2, save_best="recog/word_acc_ignore_case_symbol", rule="greater"))
