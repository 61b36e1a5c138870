# CRNN (Shi et al. 2016) on the synthetic word crops, CPU-sized: MMOCR's MiniVGG at half width (32..256
# channels, BN after every convolution) on 32x100 colour crops, two BiLSTM layers of 128 units, CTC over the 90 printable characters of
# MMOCR's english_digits_symbols (case-sensitive) with the blank at the padding index. Greedy decoding;
# model.test_cfg.decoding="beam" for the prefix beam search, model.test_cfg.lexicon=FILE or
# model.test_cfg.pattern=REGEX (or `infer --lexicon/--pattern`) for constrained decoding.
_base_ = [
    "../_base_/datasets/synth_ocr_recog.py",
    "../_base_/schedules/cpu_ocr_adamw.py",
    "../_base_/default_runtime.py",
]
data_root = "data/synth_ocr/"
dictionary = dict(type="Dictionary", chars="english_digits_symbols", with_padding=True)
model = dict(
    type="CRNN",
    backbone=dict(
        type="MiniVGG",
        leaky_relu=False,
        input_channels=3,
        channels=(32, 64, 128, 128, 256, 256, 256),
        norm_every_conv=True,
    ),
    decoder=dict(type="CRNNDecoder", in_channels=256, dictionary=dictionary, rnn_flag=True, hidden_channels=128),
    module_loss=dict(type="CTCModuleLoss", dictionary=dictionary, letter_case="unchanged", zero_infinity=True),
    test_cfg=dict(decoding="greedy"),
    data_preprocessor=dict(
        type="TextRecogDataPreprocessor", mean=[127.5, 127.5, 127.5], std=[127.5, 127.5, 127.5]
    ),
)
# batch 32 at 3e-3: on 2 cores CTC leaves its all-blank plateau in about a third of the time batch 64 at 1e-3
# takes (with BN after every convolution; see MiniVGG's norm_every_conv)
train_dataloader = dict(batch_size=32)
optim_wrapper = dict(optimizer=dict(lr=3e-3))
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=4, val_interval=1)
default_hooks = dict(
    checkpoint=dict(interval=1, max_keep_ckpts=2, save_best="recog/word_acc_ignore_case", rule="greater")
)
