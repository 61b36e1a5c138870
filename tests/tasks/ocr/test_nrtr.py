"""NRTR: masks, teacher forcing vs step-by-step decoding, loss targets, export, ONNX, overfitting."""

from __future__ import annotations

from pathlib import Path

import matplotlib
import numpy as np
import pytest
import torch
from PIL import Image, ImageDraw, ImageFont

from visionstack.structures import DataSample, LabelData
from visionstack.tasks.ocr.decoding import attention_greedy
from visionstack.tasks.ocr.dictionary import Dictionary
from visionstack.tasks.ocr.models.nrtr import (
    NRTR,
    CEModuleLoss,
    NRTRDecoder,
    NRTREncoder,
    NRTRModalityTransform,
    PositionalEncoding,
)

pytestmark = pytest.mark.usefixtures("one_thread")

WORDS = ["cat", "dog", "house", "tree", "42", "river", "stone", "light"]
WORDS += ["apple", "green", "07", "blue", "wind", "paper", "x9", "moon"]


def render_words(words):
    """Black DejaVu Sans words centred on white 32 x 100 gray crops: (N, 1, 32, 100) uint8."""
    font = ImageFont.truetype(str(Path(matplotlib.get_data_path()) / "fonts/ttf/DejaVuSans.ttf"), 22)
    crops = []
    for word in words:
        image = Image.new("L", (100, 32), 255)
        draw = ImageDraw.Draw(image)
        draw.text(((100 - draw.textlength(word, font=font)) / 2, 3), word, font=font, fill=0)
        crops.append(np.asarray(image)[None])
    return torch.from_numpy(np.stack(crops))


def _dictionary(chars="lower_english_digits"):
    return Dictionary(chars=chars, with_start=True, with_end=True, same_start_end=True, with_padding=True)


def _tiny_nrtr(in_channels=1, max_seq_len=8, d_model=64, **kwargs):
    sizes = dict(
        n_head=4, d_k=d_model // 4, d_v=d_model // 4, d_model=d_model, d_inner=2 * d_model, dropout=0.0
    )
    return NRTR(
        backbone=NRTRModalityTransform(in_channels=in_channels, out_channels=d_model),
        encoder=NRTREncoder(n_layers=1, **sizes),
        decoder=NRTRDecoder(_dictionary(), n_layers=1, d_embedding=d_model, max_seq_len=max_seq_len, **sizes),
        data_preprocessor=dict(mean=[127.0] * in_channels, std=[127.0] * in_channels),
        **kwargs,
    )


def _samples(texts=None, count=None, **meta):
    if texts is None:
        return [DataSample(metainfo=dict(meta)) for _ in range(count)]
    return [DataSample(metainfo=dict(meta), gt_text=LabelData(item=t)) for t in texts]


def test_cpu_size_parameter_budget_and_shapes():
    dictionary = _dictionary("english_digits_symbols")
    model = NRTR(
        backbone=NRTRModalityTransform(out_channels=256),
        encoder=NRTREncoder(n_layers=3, n_head=8, d_k=32, d_v=32, d_model=256, d_inner=512),
        decoder=NRTRDecoder(
            dictionary, n_layers=3, d_embedding=256, n_head=8, d_k=32, d_v=32, d_model=256, d_inner=512
        ),
    )
    assert 3_000_000 < sum(p.numel() for p in model.parameters()) <= 5_000_000
    assert model.backbone(torch.zeros(2, 3, 32, 100)).shape == (2, 256, 1, 25)
    assert model.decoder.max_seq_len == 30 and dictionary.num_classes == 92


def test_positional_encoding_is_the_sinusoid_table():
    table = PositionalEncoding(6, n_position=5).position_table[0]
    pos, i = 3, 4  # even dimension: sin(pos / 10000^(i/d))
    assert table[pos, i].item() == pytest.approx(np.sin(pos / 10000 ** (4 / 6)), abs=1e-6)
    assert table[pos, 5].item() == pytest.approx(np.cos(pos / 10000 ** (4 / 6)), abs=1e-6)


def test_ce_targets_and_loss_ignore_padding_and_the_first_token():
    dictionary = _dictionary()  # 36 characters, <BOS/EOS>=36, <PAD>=37
    loss = CEModuleLoss(dictionary, max_seq_len=6, ignore_first_char=True, flatten=True)
    samples = _samples(["ab", "abcdefgh"])
    targets = loss.get_targets(samples)
    assert targets["padded_indexes"].tolist() == [[36, 10, 11, 36, 37, 37], [36, 10, 11, 12, 13, 14]]
    torch.manual_seed(0)
    logits = torch.randn(2, 6, 38, dtype=torch.float64, requires_grad=True)
    values = loss(logits, samples, targets)["loss_ce"]
    assert values.shape == (10,)  # reduction "none": N * (T - 1) per-token losses
    log_probs = torch.log_softmax(logits.detach(), -1)
    expected = -log_probs[0, 0, 10] - log_probs[0, 1, 11] - log_probs[0, 2, 36]
    assert values[:5].sum().item() == pytest.approx(expected.item()) and values[3:5].abs().max() == 0
    values.mean().backward()
    assert logits.grad[0, 3:].abs().max() == 0  # steps predicting padding, and the last step, get nothing
    mean = CEModuleLoss(dictionary, max_seq_len=6, ignore_first_char=True, reduction="mean")(logits, samples)
    assert mean["loss_ce"].item() == pytest.approx(values.sum().item() / 8)


def test_decoder_is_causal_and_teacher_forcing_equals_step_by_step_decoding():
    torch.manual_seed(0)
    model = _tiny_nrtr(max_seq_len=6).eval()
    inputs = torch.randn(2, 1, 32, 100)
    with torch.no_grad():
        out_enc = model._encode(inputs, None)[1]
        tokens = torch.randint(0, 36, (2, 6))
        tokens[:, 0] = model.dictionary.start_idx
        base = model.decoder.forward_train(None, out_enc, None, {"padded_indexes": tokens})
        for t in range(5):  # changing tokens after t leaves the outputs up to t unchanged
            changed = tokens.clone()
            changed[:, t + 1 :] = torch.randint(0, 38, (2, 5 - t))
            other = model.decoder.forward_train(None, out_enc, None, {"padded_indexes": changed})
            torch.testing.assert_close(other[:, : t + 1], base[:, : t + 1], rtol=1e-5, atol=1e-5)
            assert not torch.allclose(other[:, t + 1 :], base[:, t + 1 :])
        step_probs = model.decoder.forward_test(None, out_enc)
        fed = torch.cat([tokens[:, :1], step_probs.argmax(-1)[:, :-1]], dim=1)
        forced = model.decoder.forward_train(None, out_enc, None, {"padded_indexes": fed}).softmax(-1)
    torch.testing.assert_close(forced, step_probs, rtol=1e-5, atol=1e-6)


def _mmocr_greedy(decoder, out_enc):
    """MMOCR's loop: the whole padded (N, max_seq_len + 1) sequence through the decoder every step."""
    seq = torch.full((out_enc.shape[0], decoder.max_seq_len + 1), decoder.padding_idx, dtype=torch.long)
    seq[:, 0] = decoder.start_idx
    outputs = []
    for step in range(decoder.max_seq_len):
        probs = decoder.classifier(decoder.attend(seq, out_enc, None)[:, step]).softmax(-1)
        outputs.append(probs)
        seq[:, step + 1] = probs.argmax(-1)
    return torch.stack(outputs, dim=1)


@pytest.mark.parametrize("pad_bias", [0.0, 1.0])
def test_cached_greedy_decoding_equals_mmocrs_full_recomputation(pad_bias):
    torch.manual_seed(1)
    model = _tiny_nrtr(max_seq_len=7).eval()
    with torch.no_grad():
        # a bias toward <PAD> makes some steps emit it: its key must then be masked in later steps
        model.decoder.classifier.bias[model.dictionary.padding_idx] += pad_bias
        out_enc = model._encode(torch.randn(3, 1, 32, 100), None)[1]
        cached = model.decoder.forward_test(None, out_enc)
        reference = _mmocr_greedy(model.decoder, out_enc)
    if pad_bias:
        tokens = cached.argmax(-1)
        assert (tokens == model.dictionary.padding_idx).any() and (
            tokens != model.dictionary.padding_idx
        ).any()
    torch.testing.assert_close(cached, reference, rtol=1e-5, atol=1e-6)


def test_padded_columns_are_masked_by_valid_ratio():
    torch.manual_seed(0)
    model = _tiny_nrtr().eval()
    inputs = torch.randn(1, 1, 32, 100)
    noisy = inputs.clone()
    noisy[..., 52:] = torch.randn(1, 1, 32, 48)  # the padding (valid_ratio 0.5: 13 of 25 columns)
    with torch.no_grad():
        probs = [model.probabilities(x, _samples(count=1, valid_ratio=0.5)) for x in (inputs, noisy)]
    torch.testing.assert_close(probs[0], probs[1])


def test_predict_matches_export_forward_and_lexicon_rescoring():
    torch.manual_seed(0)
    model = _tiny_nrtr().eval()
    batch = model.data_preprocessor({"inputs": list(render_words(WORDS[:4])), "data_samples": None})
    with torch.no_grad():
        probs = model.export_forward(batch["inputs"])
        predictions = model.predict(batch["inputs"], _samples(count=4))
    assert probs.shape == (4, 8, 38)
    for sample, sample_probs in zip(predictions, probs.numpy()):
        indices, scores = attention_greedy(
            sample_probs, model.dictionary.end_idx, ignore=(model.dictionary.padding_idx,)
        )
        assert sample.pred_text.item == model.dictionary.idx2str(indices.tolist())
        np.testing.assert_allclose(sample.pred_text.char_scores.numpy(), scores, rtol=1e-6)
    # a lexicon: the word of highest teacher-forced probability (checked word by word)
    lexicon = ["cat", "dog", "tree", "moon"]
    with torch.no_grad():
        sample = model.predict(batch["inputs"][:1], _samples(count=1, lexicon=lexicon))[0]
        out_enc = model._encode(batch["inputs"][:1], None)[1]
        totals = []
        for word in lexicon:
            tokens = (
                [model.dictionary.start_idx] + model.dictionary.str2idx(word) + [model.dictionary.end_idx]
            )
            step = model.decoder.forward_train(
                None, out_enc, None, {"padded_indexes": torch.tensor([tokens[:-1]])}
            )
            log_probs = step.log_softmax(-1)[0, torch.arange(len(tokens) - 1), torch.tensor(tokens[1:])]
            totals.append(log_probs.sum().item())
    assert sample.pred_text.item == lexicon[int(np.argmax(totals))]
    assert sample.pred_text.char_scores.shape == (len(sample.pred_text.item),)
    with pytest.raises(KeyError, match="lexicon"):
        model.predict(batch["inputs"][:1], _samples(count=1, pattern=r"\d+"))


def test_onnx_export_matches_onnxruntime(tmp_path):
    ort = pytest.importorskip("onnxruntime")
    from visionstack.export.onnx_export import ExportForward, export_onnx

    torch.manual_seed(0)
    model = _tiny_nrtr(in_channels=3, max_seq_len=5, d_model=32).eval()
    inputs = torch.randn(2, 3, 32, 100)
    path = export_onnx(ExportForward(model), (inputs,), tmp_path / "nrtr.onnx", ["inputs"], ["probs"])
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    (probs,) = session.run(None, {"inputs": inputs.numpy()})
    with torch.no_grad():
        expected = model.export_forward(inputs).numpy()
    assert probs.shape == (2, 5, 38)
    np.testing.assert_allclose(probs, expected, atol=1e-4)


def test_config_errors():
    with pytest.raises(KeyError, match="max_seq_len"):
        _tiny_nrtr(module_loss=CEModuleLoss(_dictionary(), max_seq_len=40, ignore_first_char=True))
    with pytest.raises(ValueError, match="start token"):
        NRTRDecoder(Dictionary(chars="ab", with_padding=True))
    with pytest.raises(ValueError, match="input_height|height"):
        NRTRModalityTransform()(torch.zeros(1, 3, 64, 100))


def test_tiny_nrtr_overfits_sixteen_rendered_words(overfit_words):
    torch.manual_seed(0)
    model = _tiny_nrtr()
    samples = _samples(WORDS)
    batch = model.data_preprocessor({"inputs": list(render_words(WORDS)), "data_samples": samples})
    predictions, accuracy = overfit_words(model, batch["inputs"], samples, WORDS, _samples, 200)
    assert accuracy == 1.0
