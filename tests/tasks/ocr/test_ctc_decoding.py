"""CTC loss against a NumPy forward algorithm; greedy and prefix beam search against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest
import torch

from visionstack.structures import DataSample, LabelData
from visionstack.tasks.ocr.decoding import (
    attention_greedy,
    ctc_char_scores,
    ctc_decode,
    ctc_greedy,
    ctc_log_likelihood,
    ctc_prefix_beam_search,
    decode_length,
)
from visionstack.tasks.ocr.dictionary import Dictionary
from visionstack.tasks.ocr.models.ctc import CTCModuleLoss

pytestmark = pytest.mark.usefixtures("one_thread")


def _samples(texts, valid_ratios=None):
    ratios = valid_ratios or [1.0] * len(texts)
    return [DataSample(metainfo={"valid_ratio": r}, gt_text=LabelData(item=t)) for t, r in zip(texts, ratios)]


def _reference_nll(log_probs, labels, blank):
    """-log p(labels): the textbook alpha recursion, in float64 probabilities (no log tricks)."""
    probs = np.exp(log_probs.astype(np.float64))
    ext = [blank]
    for label in labels:
        ext += [label, blank]
    alpha = np.zeros((len(probs), len(ext)))
    alpha[0, 0] = probs[0, blank]
    if len(ext) > 1:
        alpha[0, 1] = probs[0, ext[1]]
    for t in range(1, len(probs)):
        for s in range(len(ext)):
            a = alpha[t - 1, s] + (alpha[t - 1, s - 1] if s >= 1 else 0.0)
            if s >= 2 and ext[s] != blank and ext[s] != ext[s - 2]:
                a += alpha[t - 1, s - 2]
            alpha[t, s] = a * probs[t, ext[s]]
    total = alpha[-1, -1] + (alpha[-1, -2] if len(ext) > 1 else 0.0)
    return -np.log(total)


def test_ctc_loss_equals_a_numpy_forward_algorithm():
    dictionary = Dictionary(chars="ab", with_padding=True)  # a=0, b=1, blank=<PAD>=2
    texts = ["ab", "aa", "", "b", "aba"]  # repeats need a blank between; an empty target
    torch.manual_seed(0)
    logits = torch.randn(len(texts), 7, 3, dtype=torch.float64)
    loss = CTCModuleLoss(dictionary, reduction="none")
    values = loss(logits, _samples(texts))["loss_ctc"]
    log_probs = torch.log_softmax(logits, dim=2).numpy()
    expected = [_reference_nll(log_probs[i], dictionary.str2idx(t), 2) for i, t in enumerate(texts)]
    np.testing.assert_allclose(values.detach().numpy(), expected, rtol=1e-6)
    mean = CTCModuleLoss(dictionary)(logits, _samples(texts))["loss_ctc"]
    lengths = np.array([max(len(t), 1) for t in texts])  # PyTorch's mean divides by max(length, 1)
    assert mean.item() == pytest.approx(np.mean(np.array(expected) / lengths), rel=1e-6)
    # and agrees with ctc_log_likelihood of the decoding module
    assert -ctc_log_likelihood(np.exp(log_probs[0]), [0, 1], 2) == pytest.approx(expected[0], rel=1e-9)


def test_ctc_loss_gradients_padded_targets_valid_ratio_and_letter_case():
    dictionary = Dictionary(chars="lower_english_digits", with_padding=True)
    logits = torch.randn(2, 6, 37, dtype=torch.float64, requires_grad=True)
    samples = _samples(["Ab1", "c"], valid_ratios=[1.0, 0.5])
    with pytest.raises(KeyError, match="'A'"):
        CTCModuleLoss(dictionary)(logits, samples)
    loss = CTCModuleLoss(dictionary, letter_case="lower", flatten=False, reduction="none")
    values = loss(logits, samples)["loss_ctc"]
    values.sum().backward()
    assert torch.isfinite(logits.grad).all() and logits.grad[0].abs().sum() > 0
    assert logits.grad[1, 3:].abs().max() == 0  # valid_ratio 0.5: frames 3.. are padding
    log_probs = torch.log_softmax(logits.detach(), 2).numpy()
    assert values[1].item() == pytest.approx(_reference_nll(log_probs[1, :3], [12], 36), rel=1e-6)
    small = Dictionary(chars="ab", with_padding=True)
    few = _samples(["ab", "b"])
    assert torch.autograd.gradcheck(
        lambda x: CTCModuleLoss(small)(x, few)["loss_ctc"],
        (torch.randn(2, 5, 3, dtype=torch.float64, requires_grad=True),),
    )
    with pytest.raises(ValueError, match="with_padding"):
        CTCModuleLoss(Dictionary(chars="ab"))


def test_greedy_collapses_repeats_drops_blanks_and_scores_runs():
    # classes a=0, b=1, blank=2; frames: a a - a b b -
    probs = np.array(
        [
            [0.6, 0.2, 0.2],
            [0.9, 0.05, 0.05],
            [0.1, 0.1, 0.8],
            [0.7, 0.2, 0.1],
            [0.1, 0.5, 0.4],
            [0.1, 0.8, 0.1],
            [0, 0, 1],
        ]
    )
    indices, scores = ctc_greedy(probs, 2)
    assert indices.tolist() == [0, 0, 1]  # "aa" survives thanks to the blank between
    np.testing.assert_allclose(scores, [0.9, 0.7, 0.8])  # the max over each run
    _, first = ctc_greedy(probs, 2, char_score="first")  # MMOCR's CTCPostProcessor
    np.testing.assert_allclose(first, [0.6, 0.7, 0.5])
    assert ctc_greedy(probs, 2, length=decode_length(7, 0.5))[0].tolist() == [0, 0]
    assert decode_length(26, 0.5) == 13 and decode_length(26, 1.0) == 26


def _brute_force(probs, blank):
    totals: dict[tuple[int, ...], float] = {}
    for path in itertools.product(range(probs.shape[1]), repeat=probs.shape[0]):
        labels, previous = [], None
        for symbol in path:
            if symbol != blank and symbol != previous:
                labels.append(symbol)
            previous = symbol
        totals[tuple(labels)] = totals.get(tuple(labels), 0.0) + float(
            np.prod(probs[np.arange(len(path)), path])
        )
    return totals


@pytest.mark.parametrize("seed", range(6))
def test_prefix_beam_search_finds_the_most_probable_labelling(seed):
    rng = np.random.default_rng(seed)
    frames, classes = int(rng.integers(2, 6)), int(rng.integers(2, 4))
    probs = rng.dirichlet(np.ones(classes), size=frames)
    blank = int(rng.integers(classes))
    totals = _brute_force(probs, blank)
    best = max(totals, key=totals.get)
    result = ctc_prefix_beam_search(probs, blank, beam_width=200, n_best=len(totals))
    assert tuple(result.indices.tolist()) == best
    assert result.log_score == pytest.approx(np.log(totals[best]), rel=1e-9)
    # every labelling's probability, exactly (the beam holds them all)
    for labelling, log_p in result.n_best:
        assert log_p == pytest.approx(np.log(totals[labelling]), rel=1e-9)
        assert ctc_log_likelihood(probs, labelling, blank) == pytest.approx(log_p, rel=1e-9)


def test_beam_width_one_equals_greedy_on_peaked_inputs_and_char_scores():
    rng = np.random.default_rng(1)
    path = [3, 3, 0, 1, 1, 0, 1, 2, 0, 0]  # blank 0: "3 1 1 2" (the two 1s split by a blank)
    probs = np.full((len(path), 4), 0.02)
    probs[np.arange(len(path)), path] = 0.94 - rng.uniform(0, 0.1, len(path))
    probs /= probs.sum(1, keepdims=True)
    greedy_indices, greedy_scores = ctc_greedy(probs, 0)
    beam = ctc_prefix_beam_search(probs, 0, beam_width=1)
    assert greedy_indices.tolist() == beam.indices.tolist() == [3, 1, 1, 2]
    np.testing.assert_allclose(beam.char_scores, greedy_scores, rtol=1e-6)
    indices, scores, constrained = ctc_decode(probs, 0, decoding="beam", beam_width=4)
    assert indices.tolist() == [3, 1, 1, 2] and not constrained
    np.testing.assert_allclose(ctc_char_scores(probs, [3, 1, 1, 2], 0), greedy_scores, rtol=1e-6)
    assert ctc_char_scores(probs[:2], [1, 1, 1], 0).tolist() == [0, 0, 0]  # no alignment fits
    with pytest.raises(ValueError, match="decoding"):
        ctc_decode(probs, 0, decoding="viterbi")


def test_attention_greedy_stops_at_end_and_skips_padding():
    # classes: a=0 b=1 <BOS/EOS>=2 <PAD>=3
    probs = np.array(
        [
            [0.7, 0.1, 0.1, 0.1],
            [0.1, 0.1, 0.1, 0.7],
            [0.1, 0.8, 0.05, 0.05],
            [0.1, 0.1, 0.7, 0.1],
            [0.9, 0, 0.1, 0],
        ]
    )
    indices, scores = attention_greedy(probs, end_idx=2, ignore=(3,))
    assert indices.tolist() == [0, 1]
    np.testing.assert_allclose(scores, [0.7, 0.8])
    assert attention_greedy(probs, end_idx=None)[0].tolist() == [0, 3, 1, 2, 0]
