"""OCR metrics with MMOCR 1.x's semantics: detection hmean (ICDAR 2015), end-to-end hmean, word / char / N.E.D.

Detection (:class:`HmeanIOUMetric`, keys ``icdar/precision``, ``icdar/recall``, ``icdar/hmean``), per image:

1. predictions scoring below the lowest score threshold are dropped;
2. a prediction whose area lies more than ``ignore_precision_thr`` inside an ignored ground truth
   (``###``) is dropped too: ``|pred & ignored| / (|pred| + 1e-5) > 0.5``; it is neither a hit nor a
   false positive (the "don't care" rule of the ICDAR 2015 script);
3. the IoU matrix of the remaining ground truths and predictions (polygons repaired with ``buffer(0)``,
   see :mod:`.polygons`); a pair can match when ``IoU > match_iou_thr`` (strictly);
4. per score threshold: ``vanilla`` matching walks the pairs in (gt index, prediction index) order and
   takes a pair when neither side is taken yet (the official script's first-come rule), ``max_matching``
   takes a maximum bipartite matching (``scipy.sparse.csgraph.maximum_bipartite_matching``).

Hits, kept ground truths and kept predictions are summed over the dataset before the ratios
(:func:`compute_hmean`): recall = hits / gts (1.0 without gts), precision = hits / preds (0.0 without
predictions, 1.0 when there are neither), hmean their harmonic mean. With a score sweep
(``pred_score_thrs=dict(start, stop, step)``, thresholds ``np.arange(start, stop, step)``) the values
of the threshold with the best hmean are reported (the lowest threshold among ties) and the key
``sweep_best_score_thr`` says which: a number tuned on the test set, hence the flag.

Recognition (:class:`WordMetric`, :class:`CharMetric`, :class:`OneMinusNEDMetric`, keys ``recog/...``)
compare ``pred_text.item`` with ``gt_text.item`` after MMOCR's normalisation (lower case, then the
characters matched by ``valid_symbol`` removed) and round the reported values to 4 decimals as MMOCR
does. Note MMOCR's default pattern ``[^A-Z^a-z^0-9^\\u4e00-\\u9fa5]`` keeps ``^``: the carets inside the
class are literal characters, not negations.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from difflib import SequenceMatcher
from typing import Any

import numpy as np
from scipy.sparse import csr_matrix
from scipy.sparse.csgraph import maximum_bipartite_matching

from visionstack.evaluation import BaseMetric, sample_fields
from visionstack.registry import METRICS

from .polygons import make_valid_polygon, to_shapely

__all__ = [
    "CharMetric",
    "E2EHmeanIOUMetric",
    "HmeanIOUMetric",
    "OCREndToEndMetric",
    "OneMinusNEDMetric",
    "WordMetric",
    "compute_hmean",
    "levenshtein_distance",
    "match_count",
    "normalized_edit_distance",
    "score_thresholds",
]

VALID_SYMBOL = "[^A-Z^a-z^0-9^\u4e00-\u9fa5]"
STRATEGIES = ("vanilla", "max_matching")
WORD_MODES = ("exact", "ignore_case", "ignore_case_symbol")
E2E_TEXT_MODES = ("icdar", "exact", "ignore_case", "ignore_case_symbol")
ICDAR_SPECIAL_CHARACTERS = "'!?.:,*\"()·[]/"
IGNORE_AREA_EPS = 1e-5  # MMOCR's denominator guard of the ignore-precision ratio
RECOG_EPS = 1e-8  # MMOCR's denominator guard of word accuracy and char precision / recall
_DET_EXPECTS = "pred_instances (polygons, scores) and gt_instances (polygons, ignored)"
_RECOG_EXPECTS = "pred_text.item and gt_text.item (the output of a text recognizer's val_step)"


# ---- numbers ------------------------------------------------------------------------------------------
def compute_hmean(hits: int, gt_num: int, pred_num: int) -> tuple[float, float, float]:
    """``(recall, precision, hmean)`` of dataset totals, with MMOCR's conventions for empty sets.

    No ground truth: recall 1.0 and precision 0.0 if anything was predicted, else 1.0. Otherwise
    recall = hits / gt_num and precision = hits / pred_num (0.0 without predictions); hmean is 0.0
    when both are 0.
    """
    if min(hits, gt_num, pred_num) < 0:
        raise ValueError(f"compute_hmean: counts must be >= 0, got {hits}, {gt_num}, {pred_num}")
    if gt_num == 0:
        recall, precision = 1.0, (0.0 if pred_num > 0 else 1.0)
    else:
        recall = hits / gt_num
        precision = 0.0 if pred_num == 0 else hits / pred_num
    total = recall + precision
    return recall, precision, (0.0 if total == 0 else 2.0 * precision * recall / total)


def score_thresholds(pred_score_thrs: float | Mapping[str, float]) -> tuple[np.ndarray, bool]:
    """The score thresholds to evaluate and whether they are a sweep.

    Args:
        pred_score_thrs: one threshold (a number), or ``dict(start, stop, step)`` expanded with
            ``np.arange`` as MMOCR does (``dict(start=0.3, stop=0.9, step=0.1)`` gives 0.3, 0.4, ..., 0.9: float
            rounding puts ``stop`` itself in this range).
    """
    if isinstance(pred_score_thrs, Mapping):
        unknown = set(pred_score_thrs) - {"start", "stop", "step"}
        if unknown:
            raise ValueError(
                f"pred_score_thrs takes start, stop and step; got unknown keys {sorted(unknown)}"
            )
        values = np.arange(**pred_score_thrs, dtype=np.float64)
        if values.size == 0:
            raise ValueError(f"pred_score_thrs {dict(pred_score_thrs)} gives no threshold")
        return values, True
    if isinstance(pred_score_thrs, bool) or not isinstance(pred_score_thrs, (int, float)):
        raise TypeError(
            f"pred_score_thrs must be a number or dict(start, stop, step), got {pred_score_thrs!r}"
        )
    return np.asarray([float(pred_score_thrs)]), False


def match_count(matchable: np.ndarray, strategy: str = "vanilla") -> list[tuple[int, int]]:
    """The matched (gt, prediction) pairs of a (G, P) boolean "may match" matrix.

    ``vanilla``: pairs in row-major order (gt index, then prediction index), each taken when neither
    side is matched yet. ``max_matching``: a maximum bipartite matching (which pairs are chosen among
    equally large matchings is SciPy's choice).
    """
    matchable = np.asarray(matchable, dtype=bool)
    if strategy == "max_matching":
        if matchable.size == 0:
            return []
        gt_of_pred = maximum_bipartite_matching(csr_matrix(matchable), perm_type="row")
        return [(int(g), int(p)) for p, g in enumerate(gt_of_pred) if g != -1]
    if strategy != "vanilla":
        raise ValueError(f"strategy must be one of {STRATEGIES}, got {strategy!r}")
    pairs: list[tuple[int, int]] = []
    used_gts: set[int] = set()
    used_preds: set[int] = set()
    for g, p in zip(*np.nonzero(matchable)):
        if g in used_gts or p in used_preds:
            continue
        used_gts.add(int(g))
        used_preds.add(int(p))
        pairs.append((int(g), int(p)))
    return pairs


def levenshtein_distance(a: str, b: str) -> int:
    """The edit distance (insertions, deletions, substitutions, each costing 1) between two strings.

    The dynamic programme runs one row per character of the longer string; inside a row the insertion
    chain ``row[j] = min(row[j], row[j-1] + 1)`` is a running minimum of ``row[k] - k``, plus ``j``.
    """
    if len(a) < len(b):
        a, b = b, a
    if not b:
        return len(a)
    codes = np.fromiter((ord(ch) for ch in b), dtype=np.int64, count=len(b))
    offsets = np.arange(len(b) + 1, dtype=np.int64)
    row = offsets.copy()
    for ch in a:
        candidate = np.empty_like(row)
        candidate[0] = row[0] + 1
        np.minimum(row[1:] + 1, row[:-1] + (codes != ord(ch)), out=candidate[1:])
        row = np.minimum.accumulate(candidate - offsets) + offsets
    return int(row[-1])


def normalized_edit_distance(a: str, b: str) -> float:
    """``levenshtein_distance / max(len(a), len(b))``, 0.0 for two empty strings (rapidfuzz's normalisation)."""
    longest = max(len(a), len(b))
    return 0.0 if longest == 0 else levenshtein_distance(a, b) / longest


def _round4(value: float) -> float:
    return float(f"{value:.4f}")  # MMOCR reports recognition metrics at 4 decimals


# ---- detection ----------------------------------------------------------------------------------------
def _as_scores(value: Any) -> np.ndarray:
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    return np.asarray(value, dtype=np.float32).reshape(-1)


def _as_flags(value: Any, count: int) -> np.ndarray:
    if value is None:
        return np.zeros(count, dtype=bool)
    if hasattr(value, "detach"):
        value = value.detach().cpu().numpy()
    flags = np.asarray(value, dtype=bool).reshape(-1)
    if flags.size != count:
        raise ValueError(f"{flags.size} ignore flags for {count} ground-truth polygons")
    return flags


def _instances(sample: Any, index: int, owner: str) -> tuple[Any, Any]:
    return sample_fields(sample, ("pred_instances", "gt_instances"), owner, index, _DET_EXPECTS)


class _PolygonMatchMetric(BaseMetric):
    """What the detection and end-to-end hmean share: prediction filtering, the IoU matrix, the sweep."""

    default_prefix = "icdar"
    key_names = {"precision": "precision", "recall": "recall", "hmean": "hmean"}

    def __init__(
        self,
        match_iou_thr: float = 0.5,
        ignore_precision_thr: float = 0.5,
        pred_score_thrs: float | Mapping[str, float] = 0.3,
        strategy: str = "vanilla",
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(collect_device=collect_device, prefix=prefix)
        if strategy not in STRATEGIES:
            raise ValueError(f"{type(self).__name__}: strategy must be one of {STRATEGIES}, got {strategy!r}")
        self.match_iou_thr = float(match_iou_thr)
        self.ignore_precision_thr = float(ignore_precision_thr)
        self.pred_score_thrs, self.sweep = score_thresholds(pred_score_thrs)
        self.strategy = strategy

    def _polygon_record(self, pred: Any, gt: Any, index: int) -> dict[str, Any]:
        """The IoU matrix of kept gts x kept predictions and the kept predictions' scores and indices."""
        owner = type(self).__name__
        try:
            raw_preds = [to_shapely(p) for p in (pred.get("polygons") or [])]
            gt_polys = [make_valid_polygon(p) for p in (gt.get("polygons") or [])]
        except ValueError as error:
            raise ValueError(f"{owner}: data_samples[{index}]: {error}") from error
        pred_polys = [make_valid_polygon(p) for p in raw_preds]
        scores = pred.get("scores")
        if scores is None:
            raise KeyError(f"{owner}: data_samples[{index}].pred_instances has no scores")
        scores = _as_scores(scores)
        if scores.size != len(pred_polys):
            raise ValueError(
                f"{owner}: data_samples[{index}] has {len(pred_polys)} predicted polygons but {scores.size} scores"
            )
        try:
            gt_ignored = _as_flags(gt.get("ignored"), len(gt_polys))
        except ValueError as error:
            raise ValueError(f"{owner}: data_samples[{index}]: {error}") from error
        kept_preds = self._kept_predictions(raw_preds, pred_polys, scores, gt_polys, gt_ignored)
        kept_gts = np.flatnonzero(~gt_ignored)
        iou = np.zeros((kept_gts.size, kept_preds.size), dtype=np.float64)
        for col, p in enumerate(kept_preds):
            for row, g in enumerate(kept_gts):
                union = gt_polys[g].union(pred_polys[p]).area
                iou[row, col] = gt_polys[g].intersection(pred_polys[p]).area / union if union else 0.0
        return {"iou": iou, "scores": scores[kept_preds], "pred_index": kept_preds, "gt_index": kept_gts}

    def _kept_predictions(
        self, raw_preds: list, pred_polys: list, scores: np.ndarray, gt_polys: list, gt_ignored: np.ndarray
    ) -> np.ndarray:
        """Indices of the predictions above the lowest threshold and not mostly inside an ignored gt.

        The ratio's denominator is the area of the prediction as given (MMOCR's), its numerator the
        intersection of the repaired polygons.
        """
        kept = []
        ignored_polys = [gt_polys[g] for g in np.flatnonzero(gt_ignored)]
        for p in np.flatnonzero(scores >= self.pred_score_thrs.min()):
            area = raw_preds[p].area + IGNORE_AREA_EPS
            if not any(
                ig.intersection(pred_polys[p]).area / area > self.ignore_precision_thr for ig in ignored_polys
            ):
                kept.append(p)
        return np.asarray(kept, dtype=np.int64)

    def _hits(self, record: dict[str, Any], keep: np.ndarray) -> int:
        """Matched pairs of one image among the predictions ``keep`` (a mask over the kept ones)."""
        return len(match_count(record["iou"][:, keep] > self.match_iou_thr, self.strategy))

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        hits = np.zeros(len(self.pred_score_thrs), dtype=np.int64)
        preds = np.zeros(len(self.pred_score_thrs), dtype=np.int64)
        gts = sum(record["iou"].shape[0] for record in results)
        for record in results:
            for i, threshold in enumerate(self.pred_score_thrs):
                keep = record["scores"] >= threshold
                hits[i] += self._hits(record, keep)
                preds[i] += int(keep.sum())
        best: dict[str, float] | None = None
        for i, threshold in enumerate(self.pred_score_thrs):
            recall, precision, hmean = compute_hmean(int(hits[i]), gts, int(preds[i]))
            if best is None or hmean > best["hmean"]:
                best = {"precision": precision, "recall": recall, "hmean": hmean, "thr": float(threshold)}
        values = {self.key_names[name]: best[name] for name in ("precision", "recall", "hmean")}
        if self.sweep:
            values["sweep_best_score_thr"] = round(best["thr"], 6)
        return values


@METRICS.register()
class HmeanIOUMetric(_PolygonMatchMetric):
    """Text-detection precision, recall and hmean by the ICDAR 2015 IoU protocol, as MMOCR 1.x computes it.

    Reads ``pred_instances.polygons`` (list of (P, 2) or flat, original image pixels) and ``.scores``
    (N,), ``gt_instances.polygons`` and ``.ignored`` (N,) bool (all False when absent), from DataSamples
    or the dicts ``to_dict()`` writes. See the module docstring for the protocol.

    Args:
        match_iou_thr: a gt and a prediction can match when their IoU is strictly above this.
        ignore_precision_thr: a prediction more than this fraction of whose area lies inside an
            ignored gt is left out of precision.
        pred_score_thrs: one score threshold (default 0.3; MMOCR's default is the sweep
            ``dict(start=0.3, stop=0.9, step=0.1)``), or such a sweep dict: then the best hmean is
            reported with ``sweep_best_score_thr``.
        strategy: ``"vanilla"`` (first-come one-to-one, the official script) or ``"max_matching"``.
        collect_device, prefix: see :class:`~visionstack.evaluation.BaseMetric` (default prefix ``icdar``).

    Keys: ``precision``, ``recall``, ``hmean`` (fractions), plus ``sweep_best_score_thr`` when sweeping.
    """

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for index, sample in enumerate(data_samples):
            pred, gt = _instances(sample, index, type(self).__name__)
            record = self._polygon_record(pred, gt, index)
            self.results.append({"iou": record["iou"], "scores": record["scores"]})


# ---- end to end ---------------------------------------------------------------------------------------
def icdar_text_match(
    gt_text: str, pred_text: str, special_characters: str = ICDAR_SPECIAL_CHARACTERS
) -> bool:
    """MMOCR's end-to-end text rule: equal ignoring case, where the gt may carry one special character
    (``special_characters``) at its start and/or its end that the prediction lacks (``"HELLO!"`` matches
    ``hello``; the reverse does not)."""
    gt_text, pred_text = gt_text.upper(), pred_text.upper()
    if gt_text == pred_text:
        return True
    if not gt_text:
        return False
    first, last = gt_text[0] in special_characters, gt_text[-1] in special_characters
    return (
        (first and gt_text[1:] == pred_text)
        or (last and gt_text[:-1] == pred_text)
        or (first and last and gt_text[1:-1] == pred_text)
    )


@METRICS.register()
class E2EHmeanIOUMetric(_PolygonMatchMetric):
    """End-to-end (detection + recognition) precision, recall and hmean, as MMOCR 1.x's metric of this name.

    The detection protocol of :class:`HmeanIOUMetric` (same filtering of ignored regions and low scores,
    same IoU matrix) decides which prediction goes with which gt; with ``vanilla`` matching a matched
    pair is a hit only when its texts agree (a pair with the wrong text still uses up both sides, as
    in MMOCR and the ICDAR script). With ``max_matching`` the matching is maximal over the pairs whose
    IoU passes *and* whose texts agree (MMOCR's ``max_matching`` ignores the texts, which makes it a
    detection score; this one is end to end). Texts: ``pred_instances.texts``, ``gt_instances.texts``.

    Args:
        match_iou_thr, ignore_precision_thr, pred_score_thrs, strategy: as :class:`HmeanIOUMetric`
            (the scores are the detection scores ``pred_instances.scores``).
        text_mode: how texts are compared: ``"icdar"`` (MMOCR's rule, :func:`icdar_text_match`),
            ``"exact"``, ``"ignore_case"``, ``"ignore_case_symbol"`` (lower case, ``valid_symbol``
            characters removed, as :class:`WordMetric`).
        valid_symbol: the pattern of the characters ``ignore_case_symbol`` removes.
        word_spotting: the ICDAR word-spotting variant: gts whose text could not be a dictionary word
            (after removing a final ``'s``, outer hyphens and ``special_characters``: an inner space, fewer
            than ``min_length_case_word`` characters, characters outside Latin/Greek letters and ``-``)
            become ignored; the others are compared exactly with their cleaned text.
        min_length_case_word, special_characters: see ``word_spotting`` and :func:`icdar_text_match`.
        collect_device, prefix: see :class:`~visionstack.evaluation.BaseMetric` (default prefix ``icdar``).

    Keys: ``precision``, ``recall``, ``hmean`` (MMOCR's), plus ``sweep_best_score_thr`` when sweeping.
    """

    default_text_mode = "icdar"

    def __init__(
        self,
        match_iou_thr: float = 0.5,
        ignore_precision_thr: float = 0.5,
        pred_score_thrs: float | Mapping[str, float] = 0.3,
        strategy: str = "vanilla",
        text_mode: str | None = None,
        valid_symbol: str = VALID_SYMBOL,
        word_spotting: bool = False,
        min_length_case_word: int = 3,
        special_characters: str = ICDAR_SPECIAL_CHARACTERS,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(
            match_iou_thr, ignore_precision_thr, pred_score_thrs, strategy, collect_device, prefix
        )
        text_mode = self.default_text_mode if text_mode is None else text_mode
        if text_mode not in E2E_TEXT_MODES:
            raise ValueError(
                f"{type(self).__name__}: text_mode must be one of {E2E_TEXT_MODES}, got {text_mode!r}"
            )
        self.text_mode = text_mode
        self.valid_symbol = re.compile(valid_symbol)
        self.word_spotting = bool(word_spotting)
        self.min_length_case_word = int(min_length_case_word)
        self.special_characters = special_characters

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        owner = type(self).__name__
        for index, sample in enumerate(data_samples):
            pred, gt = _instances(sample, index, owner)
            pred_texts, gt_texts = pred.get("texts"), gt.get("texts")
            if pred_texts is None or gt_texts is None:
                side = "pred_instances" if pred_texts is None else "gt_instances"
                raise KeyError(
                    f"{owner}: data_samples[{index}].{side} has no texts; end-to-end scoring compares them"
                )
            gt_texts = [str(t) for t in gt_texts]
            if self.word_spotting:
                gt = _with_fields(gt, **self._spotting_gt(gt, gt_texts))
                gt_texts = list(gt["texts"])
            record = self._polygon_record(pred, gt, index)
            kept_pred_texts = [str(pred_texts[p]) for p in record["pred_index"]]
            kept_gt_texts = [gt_texts[g] for g in record["gt_index"]]
            text_ok = np.array(
                [[self.texts_match(g, p) for p in kept_pred_texts] for g in kept_gt_texts], dtype=bool
            ).reshape(record["iou"].shape)
            self.results.append({"iou": record["iou"], "scores": record["scores"], "text_ok": text_ok})

    def texts_match(self, gt_text: str, pred_text: str) -> bool:
        """Whether a prediction's text counts as the gt's (``text_mode``; exact under word spotting)."""
        if self.word_spotting or self.text_mode == "exact":
            return gt_text == pred_text
        if self.text_mode == "icdar":
            return icdar_text_match(gt_text, pred_text, self.special_characters)
        gt_text, pred_text = gt_text.lower(), pred_text.lower()
        if self.text_mode == "ignore_case_symbol":
            gt_text, pred_text = self.valid_symbol.sub("", gt_text), self.valid_symbol.sub("", pred_text)
        return gt_text == pred_text

    def _hits(self, record: dict[str, Any], keep: np.ndarray) -> int:
        matchable = record["iou"][:, keep] > self.match_iou_thr
        text_ok = record["text_ok"][:, keep]
        if self.strategy == "max_matching":
            return len(match_count(matchable & text_ok, "max_matching"))
        return sum(bool(text_ok[g, p]) for g, p in match_count(matchable, "vanilla"))

    def _spotting_gt(self, gt: Any, texts: list[str]) -> dict[str, Any]:
        ignored = _as_flags(gt.get("ignored"), len(texts)).copy()
        cleaned = list(texts)
        for i, text in enumerate(texts):
            if ignored[i]:
                continue
            word = self._spotting_text(text)
            ignored[i] = not self._is_dictionary_word(word)
            cleaned[i] = word
        return {"ignored": ignored, "texts": cleaned}

    def _spotting_text(self, text: str) -> str:
        if text[-2:] in ("'s", "'S"):
            text = text[:-2]
        text = text.strip("-")
        for character in self.special_characters:
            text = text.replace(character, " ")
        return text.strip()

    def _is_dictionary_word(self, word: str) -> bool:
        if " " in word or len(word) < self.min_length_case_word:
            return False
        allowed = ((ord("a"), ord("z")), (ord("A"), ord("Z")), (0xC0, 0x1BF), (0x1C4, 0x24F), (0x386, 0x3FF))
        for ch in word:
            if ch in "×÷·":
                return False
            if ch != "-" and not any(low <= ord(ch) <= high for low, high in allowed):
                return False
        return True


@METRICS.register()
class OCREndToEndMetric(E2EHmeanIOUMetric):
    """:class:`E2EHmeanIOUMetric` with texts compared ignoring case by default and keys ``e2e_precision``,
    ``e2e_recall``, ``e2e_hmean`` (the end-to-end F1), so it sits next to :class:`HmeanIOUMetric` in one
    evaluator (``icdar/hmean`` and ``icdar/e2e_hmean``). Arguments as :class:`E2EHmeanIOUMetric`;
    ``text_mode="ignore_case_symbol"`` also ignores symbols."""

    default_text_mode = "ignore_case"
    key_names = {"precision": "e2e_precision", "recall": "e2e_recall", "hmean": "e2e_hmean"}


def _with_fields(instances: Any, **fields: Any) -> dict[str, Any]:
    """A plain dict of the instance fields read here, with ``fields`` replaced."""
    merged = {key: instances.get(key) for key in ("polygons", "ignored", "texts")}
    merged.update(fields)
    return merged


# ---- recognition --------------------------------------------------------------------------------------
def _texts(sample: Any, index: int, owner: str) -> tuple[str, str]:
    pred, gt = sample_fields(sample, ("pred_text", "gt_text"), owner, index, _RECOG_EXPECTS)
    pred_text, gt_text = pred.get("item"), gt.get("item")
    if pred_text is None or gt_text is None:
        side = "pred_text" if pred_text is None else "gt_text"
        raise KeyError(f"{owner}: data_samples[{index}].{side} has no item (the text)")
    return str(pred_text), str(gt_text)


class _TextMetric(BaseMetric):
    default_prefix = "recog"

    def __init__(
        self, valid_symbol: str = VALID_SYMBOL, collect_device: str = "cpu", prefix: str | None = None
    ):
        super().__init__(collect_device=collect_device, prefix=prefix)
        self.valid_symbol = re.compile(valid_symbol)

    def normalize(self, text: str) -> str:
        """Lower case, then the ``valid_symbol`` characters removed (MMOCR's ``ignore_case_symbol`` form)."""
        return self.valid_symbol.sub("", text.lower())


@METRICS.register()
class WordMetric(_TextMetric):
    """Word accuracy of a recognizer, MMOCR's: the fraction of crops whose whole text is right.

    Args:
        mode: one or more of ``"exact"`` (key ``word_acc``), ``"ignore_case"`` (``word_acc_ignore_case``),
            ``"ignore_case_symbol"`` (``word_acc_ignore_case_symbol``, lower case and symbols removed:
            the academic number). Default: all three (MMOCR's default is ``ignore_case_symbol`` only).
        valid_symbol: the pattern of the characters removed by ``ignore_case_symbol``.
        collect_device, prefix: see :class:`~visionstack.evaluation.BaseMetric` (default prefix ``recog``).

    Values are ``matches / (crops + 1e-8)`` rounded to 4 decimals, as MMOCR reports them.
    """

    def __init__(
        self,
        mode: str | Sequence[str] = WORD_MODES,
        valid_symbol: str = VALID_SYMBOL,
        collect_device: str = "cpu",
        prefix: str | None = None,
    ) -> None:
        super().__init__(valid_symbol, collect_device, prefix)
        modes = (mode,) if isinstance(mode, str) else tuple(mode)
        bad = [m for m in modes if m not in WORD_MODES]
        if bad or not modes:
            raise ValueError(f"WordMetric: mode entries must be among {WORD_MODES}, got {mode!r}")
        self.mode = tuple(m for m in WORD_MODES if m in modes)

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for index, sample in enumerate(data_samples):
            pred, gt = _texts(sample, index, "WordMetric")
            self.results.append(
                {
                    "exact": pred == gt,
                    "ignore_case": pred.lower() == gt.lower(),
                    "ignore_case_symbol": self.normalize(pred) == self.normalize(gt),
                }
            )

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        keys = {
            "exact": "word_acc",
            "ignore_case": "word_acc_ignore_case",
            "ignore_case_symbol": "word_acc_ignore_case_symbol",
        }
        total = len(results) + RECOG_EPS
        return {keys[m]: _round4(sum(bool(r[m]) for r in results) / total) for m in self.mode}


@METRICS.register()
class CharMetric(_TextMetric):
    """Character recall and precision of a recognizer, MMOCR's.

    Both texts are normalised (lower case, ``valid_symbol`` characters removed); the true positives of
    a crop are the characters in the ``equal`` blocks of ``difflib.SequenceMatcher(None, pred, gt)``.
    Keys ``char_recall`` = TP / (gt chars + 1e-8), ``char_precision`` = TP / (predicted chars + 1e-8),
    summed over the dataset and rounded to 4 decimals.
    """

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for index, sample in enumerate(data_samples):
            pred, gt = (self.normalize(t) for t in _texts(sample, index, "CharMetric"))
            blocks = SequenceMatcher(None, pred, gt).get_opcodes()
            true_positives = sum(
                gt_end - gt_start for tag, _, _, gt_start, gt_end in blocks if tag == "equal"
            )
            self.results.append({"gt": len(gt), "pred": len(pred), "tp": true_positives})

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        tp = sum(r["tp"] for r in results)
        return {
            "char_recall": _round4(tp / (RECOG_EPS + sum(r["gt"] for r in results))),
            "char_precision": _round4(tp / (RECOG_EPS + sum(r["pred"] for r in results))),
        }


@METRICS.register()
class OneMinusNEDMetric(_TextMetric):
    """One minus the mean normalised edit distance (key ``1-N.E.D``), MMOCR's.

    Per crop: the Levenshtein distance of the normalised texts (lower case, ``valid_symbol`` characters
    removed) divided by the longer one's length (0 when both are empty); the key is 1 - the mean over
    the crops, rounded to 4 decimals.
    """

    def process(self, data_batch: Any, data_samples: Sequence[Any]) -> None:
        for index, sample in enumerate(data_samples):
            pred, gt = (self.normalize(t) for t in _texts(sample, index, "OneMinusNEDMetric"))
            self.results.append({"norm_ed": normalized_edit_distance(pred, gt)})

    def compute_metrics(self, results: list[dict]) -> dict[str, float]:
        mean = sum(r["norm_ed"] for r in results) / max(1, len(results))
        return {"1-N.E.D": _round4(1.0 - mean)}
