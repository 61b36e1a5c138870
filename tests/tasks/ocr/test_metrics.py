"""OCR metrics and polygon geometry: hand-computed cases, Shapely / rapidfuzz / difflib as oracles."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from rapidfuzz.distance import Levenshtein
from shapely.geometry import Polygon

from visionstack.structures import DataSample, InstanceData, LabelData
from visionstack.tasks.ocr.metrics import (
    CharMetric,
    E2EHmeanIOUMetric,
    HmeanIOUMetric,
    OCREndToEndMetric,
    OneMinusNEDMetric,
    WordMetric,
    compute_hmean,
    levenshtein_distance,
    match_count,
    normalized_edit_distance,
    score_thresholds,
)
from visionstack.tasks.ocr.polygons import (
    as_polygon_array,
    make_valid_polygon,
    poly_intersection,
    polygon_area,
    polygon_iou,
    polygon_to_bbox,
)


def box(x1, y1, x2, y2):
    """A clockwise (4, 2) float32 rectangle."""
    return np.array([[x1, y1], [x2, y1], [x2, y2], [x1, y2]], dtype=np.float32)


def det_sample(preds, scores, gts, ignored=None, pred_texts=None, gt_texts=None):
    pred = {"polygons": preds, "scores": np.asarray(scores, np.float32)}
    gt = {"polygons": gts, "ignored": np.zeros(len(gts), bool) if ignored is None else np.asarray(ignored)}
    if pred_texts is not None:
        pred["texts"], gt["texts"] = pred_texts, gt_texts
    return {"pred_instances": pred, "gt_instances": gt}


def run(metric, samples):
    metric.process(None, samples)
    return metric.compute_metrics(metric.results)


# ---- polygons ---------------------------------------------------------------------------------------
def test_polygon_iou_hand_values_and_input_forms():
    a, b = box(0, 0, 10, 10), box(5, 0, 15, 10)
    assert polygon_iou(a, b) == pytest.approx(50 / 150)
    assert polygon_iou(a.reshape(-1).tolist(), torch.as_tensor(b)) == pytest.approx(1 / 3)
    assert poly_intersection(a, b) == pytest.approx(50.0)
    assert polygon_iou(a, box(20, 20, 30, 30)) == 0.0
    assert (
        polygon_iou([0, 0, 1, 1, 2, 2], [0, 0, 1, 1, 2, 2], zero_division=-1.0) == -1.0
    )  # a line: empty union
    np.testing.assert_array_equal(polygon_to_bbox([3, 4, 9, 1, 5, 8]), [3, 1, 9, 8])
    with pytest.raises(ValueError, match="even number"):
        as_polygon_array([1, 2, 3, 4, 5])


def test_bow_tie_is_repaired_like_mmocr():
    bow_tie = [[0, 0], [2, 2], [2, 0], [0, 2]]  # two triangles of area 1 each
    assert Polygon(bow_tie).area == 0.0  # the raw shoelace area cancels out
    assert polygon_area(bow_tie) == pytest.approx(1.0)  # buffer(0) keeps one triangle, as in MMOCR
    assert polygon_iou(bow_tie, box(0, 0, 2, 2)) == pytest.approx(0.25)
    assert make_valid_polygon(bow_tie, method="make_valid").area == pytest.approx(2.0)
    assert make_valid_polygon(box(0, 0, 1, 1)).equals(Polygon(box(0, 0, 1, 1)))


def test_polygon_iou_matches_shapely_on_random_convex_polygons():
    rng = np.random.default_rng(0)
    for _ in range(30):
        shapes = [Polygon(rng.uniform(0, 20, (8, 2))).convex_hull for _ in range(2)]
        expected = shapes[0].intersection(shapes[1]).area / shapes[0].union(shapes[1]).area
        points = [np.asarray(s.exterior.coords, np.float32)[:-1] for s in shapes]
        assert polygon_iou(*points) == pytest.approx(expected, rel=1e-5, abs=1e-6)


# ---- numbers ----------------------------------------------------------------------------------------
def test_compute_hmean_edge_cases():
    assert compute_hmean(0, 0, 0) == (1.0, 1.0, 1.0)
    assert compute_hmean(0, 0, 3) == (1.0, 0.0, 0.0)
    assert compute_hmean(0, 4, 0) == (0.0, 0.0, 0.0)
    recall, precision, hmean = compute_hmean(3, 4, 6)
    assert (recall, precision) == (0.75, 0.5) and hmean == pytest.approx(0.6)


def test_score_thresholds_follow_numpy_arange():
    values, sweep = score_thresholds(dict(start=0.3, stop=0.9, step=0.1))
    assert sweep and np.allclose(values, [0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9])
    assert score_thresholds(0.5)[0].tolist() == [0.5] and not score_thresholds(0.5)[1]
    with pytest.raises(ValueError, match="unknown keys"):
        score_thresholds(dict(start=0.1, end=0.5))


def test_levenshtein_matches_rapidfuzz():
    rng = np.random.default_rng(1)
    alphabet = list("abcAB1-é中")
    for _ in range(200):
        a = "".join(rng.choice(alphabet, rng.integers(0, 9)))
        b = "".join(rng.choice(alphabet, rng.integers(0, 9)))
        assert levenshtein_distance(a, b) == Levenshtein.distance(a, b)
        assert normalized_edit_distance(a, b) == pytest.approx(Levenshtein.normalized_distance(a, b))
    assert levenshtein_distance("kitten", "sitting") == 3


# ---- detection hmean --------------------------------------------------------------------------------
def test_ignored_regions_remove_predictions_from_precision():
    gts = [box(0, 0, 10, 10), box(50, 50, 70, 70)]
    preds = [
        box(0, 0, 10, 10),  # hit
        box(52, 52, 68, 68),  # fully inside the ignored region: dropped
        box(44, 50, 54, 60),  # 40 % inside the ignored region: kept, a false positive
        box(48, 50, 58, 60),  # 80 % inside: dropped
    ]
    result = run(HmeanIOUMetric(), [det_sample(preds, [0.9] * 4, gts, ignored=[False, True])])
    assert result == pytest.approx({"precision": 0.5, "recall": 1.0, "hmean": 2 / 3})


def test_two_predictions_on_one_gt_count_one_hit():
    result = run(
        HmeanIOUMetric(),
        [det_sample([box(0, 0, 10, 10), box(1, 0, 11, 10)], [0.9, 0.8], [box(0, 0, 10, 10)])],
    )
    assert result == pytest.approx({"precision": 0.5, "recall": 1.0, "hmean": 2 / 3})


def test_one_large_prediction_over_two_gts_matches_neither():
    # IoU with each gt is exactly 100 / 200 = 0.5, and a match needs IoU > 0.5
    sample = det_sample([box(0, 0, 20, 10)], [0.9], [box(0, 0, 10, 10), box(10, 0, 20, 10)])
    assert run(HmeanIOUMetric(), [sample]) == {"precision": 0.0, "recall": 0.0, "hmean": 0.0}
    assert run(HmeanIOUMetric(match_iou_thr=0.49), [sample])["recall"] == 0.5  # one gt, one-to-one


def test_empty_predictions_and_empty_ground_truth():
    no_preds = det_sample([], [], [box(0, 0, 10, 10)])
    no_gts = det_sample([box(0, 0, 10, 10)], [0.9], [])
    nothing = det_sample([], [], [])
    assert run(HmeanIOUMetric(), [no_preds]) == {"precision": 0.0, "recall": 0.0, "hmean": 0.0}
    assert run(HmeanIOUMetric(), [no_gts]) == {"precision": 0.0, "recall": 1.0, "hmean": 0.0}
    assert run(HmeanIOUMetric(), [nothing]) == {"precision": 1.0, "recall": 1.0, "hmean": 1.0}
    # totals are summed over images before the ratios: 1 hit, 2 gts, 2 predictions
    hit = det_sample([box(0, 0, 10, 10)], [0.9], [box(0, 0, 10, 10)])
    assert run(HmeanIOUMetric(), [hit, no_preds, no_gts]) == pytest.approx(
        {"precision": 0.5, "recall": 0.5, "hmean": 0.5}
    )


def test_score_threshold_and_sweep():
    gts = [box(0, 0, 10, 10), box(20, 0, 30, 10)]
    preds = [box(0, 0, 10, 10), box(20, 0, 30, 10), box(40, 0, 50, 10), box(60, 0, 70, 10)]
    sample = det_sample(preds, [0.95, 0.45, 0.55, 0.2], gts)
    # fixed 0.3: three predictions kept (0.2 dropped), two hits
    assert run(HmeanIOUMetric(), [sample]) == pytest.approx({"precision": 2 / 3, "recall": 1.0, "hmean": 0.8})
    # sweep 0.3..0.9: 0.3/0.4 -> P 2/3 R 1 (h 0.8); 0.5 -> P 1/2 R 1/2; 0.6+ -> P 1 R 1/2 (h 2/3)
    swept = run(HmeanIOUMetric(pred_score_thrs=dict(start=0.3, stop=0.9, step=0.1)), [sample])
    assert swept == pytest.approx(
        {"precision": 2 / 3, "recall": 1.0, "hmean": 0.8, "sweep_best_score_thr": 0.3}
    )
    high = run(HmeanIOUMetric(pred_score_thrs=dict(start=0.5, stop=0.9, step=0.1)), [sample])
    assert high["sweep_best_score_thr"] == pytest.approx(0.6) and high["hmean"] == pytest.approx(2 / 3)


def test_vanilla_is_first_come_and_max_matching_is_optimal():
    # gt0 can match p0 and p1, gt1 only p0: vanilla gives p0 to gt0 (index order) and leaves gt1 unmatched
    gts = [box(0, 0, 10, 10), box(2, 0, 12, 10)]
    preds = [box(1, 0, 11, 10), box(-3, 0, 7, 10)]
    assert polygon_iou(preds[1], gts[1]) < 0.5 < polygon_iou(preds[1], gts[0])
    sample = det_sample(preds, [0.9, 0.9], gts)
    assert run(HmeanIOUMetric(), [sample]) == pytest.approx({"precision": 0.5, "recall": 0.5, "hmean": 0.5})
    assert run(HmeanIOUMetric(strategy="max_matching"), [sample]) == {
        "precision": 1.0,
        "recall": 1.0,
        "hmean": 1.0,
    }


def test_match_count_orders_and_bruteforce():
    matchable = np.array([[1, 1, 0], [1, 0, 0], [0, 1, 1]], bool)
    assert match_count(matchable, "vanilla") == [(0, 0), (2, 1)]
    pairs = match_count(matchable, "max_matching")
    assert len(pairs) == 3 and len({g for g, _ in pairs}) == len({p for _, p in pairs}) == 3
    assert all(matchable[g, p] for g, p in pairs)
    with pytest.raises(ValueError, match="strategy"):
        match_count(matchable, "greedy")


def test_data_samples_dicts_and_flat_polygons_agree():
    gts, preds = [box(0, 0, 10, 10), box(20, 0, 30, 10)], [box(0, 1, 10, 11), box(21, 0, 31, 10)]
    sample = DataSample(metainfo={"img_path": "a.jpg"})
    sample.pred_instances = InstanceData(polygons=preds, scores=torch.tensor([0.9, 0.4]))
    sample.gt_instances = InstanceData(polygons=gts, ignored=torch.tensor([False, True]))
    flat = det_sample(
        [p.reshape(-1).tolist() for p in preds], [0.9, 0.4], [g.reshape(-1).tolist() for g in gts], [0, 1]
    )
    metric = HmeanIOUMetric()
    metric.process(None, [sample])
    expected = {"icdar/precision": 1.0, "icdar/recall": 1.0, "icdar/hmean": 1.0}
    assert metric.evaluate(1) == expected
    metric.process(None, [sample.to_dict()])
    assert metric.evaluate(1) == expected
    assert run(HmeanIOUMetric(), [flat]) == {"precision": 1.0, "recall": 1.0, "hmean": 1.0}


def test_detection_errors_name_the_sample():
    with pytest.raises(KeyError, match=r"data_samples\[0\] has no pred_instances"):
        HmeanIOUMetric().process(None, [{"gt_instances": {}}])
    with pytest.raises(ValueError, match=r"data_samples\[0\] has 1 predicted polygons but 2 scores"):
        HmeanIOUMetric().process(None, [det_sample([box(0, 0, 1, 1)], [0.5, 0.5], [])])
    with pytest.raises(ValueError, match="strategy"):
        HmeanIOUMetric(strategy="hungarian")


# ---- end to end -------------------------------------------------------------------------------------
def test_e2e_counts_matched_pairs_with_equal_text():
    gts = [box(0, 0, 10, 10), box(20, 0, 30, 10), box(40, 0, 50, 10)]
    preds = [box(0, 0, 10, 10), box(20, 0, 30, 10), box(40, 0, 50, 10), box(60, 0, 70, 10)]
    sample = det_sample(
        preds,
        [0.9] * 4,
        gts,
        pred_texts=["hello", "W0rld", "stop", "x"],
        gt_texts=["HELLO!", "World", "Stop"],
    )
    # MMOCR's rule: case ignored, the gt's final "!" may be missing -> hits: hello, stop
    assert run(E2EHmeanIOUMetric(), [sample]) == pytest.approx(
        {"precision": 0.5, "recall": 2 / 3, "hmean": 4 / 7}
    )
    # plain ignore-case: "HELLO!" != "hello" -> one hit; ignore_case_symbol also drops the "!"
    assert run(OCREndToEndMetric(), [sample]) == pytest.approx(
        {"e2e_precision": 0.25, "e2e_recall": 1 / 3, "e2e_hmean": 2 / 7}
    )
    symbols = run(OCREndToEndMetric(text_mode="ignore_case_symbol"), [sample])
    assert symbols["e2e_recall"] == pytest.approx(2 / 3)


def test_e2e_wrong_text_pair_blocks_vanilla_but_not_max_matching():
    gt = [box(0, 0, 10, 10)]
    preds = [box(0, 0, 10, 10), box(0, 0, 10, 9)]  # both overlap the gt; the first reads wrong
    sample = det_sample(preds, [0.9, 0.8], gt, pred_texts=["cat", "dog"], gt_texts=["dog"])
    assert run(OCREndToEndMetric(), [sample])["e2e_recall"] == 0.0
    assert run(OCREndToEndMetric(strategy="max_matching"), [sample])["e2e_recall"] == 1.0


def test_e2e_ignored_regions_and_word_spotting():
    gts = [box(0, 0, 10, 10), box(20, 0, 30, 10), box(40, 0, 50, 10)]
    preds = [box(0, 0, 10, 10), box(20, 0, 30, 10), box(40, 0, 50, 10)]
    sample = det_sample(
        preds,
        [0.9] * 3,
        gts,
        ignored=[False, False, True],
        pred_texts=["car's", "ab", "x"],
        gt_texts=["car's", "ab", "###"],
    )
    assert run(OCREndToEndMetric(), [sample]) == {"e2e_precision": 1.0, "e2e_recall": 1.0, "e2e_hmean": 1.0}
    # word spotting: "ab" is too short for a dictionary word (ignored), "car's" is compared as "car"
    spotting = run(
        E2EHmeanIOUMetric(word_spotting=True),
        [
            det_sample(
                preds,
                [0.9] * 3,
                gts,
                ignored=[False, False, True],
                pred_texts=["car", "ab", "x"],
                gt_texts=["car's", "ab", "###"],
            )
        ],
    )
    assert spotting == {"precision": 1.0, "recall": 1.0, "hmean": 1.0}


def test_e2e_needs_texts():
    with pytest.raises(KeyError, match="has no texts"):
        OCREndToEndMetric().process(None, [det_sample([box(0, 0, 1, 1)], [0.5], [box(0, 0, 1, 1)])])


# ---- recognition -------------------------------------------------------------------------------------
def recog_samples(pairs):
    samples = []
    for pred, gt in pairs:
        sample = DataSample()
        sample.pred_text, sample.gt_text = LabelData(item=pred), LabelData(item=gt)
        samples.append(sample)
    return samples


def test_word_metric_modes_and_rounding():
    samples = recog_samples([("hello", "Hello!"), ("World", "World"), ("a^b", "ab")])
    result = run(WordMetric(), samples)
    # exact: World; ignore case: World; ignore case+symbol: hello, World (the caret is kept by MMOCR's pattern)
    assert result == {
        "word_acc": 0.3333,
        "word_acc_ignore_case": 0.3333,
        "word_acc_ignore_case_symbol": 0.6667,
    }
    assert run(WordMetric(mode="exact"), samples) == {"word_acc": 0.3333}
    with pytest.raises(ValueError, match="mode"):
        WordMetric(mode="fuzzy")


def test_char_metric_against_hand_counts():
    # "helo" vs "hello": 4 matching chars; "ab-c" vs "ABD": normalised "abc" vs "abd": 2
    result = run(CharMetric(), recog_samples([("helo", "hello"), ("ab-c", "ABD")]))
    assert result == {"char_recall": round(6 / 8, 4), "char_precision": round(6 / 7, 4)}


def test_one_minus_ned_against_rapidfuzz():
    pairs = [("hello", "hallo"), ("", "abc"), ("", ""), ("Hello!", "hello"), ("abc", "xyzw"), ("中文", "中")]
    metric = OneMinusNEDMetric()
    result = run(metric, recog_samples(pairs))
    expected = 1 - np.mean(
        [Levenshtein.normalized_distance(metric.normalize(p), metric.normalize(g)) for p, g in pairs]
    )
    assert result == {"1-N.E.D": round(float(expected), 4)}


def test_recognition_metrics_read_dicts_and_name_missing_fields():
    metric = WordMetric()
    metric.process(None, [{"pred_text": {"item": "a"}, "gt_text": {"item": "a"}}])
    assert metric.evaluate(1)["recog/word_acc"] == 1.0
    with pytest.raises(KeyError, match=r"data_samples\[0\] has no gt_text"):
        CharMetric().process(None, [{"pred_text": {"item": "a"}}])
