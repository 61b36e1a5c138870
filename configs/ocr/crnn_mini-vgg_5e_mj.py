# CRNN with MiniVGG on MJSynth (MMOCR's crnn_mini-vgg_5e_mj: word accuracy 0.8053 IIIT5K, 0.7991 SVT, 0.8739
# IC13, 0.5571 IC15, 0.6093 SVTP, 0.5694 CT80). The MMOCR-prepared layout at data_root: mjsynth/textrecog_train.json
# (MMOCR's dataset preparer; or an "image text" list, ann_format="list") with the images under
# mjsynth/mnt/ramdisk/max/90kDICT32px, and IIIT5K at iiit5k/textrecog_test.json. Grayscale 32x100 training crops,
# 36 lower-case characters and digits, CTC, Adadelta lr 1.0 for 5 epochs, batch 64; test crops keep their
# aspect ratio (height 32, width a multiple of 16), one per batch.
_base_ = ["../_base_/default_runtime.py"]
data_root = "data/"
dictionary = dict(type="Dictionary", chars="lower_english_digits", with_padding=True)
model = dict(
    type="CRNN",
    backbone=dict(type="MiniVGG", leaky_relu=False, input_channels=1),
    decoder=dict(type="CRNNDecoder", in_channels=512, dictionary=dictionary, rnn_flag=True),
    module_loss=dict(type="CTCModuleLoss", dictionary=dictionary, letter_case="lower"),
    test_cfg=dict(decoding="greedy"),
    data_preprocessor=dict(type="TextRecogDataPreprocessor", mean=[127], std=[127]),
)
train_pipeline = [
    dict(type="LoadImage", color_type="grayscale", ignore_empty=True),
    dict(type="LoadOCRAnnotations", with_text=True),
    dict(type="Resize", scale=(100, 32), keep_ratio=False),
    dict(type="PackTextRecogInputs"),
]
test_pipeline = [
    dict(type="LoadImage", color_type="grayscale"),
    dict(type="RescaleToHeight", height=32, min_width=32, max_width=None, width_divisor=16),
    dict(type="LoadOCRAnnotations", with_text=True),
    dict(type="PackTextRecogInputs"),
]
train_dataloader = dict(
    batch_size=64,
    num_workers=24,
    persistent_workers=True,
    sampler=dict(type="DefaultSampler", shuffle=True),
    collate_fn=dict(type="pseudo_collate"),
    dataset=dict(
        type="TextRecogDataset",
        data_root=data_root,
        ann_file="mjsynth/textrecog_train.json",
        data_prefix=dict(img_path="mjsynth/mnt/ramdisk/max/90kDICT32px"),
        pipeline=train_pipeline,
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
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=5, val_interval=1)
val_cfg = dict()
test_cfg = dict()
optim_wrapper = dict(type="OptimWrapper", optimizer=dict(type="Adadelta", lr=1.0))
param_scheduler = [dict(type="ConstantLR", factor=1.0)]
default_hooks = dict(checkpoint=dict(interval=1, max_keep_ckpts=2, save_best="recog/word_acc_ignore_case_symbol", rule="greater"))
