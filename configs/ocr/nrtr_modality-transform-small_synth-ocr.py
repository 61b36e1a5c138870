# NRTR (Sheng et al. 2019) on the synthetic word crops, CPU-sized (4.1 M parameters): the modality transform
# (two 3x3 stride-2 convolutions, the height folded into the channels) to d_model 256, a 3-layer transformer
# encoder and a 3-layer decoder (8 heads of 32), cross entropy over the 90 printable characters of MMOCR's
# english_digits_symbols with start/end, padding and unknown tokens; greedy decoding up to 30 steps.
_base_ = [
    "../_base_/datasets/synth_ocr_recog.py",
    "../_base_/schedules/cpu_ocr_adamw.py",
    "../_base_/default_runtime.py",
]
data_root = "data/synth_ocr/"
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
    backbone=dict(type="NRTRModalityTransform", in_channels=3, out_channels=256),
    encoder=dict(type="NRTREncoder", n_layers=3, n_head=8, d_k=32, d_v=32, d_model=256, d_inner=512),
    decoder=dict(
        type="NRTRDecoder",
        dictionary=dictionary,
        n_layers=3,
        d_embedding=256,
        n_head=8,
        d_k=32,
        d_v=32,
        d_model=256,
        d_inner=512,
        max_seq_len=30,
    ),
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
train_dataloader = dict(batch_size=32)
optim_wrapper = dict(optimizer=dict(lr=5e-4))
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=3, val_interval=1)
default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best="recog/word_acc_ignore_case", rule="greater")
)
