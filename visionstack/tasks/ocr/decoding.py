"""Decoding of recognizer outputs into character indexes, NumPy only (the ONNX runtime uses it).

CTC (CRNN): ``probs`` (T, C) are per-frame softmax probabilities and ``blank`` the CTC blank
(MMOCR: the dictionary's padding index). A labelling's probability is the sum over its alignments
(Graves et al. 2006): collapse repeated symbols, then drop blanks (``aa`` needs a blank between).

- :func:`ctc_greedy`: best path (argmax per frame), collapsed.
- :func:`ctc_prefix_beam_search`: the prefix beam search (Hannun et al. 2014, arXiv:1408.2873),
  in the log domain, optionally under a :class:`~.constraints.Constraint`. With a beam wider than the
  number of prefixes it is exact: it returns the most probable labelling.

A character's confidence is the highest probability among the frames where it is emitted: on the
argmax path for greedy (MMOCR's ``CTCPostProcessor`` takes the first of those frames instead:
``char_score="first"``), on the most probable alignment of the chosen labelling for beam search
(:func:`ctc_char_scores`, a Viterbi forced alignment).

Attention (NRTR): ``probs`` (T, C) are the probabilities of each decoding step;
:func:`attention_greedy` takes the argmax per step until the end token (MMOCR's
``AttentionPostprocessor``).
"""

from __future__ import annotations

import functools
import math
from collections.abc import Mapping, Sequence
from typing import Any, NamedTuple

import numpy as np

from .constraints import Constraint, build_constraint

__all__ = [
    "CTCBeamResult",
    "cached_constraint",
    "decode_indices",
    "decode_probs",
    "attention_greedy",
    "ctc_char_scores",
    "ctc_decode",
    "ctc_greedy",
    "ctc_log_likelihood",
    "ctc_prefix_beam_search",
    "decode_length",
]

_NEG_INF = -math.inf


class CTCBeamResult(NamedTuple):
    """The best labelling of a beam search and its runners-up.

    ``indices`` (L,) int64 and ``char_scores`` (L,) float32 of the best labelling; ``log_score`` its
    log probability (summed over alignments); ``n_best`` [(indices tuple, log probability)] best
    first; ``constrained`` False when a constraint was given but no beam satisfied it (the result is
    then the unconstrained one).
    """

    indices: np.ndarray
    char_scores: np.ndarray
    log_score: float
    n_best: list[tuple[tuple[int, ...], float]]
    constrained: bool


def decode_length(num_frames: int, valid_ratio: float = 1.0) -> int:
    """Frames to decode of a padded crop: ``min(T, ceil(T * valid_ratio))`` (MMOCR's)."""
    return min(num_frames, math.ceil(num_frames * valid_ratio))


def _check_probs(probs: Any, blank: int) -> np.ndarray:
    probs = np.asarray(probs)
    if probs.ndim != 2:
        raise ValueError(f"probs must be (T, C), got shape {probs.shape}")
    if not 0 <= blank < probs.shape[1]:
        raise ValueError(f"blank={blank} is outside the {probs.shape[1]} classes")
    return probs


def ctc_greedy(
    probs: Any, blank: int, *, length: int | None = None, char_score: str = "max"
) -> tuple[np.ndarray, np.ndarray]:
    """Best-path CTC decoding.

    Args:
        probs: (T, C) per-frame probabilities.
        blank: the blank index.
        length: decode only the first ``length`` frames (see :func:`decode_length`).
        char_score: ``"max"``: a character's score is the highest probability among the frames of
            its run; ``"first"``: the first frame's (MMOCR's ``CTCPostProcessor``).

    Returns:
        ``(indices (L,) int64, char_scores (L,) float32)``.
    """
    probs = _check_probs(probs, blank)[:length]
    if char_score not in ("max", "first"):
        raise ValueError(f"char_score must be 'max' or 'first', got {char_score!r}")
    best = probs.argmax(axis=1)
    best_prob = probs[np.arange(len(best)), best]
    indices: list[int] = []
    scores: list[float] = []
    previous = blank
    for index, prob in zip(best.tolist(), best_prob.tolist()):
        if index != blank:
            if index != previous:
                indices.append(index)
                scores.append(prob)
            elif char_score == "max":
                scores[-1] = max(scores[-1], prob)
        previous = index
    return np.asarray(indices, dtype=np.int64), np.asarray(scores, dtype=np.float32)


def _log(probs: np.ndarray) -> np.ndarray:
    with np.errstate(divide="ignore"):
        return np.log(probs.astype(np.float64))


def ctc_log_likelihood(probs: Any, indices: Sequence[int], blank: int) -> float:
    """log p(labelling | probs): the CTC forward algorithm over all alignments (-inf if none)."""
    log_probs = _log(_check_probs(probs, blank))
    extended = _extend(indices, blank)
    alpha = _forward(log_probs, extended, np.logaddexp)[0]
    if len(extended) == 1:
        return float(alpha[-1, -1])
    return float(np.logaddexp(alpha[-1, -1], alpha[-1, -2]))


def _extend(indices: Sequence[int], blank: int) -> list[int]:
    """blank, l1, blank, l2, ..., blank (the CTC state sequence)."""
    extended = [blank]
    for index in indices:
        extended += [int(index), blank]
    return extended


def _forward(log_probs: np.ndarray, extended: list[int], combine: Any) -> tuple[np.ndarray, np.ndarray]:
    """The CTC trellis: ``alpha`` (T, S) and the chosen predecessor (T, S) of each state.

    ``combine`` is ``np.logaddexp`` (sum over alignments) or ``np.maximum`` (the best alignment).
    """
    num_frames, num_states = log_probs.shape[0], len(extended)
    alpha = np.full((num_frames, num_states), _NEG_INF)
    back = np.zeros((num_frames, num_states), dtype=np.int64)
    if num_frames == 0:
        return alpha, back
    emit = log_probs[:, extended]  # (T, S)
    alpha[0, 0] = emit[0, 0]
    if num_states > 1:
        alpha[0, 1] = emit[0, 1]
    # a state may come from itself, the previous state, or two back (skipping a blank between two
    # different labels)
    skip = np.zeros(num_states, dtype=bool)
    for s in range(2, num_states):
        skip[s] = s % 2 == 1 and extended[s] != extended[s - 2]  # odd states are labels
    for t in range(1, num_frames):
        stay = alpha[t - 1]
        step = np.full(num_states, _NEG_INF)
        step[1:] = stay[:-1]
        jump = np.full(num_states, _NEG_INF)
        jump[2:] = stay[:-2]
        jump[~skip] = _NEG_INF
        candidates = np.stack([stay, step, jump])  # (3, S)
        back[t] = np.argmax(candidates, axis=0)
        with np.errstate(invalid="ignore"):
            total = combine(combine(stay, step), jump)
        alpha[t] = total + emit[t]
    return alpha, back


def ctc_char_scores(probs: Any, indices: Sequence[int], blank: int) -> np.ndarray:
    """Per-character confidences of a labelling: on its most probable alignment (Viterbi), the
    highest probability among the frames that emit each character. (L,) float32; zeros when the
    labelling has no alignment (longer than the frames allow)."""
    probs = _check_probs(probs, blank)
    indices = [int(i) for i in indices]
    if not indices:
        return np.zeros(0, dtype=np.float32)
    extended = _extend(indices, blank)
    alpha, back = _forward(_log(probs), extended, np.maximum)
    last = len(extended) - 1
    state = last if alpha[-1, last] >= alpha[-1, last - 1] else last - 1
    if not np.isfinite(alpha[-1, state]):
        return np.zeros(len(indices), dtype=np.float32)
    scores = np.zeros(len(indices), dtype=np.float32)
    for t in range(probs.shape[0] - 1, -1, -1):
        if state % 2 == 1:
            char = state // 2
            scores[char] = max(scores[char], probs[t, extended[state]])
        state -= int(back[t, state])
    return scores


class _Beam:
    __slots__ = ("blank", "nonblank", "state")

    def __init__(self, state: Any) -> None:
        self.blank = _NEG_INF  # log p(prefix, alignment ending in blank)
        self.nonblank = _NEG_INF  # log p(prefix, alignment ending in its last label)
        self.state = state

    @property
    def total(self) -> float:
        return float(np.logaddexp(self.blank, self.nonblank))


def ctc_prefix_beam_search(
    probs: Any,
    blank: int,
    beam_width: int = 10,
    constraint: Constraint | None = None,
    *,
    labels: Sequence[str] | None = None,
    length: int | None = None,
    n_best: int | None = None,
) -> CTCBeamResult:
    """CTC prefix beam search (log domain), optionally constrained.

    Args:
        probs: (T, C) per-frame probabilities.
        blank: the blank index.
        beam_width: prefixes kept after each frame.
        constraint: keep only prefixes the constraint finds live, and return a final one; when no
            kept prefix is final, the unconstrained result comes back with ``constrained=False``.
        labels: the string of each class index (``Dictionary.dict``); needed with a constraint.
        length: decode only the first ``length`` frames.
        n_best: how many labellings ``n_best`` lists (default ``beam_width``).

    Returns:
        :class:`CTCBeamResult`.
    """
    probs = _check_probs(probs, blank)[:length]
    if beam_width < 1:
        raise ValueError(f"beam_width must be >= 1, got {beam_width}")
    if constraint is not None and labels is None:
        raise ValueError("ctc_prefix_beam_search: a constraint needs labels (the string of each class)")
    log_probs = _log(probs)
    beams = _search(log_probs, blank, beam_width, constraint, labels)
    ranked = sorted(beams.items(), key=lambda item: item[1].total, reverse=True)
    constrained = constraint is not None
    if constrained:
        ranked = [(prefix, beam) for prefix, beam in ranked if constraint.is_final(beam.state)]
        if not ranked:
            unconstrained = ctc_prefix_beam_search(probs, blank, beam_width, length=length, n_best=n_best)
            return unconstrained._replace(constrained=False)
    ranked = [(prefix, beam.total) for prefix, beam in ranked if np.isfinite(beam.total)] or [((), _NEG_INF)]
    best, log_score = ranked[0]
    return CTCBeamResult(
        indices=np.asarray(best, dtype=np.int64),
        char_scores=ctc_char_scores(probs, best, blank),
        log_score=float(log_score),
        n_best=ranked[: n_best or beam_width],
        constrained=constrained,
    )


def _entry(beams: dict[tuple[int, ...], _Beam], prefix: tuple[int, ...], state: Any) -> _Beam:
    beam = beams.get(prefix)
    if beam is None:
        beam = beams[prefix] = _Beam(state)
    return beam


def _search(
    log_probs: np.ndarray,
    blank: int,
    beam_width: int,
    constraint: Constraint | None,
    labels: Sequence[str] | None,
) -> dict[tuple[int, ...], _Beam]:
    root = _Beam(constraint.start() if constraint is not None else None)
    root.blank = 0.0
    beams = {(): root}
    symbols = [c for c in range(log_probs.shape[1]) if c != blank]
    for frame in log_probs:
        following: dict[tuple[int, ...], _Beam] = {}
        for prefix, beam in beams.items():
            total = beam.total
            # stay on the prefix: a blank, or the last label repeated (collapsed)
            same = _entry(following, prefix, beam.state)
            same.blank = np.logaddexp(same.blank, total + frame[blank])
            if prefix:
                same.nonblank = np.logaddexp(same.nonblank, beam.nonblank + frame[prefix[-1]])
            for symbol in symbols:
                log_p = frame[symbol]
                if log_p == _NEG_INF:
                    continue
                state = None
                if constraint is not None:
                    state = constraint.advance(beam.state, labels[symbol])
                    if state is None:
                        continue
                # a repeated label only extends the prefix after a blank
                source = beam.blank if prefix and symbol == prefix[-1] else total
                extended = _entry(following, prefix + (symbol,), state)
                extended.nonblank = np.logaddexp(extended.nonblank, source + log_p)
        ranked = sorted(following.items(), key=lambda item: item[1].total, reverse=True)
        beams = dict(ranked[:beam_width])
    return beams


def ctc_decode(
    probs: Any,
    blank: int,
    *,
    decoding: str = "greedy",
    beam_width: int = 10,
    constraint: Constraint | None = None,
    labels: Sequence[str] | None = None,
    length: int | None = None,
) -> tuple[np.ndarray, np.ndarray, bool]:
    """One entry point for the model and the runtime: ``(indices, char_scores, constrained)``.

    ``decoding="greedy"`` without a constraint is :func:`ctc_greedy`; ``"beam"``, or any decoding
    with a constraint, is :func:`ctc_prefix_beam_search`.
    """
    if decoding not in ("greedy", "beam"):
        raise ValueError(f"decoding must be 'greedy' or 'beam', got {decoding!r}")
    if decoding == "greedy" and constraint is None:
        indices, scores = ctc_greedy(probs, blank, length=length)
        return indices, scores, False
    result = ctc_prefix_beam_search(probs, blank, beam_width, constraint, labels=labels, length=length)
    return result.indices, result.char_scores, result.constrained


def attention_greedy(
    probs: Any, end_idx: int | None, ignore: Sequence[int] = ()
) -> tuple[np.ndarray, np.ndarray]:
    """Argmax per decoding step until the end token (MMOCR's ``AttentionPostprocessor``).

    Args:
        probs: (T, C) probabilities of each step.
        end_idx: the end token (decoding stops before it); None decodes every step.
        ignore: indexes skipped without stopping (MMOCR: the padding index).

    Returns:
        ``(indices (L,) int64, char_scores (L,) float32)``: each kept step's argmax and its probability.
    """
    probs = np.asarray(probs)
    if probs.ndim != 2:
        raise ValueError(f"probs must be (T, C), got shape {probs.shape}")
    best = probs.argmax(axis=1)
    skip = {int(i) for i in ignore if i is not None}
    indices, scores = [], []
    for step, index in enumerate(best.tolist()):
        if index in skip:
            continue
        if index == end_idx:
            break
        indices.append(index)
        scores.append(float(probs[step, index]))
    return np.asarray(indices, dtype=np.int64), np.asarray(scores, dtype=np.float32)


@functools.lru_cache(maxsize=16)
def _constraint(lexicon: Any, pattern: str | None, ignore_case: bool) -> Constraint | None:
    return build_constraint(list(lexicon) if isinstance(lexicon, tuple) else lexicon, pattern, ignore_case)


def cached_constraint(
    lexicon: Any = None, pattern: str | None = None, ignore_case: bool = True
) -> Constraint | None:
    """:func:`~.constraints.build_constraint`, built once per (lexicon, pattern, ignore_case) (a lexicon file
    is read once per process)."""
    if lexicon is None and pattern is None:
        return None
    key = tuple(lexicon) if isinstance(lexicon, (list, tuple)) else lexicon
    return _constraint(key, pattern, bool(ignore_case))


def decode_indices(
    probs: Any,
    spec: Mapping[str, Any],
    constraint: Constraint | None = None,
    valid_ratio: float = 1.0,
) -> tuple[np.ndarray, np.ndarray]:
    """``(indices (L,) int64, char_scores (L,) float32)`` of one sample's (T, C) probabilities, decoded as the
    recogniser's ``spec`` says (its ``decoding_spec()``, also deploy.json's ``postprocess``): ``kind`` (``ctc``
    or ``attention``), ``blank`` / ``end_idx`` / ``padding_idx``, ``decoding``, ``beam_width`` and ``chars``
    (the dictionary's entries by index). The PyTorch model and the ONNX runtime both decode here.

    Raises:
        ValueError: a ``constraint`` on an attention decoder (the PyTorch model rescores lexicon words by
            teacher forcing, which needs the network).
    """
    probs = np.asarray(probs, dtype=np.float32)
    if spec["kind"] == "ctc":
        indices, char_scores, _ = ctc_decode(
            probs,
            int(spec["blank"]),
            decoding=spec.get("decoding", "greedy"),
            beam_width=int(spec.get("beam_width", 10)),
            constraint=constraint,
            labels=spec["chars"],
            length=decode_length(probs.shape[0], valid_ratio),
        )
        return indices, char_scores
    if constraint is not None:
        raise ValueError(
            "an attention recogniser's lexicon decoding rescores words with the network: run the PyTorch "
            "model (`visionstack infer CONFIG CHECKPOINT --lexicon FILE`)"
        )
    return attention_greedy(probs, spec.get("end_idx"), ignore=(spec.get("padding_idx"),))


def decode_probs(
    probs: Any,
    spec: Mapping[str, Any],
    constraint: Constraint | None = None,
    valid_ratio: float = 1.0,
) -> tuple[str, float, np.ndarray]:
    """``(text, score, char_scores)`` of :func:`decode_indices`; ``score`` is the mean character confidence
    (0.0 for an empty text)."""
    indices, char_scores = decode_indices(probs, spec, constraint, valid_ratio)
    text = "".join(spec["chars"][int(index)] for index in indices)
    char_scores = np.asarray(char_scores, np.float32).reshape(-1)
    return text, float(char_scores.mean()) if len(char_scores) else 0.0, char_scores
