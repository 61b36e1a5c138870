"""OCR result files: what test writes, evaluate_* scores to the same numbers as the metrics on the samples."""

from __future__ import annotations

import json

import numpy as np
import pytest
import torch

from visionstack.structures import DataSample, InstanceData, LabelData
from visionstack.tasks.ocr.metrics import (
    CharMetric,
    HmeanIOUMetric,
    OCREndToEndMetric,
    OneMinusNEDMetric,
    WordMetric,
)
from visionstack.tasks.ocr.results import (
    OCRResultWriter,
    TextDetResultWriter,
    TextRecogResultWriter,
    evaluate_ocr_files,
    evaluate_textdet_files,
    evaluate_textrecog_files,
    read_textdet_ground_truth,
)

# per image: gt words (x1..y4 integer quads, text); "###" = ignore
GROUND_TRUTH = {
    "img_1": [((10, 10, 60, 10, 60, 30, 10, 30), "Hello"), ((80, 40, 140, 40, 140, 60, 80, 60), "###")],
    "img_2": [((5, 5, 45, 5, 45, 25, 5, 25), "12,50"), ((50, 50, 90, 55, 88, 75, 48, 70), "Stop!")],
    "img_3": [((0, 0, 30, 0, 30, 12, 0, 12), "a")],
}


def write_icdar_folder(folder):
    folder.mkdir()
    for stem, words in GROUND_TRUTH.items():
        lines = [",".join(str(v) for v in quad) + "," + text for quad, text in words]
        (folder / f"gt_{stem}.txt").write_bytes(("\ufeff" + "\r\n".join(lines) + "\r\n").encode("utf-8"))
    return folder


def det_samples():
    """Predictions with float32 coordinates and scores (not round numbers) for every image."""
    rng = np.random.default_rng(0)
    samples = []
    for stem, words in GROUND_TRUTH.items():
        polygons, texts = [], []
        for quad, text in words:
            polygons.append(
                np.asarray(quad, np.float32).reshape(4, 2) + rng.normal(0, 3, (4, 2)).astype(np.float32)
            )
            texts.append(text.lower() if text != "Stop!" else "stop")
        polygons.append(
            np.array([[100, 100], [130, 100], [130, 120], [100, 120]], np.float32)
        )  # a false positive
        texts.append("zz")
        scores = rng.uniform(0.2, 1.0, len(polygons)).astype(np.float32)
        sample = DataSample(metainfo={"img_path": f"/data/ch4_test_images/{stem}.jpg"})
        sample.pred_instances = InstanceData(
            polygons=polygons,
            scores=torch.from_numpy(scores),
            texts=texts,
            text_scores=torch.full((len(texts),), 0.9),
        )
        sample.gt_instances = InstanceData(
            polygons=[np.asarray(q, np.float32).reshape(4, 2) for q, _ in words],
            ignored=torch.tensor([t == "###" for _, t in words]),
            texts=[t for _, t in words],
        )
        samples.append(sample)
    return samples


def scored(metrics, samples):
    results = {}
    for metric in metrics:
        metric.process(None, samples)
        results.update(metric.evaluate(len(samples)))
    return results


def test_textdet_file_scores_equal_the_metric(tmp_path):
    gt = write_icdar_folder(tmp_path / "gt")
    samples = det_samples()
    writer = TextDetResultWriter(tmp_path / "out" / "results.json")
    writer.process(None, samples)
    assert writer.evaluate(len(samples)) == {}
    records = json.loads((tmp_path / "out" / "results.json").read_text())
    assert records[0]["img_path"].endswith("img_1.jpg") and len(records[0]["polygons"][0]) == 8
    for options in ({}, {"strategy": "max_matching", "pred_score_thrs": dict(start=0.3, stop=0.9, step=0.1)}):
        expected = scored([HmeanIOUMetric(**options)], samples)
        assert 0 < expected["icdar/hmean"] < 1
        assert evaluate_textdet_files(gt, tmp_path / "out" / "results.json", **options) == expected
    config = [
        {"type": "HmeanIOUMetric", "match_iou_thr": 0.7},
        {"type": "TextDetResultWriter", "out_file": "x"},
    ]
    assert evaluate_textdet_files(gt, tmp_path / "out" / "results.json", metrics=config) == scored(
        [HmeanIOUMetric(match_iou_thr=0.7)], samples
    )


def test_ocr_file_scores_equal_the_metrics_in_both_layouts(tmp_path):
    gt = write_icdar_folder(tmp_path / "gt")
    samples = det_samples()
    writer = OCRResultWriter(tmp_path / "results.json")
    writer.process(None, samples)
    writer.evaluate(len(samples))
    expected = scored([HmeanIOUMetric(), OCREndToEndMetric()], samples)
    assert set(expected) == {
        f"icdar/{k}" for k in ("precision", "recall", "hmean", "e2e_precision", "e2e_recall", "e2e_hmean")
    }
    assert evaluate_ocr_files(gt, tmp_path / "results.json") == expected
    # the per-instance layout of `visionstack ocr`'s predictions.json
    records = json.loads((tmp_path / "results.json").read_text())
    per_instance = [
        {
            "img_path": r["img_path"],
            "instances": [
                {"polygon": p, "score": s, "text": t}
                for p, s, t in zip(r["polygons"], r["scores"], r["texts"])
            ],
        }
        for r in records
    ]
    (tmp_path / "predictions.json").write_text(json.dumps(per_instance))
    assert evaluate_ocr_files(gt, tmp_path / "predictions.json") == expected


def test_totaltext_and_mmocr_ground_truth(tmp_path):
    folder = tmp_path / "tt"
    folder.mkdir()
    (folder / "poly_gt_img1.txt").write_text(
        "x: [[10 60 60 10]], y: [[10 10 30 30]], ornt: [u'h'], transcriptions: [u'Hello']\n"
        "x: [[80 140 140 80]], y: [[40 40 60 60]], ornt: [u'#'], transcriptions: [u'#']\n"
    )
    truth = read_textdet_ground_truth(folder)
    assert list(truth) == ["img1"] and [r["ignore"] for r in truth["img1"]] == [False, True]
    preds = [
        {
            "img_path": "img1.jpg",
            "polygons": [[10, 10, 60, 10, 60, 30, 10, 30], [80, 40, 140, 40, 140, 60, 80, 60]],
            "scores": [0.9, 0.9],
        }
    ]
    (tmp_path / "pred.json").write_text(json.dumps(preds))
    assert evaluate_textdet_files(folder, tmp_path / "pred.json") == {
        "icdar/precision": 1.0,
        "icdar/recall": 1.0,
        "icdar/hmean": 1.0,
    }
    mmocr = {
        "metainfo": {},
        "data_list": [
            {
                "img_path": "imgs/img1.jpg",
                "instances": [
                    {
                        "polygon": [10, 10, 60, 10, 60, 30, 10, 30],
                        "bbox": [10, 10, 60, 30],
                        "bbox_label": 0,
                        "ignore": False,
                        "text": "Hello",
                    },
                    {"bbox": [80, 40, 140, 60], "bbox_label": 0, "ignore": True, "text": "###"},
                ],
            }
        ],
    }
    (tmp_path / "textdet_test.json").write_text(json.dumps(mmocr))
    assert (
        evaluate_textdet_files(tmp_path / "textdet_test.json", tmp_path / "pred.json")["icdar/hmean"] == 1.0
    )


def test_textdet_matching_errors(tmp_path):
    gt = write_icdar_folder(tmp_path / "gt")
    samples = det_samples()[:2]
    writer = TextDetResultWriter(tmp_path / "partial.json")
    writer.process(None, samples)
    writer.evaluate(2)
    with pytest.raises(ValueError, match=r"no prediction for 1 image\(s\).*'img_3'"):
        evaluate_textdet_files(gt, tmp_path / "partial.json")
    (tmp_path / "extra.json").write_text(
        json.dumps([{"img_path": "img_9.jpg", "polygons": [], "scores": []}])
    )
    with pytest.raises(ValueError, match="without ground truth.*img_9"):
        evaluate_textdet_files(gt, tmp_path / "extra.json")
    (tmp_path / "bad.json").write_text(
        json.dumps([{"img_path": "img_1.jpg", "polygons": [[0, 0, 1, 1, 2, 2]], "scores": []}])
    )
    with pytest.raises(ValueError, match="record 0: 1 polygons but 0 scores"):
        evaluate_textdet_files(gt, tmp_path / "bad.json")
    with pytest.raises(ValueError, match="no gt_<image>.txt"):
        evaluate_textdet_files(tmp_path, tmp_path / "bad.json")


def test_textrecog_file_scores_equal_the_metrics(tmp_path):
    words = [
        ("Hello", "hello"),
        ("Stop!", "stop"),
        ("AB-12", "AB-12"),
        ("12/05/2024", "12/O5/2024"),
        ("with space", "with space"),
    ]
    root = tmp_path / "textrecog"
    (root / "test").mkdir(parents=True)
    (root / "test_list.txt").write_text(
        "".join(f"test/word_{i}.png {gt}\n" for i, (gt, _) in enumerate(words, 1))
    )
    samples = []
    for i, (gt, pred) in enumerate(words, 1):
        sample = DataSample(metainfo={"img_path": str(root / "test" / f"word_{i}.png")})
        sample.gt_text = LabelData(item=gt)
        sample.pred_text = LabelData(
            item=pred, score=torch.tensor(0.8), char_scores=torch.full((len(pred),), 0.8)
        )
        samples.append(sample)
    writer = TextRecogResultWriter(tmp_path / "recog.json")
    writer.process(None, samples[::-1])  # any order: records are matched by path
    writer.evaluate(len(samples))
    record = json.loads((tmp_path / "recog.json").read_text())[0]
    assert (
        record["text"] == "with space"
        and record["score"] == pytest.approx(0.8)
        and len(record["char_scores"]) == 10
    )
    expected = scored([WordMetric(), CharMetric(), OneMinusNEDMetric()], samples)
    assert expected["recog/word_acc"] == 0.4 and expected["recog/word_acc_ignore_case_symbol"] == 0.8
    assert evaluate_textrecog_files(root / "test_list.txt", tmp_path / "recog.json") == expected
    # trailing-path matching: a prediction written elsewhere still finds its crop; a stranger is an error
    moved = [
        dict(r, img_path=r["img_path"].replace(str(tmp_path), "/elsewhere"))
        for r in json.loads((tmp_path / "recog.json").read_text())
    ]
    (tmp_path / "moved.json").write_text(json.dumps(moved))
    assert evaluate_textrecog_files(root / "test_list.txt", tmp_path / "moved.json") == expected
    (tmp_path / "stranger.json").write_text(json.dumps(moved + [{"img_path": "other/x.png", "text": "x"}]))
    with pytest.raises(ValueError, match="'other/x.png' is not a crop listed"):
        evaluate_textrecog_files(root / "test_list.txt", tmp_path / "stranger.json")
