"""CRNN: MiniVGG shapes and size, loss/predict/export, decoding options, and a tiny overfit run."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from visionstack.structures import DataSample, LabelData
from visionstack.tasks.ocr.dictionary import Dictionary
from visionstack.tasks.ocr.models.crnn import CRNN, CRNNDecoder, MiniVGG
from visionstack.tasks.ocr.models.recog_preprocessor import TextRecogDataPreprocessor

pytestmark = pytest.mark.usefixtures("one_thread")

WORDS = ["cat", "dog", "house", "tree", "42", "river", "stone", "light"]
WORDS += ["apple", "green", "07", "blue", "wind", "paper", "x9", "moon"]


def render_words(words, channels=1):
    """Black DejaVu Sans words centred on white 32 x 100 crops: (N, channels, 32, 100) uint8."""
    font = ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"), 22)
    crops = []
    for word in words:
        image = Image.new("L", (100, 32), 255)
        draw = ImageDraw.Draw(image)
        draw.text(((100 - draw.textlength(word, font=font)) / 2, 3), word, font=font, fill=0)
        crops.append(np.repeat(np.asarray(image)[None], channels, axis=0))
    return torch.from_numpy(np.stack(crops))


def _samples(texts=None, count=None, **meta):
    if texts is None:
        return [DataSample(metainfo=dict(meta)) for _ in range(count)]
    return [DataSample(metainfo=dict(meta), gt_text=LabelData(item=t)) for t in texts]


def _tiny_crnn(in_channels=1, rnn_flag=True, **kwargs):
    dictionary = Dictionary(chars="lower_english_digits", with_padding=True)
    mean, std = [127.0] * in_channels, [127.0] * in_channels
    return CRNN(
        backbone=MiniVGG(leaky_relu=False, input_channels=in_channels, channels=(8, 16, 32, 32, 48, 48, 48)),
        decoder=CRNNDecoder(48, dictionary, rnn_flag=rnn_flag, hidden_channels=32),
        data_preprocessor=dict(mean=mean, std=std),
        **kwargs,
    )


def test_mini_vgg_published_shape_and_parameter_count():
    backbone = MiniVGG(leaky_relu=False, input_channels=1)
    assert backbone(torch.zeros(1, 1, 32, 100)).shape == (1, 512, 1, 26)
    assert [name for name in backbone.cnn._modules if "batchnorm" in name] == [
        "batchnorm2",
        "batchnorm4",
        "batchnorm6",
    ]
    dictionary = Dictionary(chars="lower_english_digits", with_padding=True)
    model = CRNN(
        backbone=backbone,
        decoder=CRNNDecoder(512, dictionary, rnn_flag=True),
        data_preprocessor=dict(mean=[127], std=[127]),
    )
    widths, kernels = [1, 64, 128, 256, 256, 512, 512, 512], [9] * 6 + [4]
    convs = sum(widths[i] * widths[i + 1] * kernels[i] + widths[i + 1] for i in range(7))
    bns = 2 * (256 + 512 + 512)

    def bilstm(n_in, hidden, n_out):  # 2 directions x 4 gates x (W_ih, W_hh, two biases), then a linear
        return 2 * 4 * hidden * (n_in + hidden + 2) + (2 * hidden + 1) * n_out

    expected = convs + bns + bilstm(512, 256, 256) + bilstm(256, 256, 37)
    assert sum(p.numel() for p in model.parameters()) == expected == 8_331_301
    assert MiniVGG(input_channels=3)(torch.zeros(2, 3, 32, 64)).shape == (2, 512, 1, 17)  # W // 4 + 1


def test_mini_vgg_norm_every_conv_adds_bn_after_each_convolution():
    published = MiniVGG(input_channels=1)
    every = MiniVGG(input_channels=1, norm_every_conv=True)
    names = [name for name, module in every.cnn.named_children() if isinstance(module, torch.nn.BatchNorm2d)]
    assert names == [f"batchnorm{i}" for i in range(7)]
    assert sum(isinstance(m, torch.nn.BatchNorm2d) for m in published.cnn.children()) == 3
    # the convolutions (and their checkpoint keys) are the published ones
    conv_keys = {k for k in published.state_dict() if "conv" in k}
    assert conv_keys <= set(every.state_dict())
    x = torch.rand(2, 1, 32, 100)
    assert every(x).shape == published(x).shape == (2, 512, 1, 26)


def test_loss_predict_export_and_preprocessor_gray_and_colour():
    torch.manual_seed(0)
    for channels in (1, 3):
        model = _tiny_crnn(channels)
        assert isinstance(model.data_preprocessor, TextRecogDataPreprocessor)
        batch = model.data_preprocessor(
            {"inputs": list(render_words(WORDS[:3], channels)), "data_samples": _samples(WORDS[:3])}
        )
        assert batch["inputs"].shape == (3, channels, 32, 100) and batch["inputs"].abs().max() <= 1.01
        losses = model.loss(batch["inputs"], batch["data_samples"])
        assert set(losses) == {"loss_ctc"} and torch.isfinite(losses["loss_ctc"])
        losses["loss_ctc"].backward()
        assert all(p.grad is not None for p in model.parameters())
        model.eval()
        probs = model.export_forward(batch["inputs"])
        assert probs.shape == (3, 26, 37) and torch.allclose(probs.sum(-1), torch.ones(3, 26), atol=1e-5)
        predictions = model.predict(batch["inputs"], _samples(count=3))
        for sample, sample_probs in zip(predictions, probs):
            pred = sample.pred_text
            assert isinstance(pred.item, str) and pred.char_scores.dtype == torch.float32
            assert pred.char_scores.shape == (len(pred.item),)
            expected = pred.char_scores.mean() if len(pred.item) else torch.tensor(0.0)
            assert pred.score.shape == () and torch.allclose(pred.score, expected)
            best = sample_probs.argmax(-1).tolist()
            collapsed = [c for i, c in enumerate(best) if c != 36 and (i == 0 or c != best[i - 1])]
            assert pred.item == model.dictionary.idx2str(collapsed)


def test_valid_ratio_limits_decoding_and_metainfo_constraints():
    model = _tiny_crnn().eval()
    logits = torch.full((1, 26, 37), -10.0)
    text = "abcdefghijklmnopqrstuvwxyz"
    for t, char in enumerate(text):
        logits[0, t, model.dictionary.str2idx(char)[0]] = 10.0

    class Fixed(torch.nn.Module):  # a decoder replacement giving fixed per-frame logits
        output_kind, dictionary = "ctc", model.dictionary

        def forward_test(self, feat, out_enc=None, data_samples=None):
            return logits.softmax(-1).expand(feat.shape[0], -1, -1)

    model.decoder = Fixed()
    inputs = torch.zeros(1, 1, 32, 100)
    assert model.predict(inputs, _samples(count=1))[0].pred_text.item == text
    assert model.predict(inputs, _samples(count=1, valid_ratio=0.5))[0].pred_text.item == text[:13]
    # a lexicon in the sample's metainfo (the CLI's --lexicon) or test_cfg
    logits[0, 3:] = -10.0
    logits[0, 3:, 36] = 10.0  # "abc" then blanks
    logits[0, 2, model.dictionary.str2idx("d")[0]] = 9.0  # "d" a close second at the last letter
    assert model.predict(inputs, _samples(count=1))[0].pred_text.item == "abc"
    pred = model.predict(inputs, _samples(count=1, lexicon=["abd", "xyz"]))[0].pred_text
    assert pred.item == "abd" and pred.char_scores[2] == pytest.approx(
        torch.sigmoid(torch.tensor(-1.0)).item(), rel=1e-3
    )
    model.test_cfg = {"pattern": r"ab[a-z]", "decoding": "beam", "beam_width": 3}
    assert model.predict(inputs, _samples(count=1))[0].pred_text.item == "abc"


def test_config_errors():
    dictionary = Dictionary(chars="ab")
    with pytest.raises(ValueError, match="with_padding"):
        CRNN(backbone=MiniVGG(), decoder=CRNNDecoder(512, dictionary))
    with pytest.raises(KeyError, match="test_cfg"):
        _tiny_crnn(test_cfg={"beam": 3})
    with pytest.raises(ValueError, match="height 1"):
        _tiny_crnn().loss(torch.zeros(1, 1, 64, 100), _samples(["a"]))


def test_tiny_crnn_overfits_sixteen_rendered_words(overfit_words):
    # The 1x1-convolution decoder (rnn_flag=False, MMOCR's option): a tiny BiLSTM CRNN needs ~600
    # iterations to leave CTC's all-blank plateau on 16 words, too long for a unit test.
    torch.manual_seed(0)
    model = _tiny_crnn(rnn_flag=False)
    samples = _samples(WORDS)
    batch = model.data_preprocessor({"inputs": list(render_words(WORDS)), "data_samples": samples})
    predictions, accuracy = overfit_words(model, batch["inputs"], samples, WORDS, _samples, 300)
    assert accuracy == 1.0
    assert all(p.pred_text.score > 0.5 for p in predictions)


def test_onnx_export_with_a_dynamic_batch_matches_onnxruntime(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from visionstack.export.onnx_export import ExportForward, export_onnx

    torch.manual_seed(0)
    model = _tiny_crnn().eval()
    path = export_onnx(
        ExportForward(model),
        (torch.randn(2, 1, 32, 100),),
        tmp_path / "crnn.onnx",
        ["inputs"],
        ["probs"],
        dynamic_axes={"inputs": {0: "batch"}},
    )
    inputs = torch.randn(5, 1, 32, 100)
    (probs,) = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"]).run(
        None, {"inputs": inputs.numpy()}
    )
    with torch.no_grad():
        np.testing.assert_allclose(probs, model.export_forward(inputs).numpy(), atol=1e-5)
