"""Lexicon and regex constraints, alone and inside the CTC beam search (brute-force oracle)."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from visionstack.tasks.ocr.constraints import Constraint, LexiconConstraint, RegexConstraint, build_constraint
from visionstack.tasks.ocr.decoding import ctc_log_likelihood, ctc_prefix_beam_search


def _walk(constraint, text):
    state = constraint.start()
    for char in text:
        state = constraint.advance(state, char)
        if state is None:
            return None
    return state


def test_lexicon_trie_liveness_finality_and_case(tmp_path):
    lexicon = LexiconConstraint(["Hello", "help", "he"], ignore_case=True)
    assert isinstance(lexicon, Constraint) and lexicon.num_words == 3
    assert lexicon.is_final(_walk(lexicon, "HE")) and not lexicon.is_final(_walk(lexicon, "hel"))
    assert _walk(lexicon, "hex") is None and lexicon.is_final(_walk(lexicon, "hello"))
    strict = LexiconConstraint(["Hello"], ignore_case=False)
    assert _walk(strict, "hello") is None and strict.is_final(_walk(strict, "Hello"))
    path = tmp_path / "lexicon.txt"
    path.write_text("cat\n\n dog \n", encoding="utf-8")
    from_file = LexiconConstraint(path)
    assert from_file.words == ["cat", "dog"]
    with pytest.raises(ValueError, match="no word"):
        LexiconConstraint([""])


def test_regex_partial_liveness_and_full_finality():
    date = RegexConstraint(r"\d{2}/\d{2}/\d{4}")
    assert _walk(date, "12/0") is not None and not date.is_final(_walk(date, "12/0"))
    assert _walk(date, "12a") is None and _walk(date, "123") is None
    assert date.is_final(_walk(date, "12/05/2024")) and _walk(date, "12/05/20245") is None
    cased = RegexConstraint("[A-Z]+")
    assert _walk(cased, "ab") is None and _walk(RegexConstraint("[A-Z]+", ignore_case=True), "ab") is not None
    with pytest.raises(ValueError, match="invalid pattern"):
        RegexConstraint("(")
    with pytest.raises(ValueError, match="not both"):
        build_constraint(["a"], "a")
    assert build_constraint() is None


def _labellings(probs, blank):
    """Exhaustive: every labelling reachable, with its probability summed over alignments."""
    totals: dict[tuple[int, ...], float] = {}
    num_frames, num_classes = probs.shape
    for path in itertools.product(range(num_classes), repeat=num_frames):
        labels, previous = [], None
        for symbol in path:
            if symbol != blank and symbol != previous:
                labels.append(symbol)
            previous = symbol
        p = float(np.prod(probs[np.arange(num_frames), list(path)]))
        totals[tuple(labels)] = totals.get(tuple(labels), 0.0) + p
    return totals


def test_lexicon_decoding_picks_the_most_probable_word_by_brute_force():
    rng = np.random.default_rng(0)
    labels = ["a", "b", "-"]  # blank = 2
    words = ["ab", "ba", "aa", "b", "aba"]
    for _ in range(20):
        probs = rng.dirichlet(np.ones(3) * 0.7, size=5)
        totals = _labellings(probs, 2)
        expected = max(words, key=lambda w: totals.get(tuple(labels.index(c) for c in w), 0.0))
        result = ctc_prefix_beam_search(
            probs, 2, beam_width=100, constraint=LexiconConstraint(words), labels=labels
        )
        decoded = "".join(labels[i] for i in result.indices)
        assert result.constrained and decoded == expected
        assert result.log_score == pytest.approx(np.log(totals[tuple(result.indices)]), rel=1e-9)
        # and matches the forward algorithm
        assert result.log_score == pytest.approx(ctc_log_likelihood(probs, result.indices, 2), rel=1e-9)


def _peaked(texts_per_frame, labels, blank_label="-", peak=0.6):
    """Per-frame distributions: each frame splits ``peak`` among its candidate characters."""
    probs = np.full((len(texts_per_frame), len(labels)), 1e-3)
    for t, candidates in enumerate(texts_per_frame):
        for char, weight in candidates:
            probs[t, labels.index(char)] = weight
    return probs / probs.sum(axis=1, keepdims=True)


def test_regex_forces_a_date_out_of_an_ambiguous_output():
    labels = list("0123456789/lIO") + ["-"]
    blank = len(labels) - 1
    # the unconstrained best reads "l2/O5/2O24" (l for 1, O for 0): letters slightly ahead of digits
    frames = [
        [("l", 0.5), ("1", 0.4)],
        [("-", 0.9)],
        [("2", 0.9)],
        [("/", 0.9)],
        [("O", 0.5), ("0", 0.4)],
        [("5", 0.9)],
        [("/", 0.9)],
        [("2", 0.9)],
        [("O", 0.5), ("0", 0.4)],
        [("2", 0.9)],
        [("4", 0.9)],
    ]
    probs = _peaked(frames, labels)
    free = ctc_prefix_beam_search(probs, blank, beam_width=10)
    assert "".join(labels[i] for i in free.indices) == "l2/O5/2O24"
    dated = ctc_prefix_beam_search(
        probs, blank, beam_width=10, constraint=RegexConstraint(r"\d{2}/\d{2}/\d{4}"), labels=labels
    )
    assert dated.constrained and "".join(labels[i] for i in dated.indices) == "12/05/2024"
    assert len(dated.char_scores) == 10 and dated.char_scores[0] == pytest.approx(probs[0, 1])


def test_no_final_prefix_falls_back_to_the_unconstrained_result():
    labels = ["a", "b", "-"]
    probs = _peaked([[("a", 0.9)], [("b", 0.9)]], labels)
    result = ctc_prefix_beam_search(
        probs, 2, beam_width=5, constraint=LexiconConstraint(["zzz"]), labels=labels
    )
    assert not result.constrained and result.indices.tolist() == [0, 1]
    with pytest.raises(ValueError, match="labels"):
        ctc_prefix_beam_search(probs, 2, constraint=LexiconConstraint(["a"]))
