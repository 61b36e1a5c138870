"""End-to-end OCR: rectified word crops, the detector -> recogniser pipeline, its records, and ``eval ocr`` on
them (the recogniser here reads what a crop shows, so the numbers are known)."""

from __future__ import annotations

import json
from pathlib import Path

import cv2
import numpy as np
import pytest

from visionstack.cli import main
from visionstack.registry import ConfigError
from visionstack.tasks.ocr.crops import crop_polygon, ordered_quad
from visionstack.tasks.ocr.end_to_end import OCRPipeline
from visionstack.tasks.ocr.formats import write_icdar2015_gt
from visionstack.tasks.ocr.records import ocr_record


def _rotated_rect(cx: float, cy: float, w: float, h: float, degrees: float) -> np.ndarray:
    return cv2.boxPoints(((cx, cy), (w, h), degrees)).astype(np.float32)


@pytest.mark.parametrize("degrees", [-40, -30, -10, 0, 10, 30, 40])
@pytest.mark.parametrize("start", [0, 1, 2, 3])
def test_ordered_quad_reads_the_long_edge_left_to_right(degrees, start):
    box = _rotated_rect(100, 80, 60, 20, degrees)
    quad = ordered_quad(np.roll(box, start, axis=0))
    top, side = quad[1] - quad[0], quad[3] - quad[0]
    assert np.hypot(*top) == pytest.approx(60, abs=1e-3) and np.hypot(*side) == pytest.approx(20, abs=1e-3)
    assert top[0] > 0 and side[1] > 0  # top runs right, the left side runs down (clockwise in image axes)
    assert np.degrees(np.arctan2(top[1], top[0])) == pytest.approx(-degrees, abs=1e-3) or np.degrees(
        np.arctan2(top[1], top[0])
    ) == pytest.approx(degrees, abs=1e-3)


def test_crop_polygon_rectifies_a_rotated_word():
    """A bar drawn along a rotated rectangle's top half comes out as the top half of the upright crop."""
    image = np.zeros((200, 200, 3), np.uint8)
    box = ordered_quad(_rotated_rect(100, 100, 120, 40, 25))
    top_half = np.array([box[0], box[1], (box[1] + box[2]) / 2, (box[0] + box[3]) / 2], np.float32)
    cv2.fillPoly(image, [np.round(top_half).astype(np.int32)], (255, 255, 255))
    crop = crop_polygon(image, box)
    assert crop.shape[:2] == (40, 120)
    gray = crop[..., 0].astype(np.float32)
    assert gray[3:17, 5:-5].mean() > 240 and gray[23:37, 5:-5].mean() < 15
    # a polygon of many points (a curved word) is cut along its minimum-area rectangle
    curve = np.concatenate([box, (box[:2] + box[2:][::-1]) / 2])
    assert crop_polygon(image, curve).shape[:2] == (40, 120)


class _Detector:
    """Regions known in advance (a ``textdet`` backend)."""

    task = "textdet"

    def __init__(self, regions: dict[str, list[np.ndarray]]) -> None:
        self.regions = regions

    def predict_paths(self, paths):
        return [
            {
                "pred_instances": {
                    "polygons": self.regions[Path(p).name],
                    "scores": np.linspace(0.9, 0.5, len(self.regions[Path(p).name])).astype(np.float32),
                }
            }
            for p in paths
        ]


class _Recognizer:
    """Reads a crop's mean intensity as a word: bright crops say "Bright", mid-grey ones nothing."""

    task = "textrecog"

    def __init__(self) -> None:
        self.sizes: list[tuple[int, int]] = []

    def predict_arrays(self, crops):
        self.sizes.extend(crop.shape[:2] for crop in crops)
        results = []
        for crop in crops:
            mean = float(crop.mean())
            text = "Bright" if mean > 200 else ("dark" if mean < 50 else "")
            results.append(
                {
                    "pred_text": {
                        "item": text,
                        "score": np.float32(0.8),
                        "char_scores": np.full(len(text), 0.8),
                    }
                }
            )
        return results


def _scene(tmp_path: Path) -> tuple[Path, dict[str, list[np.ndarray]], list[dict]]:
    image = np.full((120, 200, 3), 128, np.uint8)
    bright = np.array([[10, 10], [90, 10], [90, 40], [10, 40]], np.float32)
    dark = _rotated_rect(140, 80, 70, 24, 15)
    empty = np.array([[120, 10], [190, 10], [190, 40], [120, 40]], np.float32)
    cv2.fillPoly(image, [bright.astype(np.int32)], (255, 255, 255))
    cv2.fillPoly(image, [np.round(dark).astype(np.int32)], (0, 0, 0))
    path = tmp_path / "img_1.jpg"
    cv2.imwrite(str(path), image)
    records = [
        {"polygon": bright, "text": "BRIGHT", "ignore": False},
        {"polygon": ordered_quad(dark), "text": "Dark", "ignore": False},
        {
            "polygon": np.array([[0, 90], [40, 90], [40, 118], [0, 118]], np.float32),
            "text": "###",
            "ignore": True,
        },
    ]
    return path, {"img_1.jpg": [bright, dark, empty]}, records


def test_pipeline_reads_each_region_and_drops_empty_readings(tmp_path):
    path, regions, _ = _scene(tmp_path)
    recognizer = _Recognizer()
    result = OCRPipeline(_Detector(regions), recognizer)([path])[0]
    instances = result["pred_instances"]
    assert instances["texts"] == ["Bright", "dark"]  # the grey region reads as nothing and is dropped
    np.testing.assert_allclose(instances["scores"], [0.9, 0.7])
    assert recognizer.sizes[0] == (30, 80) and recognizer.sizes[1] == (24, 70)  # rectified, upright crops
    record = ocr_record(result)
    assert [entry["text"] for entry in record["instances"]] == ["Bright", "dark"]
    assert record["instances"][0]["polygon"] == [10.0, 10.0, 90.0, 10.0, 90.0, 40.0, 10.0, 40.0]
    assert record["instances"][1]["char_scores"] == [0.8] * 4


def test_pipeline_skips_low_scores_and_checks_the_tasks(tmp_path):
    path, regions, _ = _scene(tmp_path)
    result = OCRPipeline(_Detector(regions), _Recognizer(), det_score_thr=0.8)([path])[0]
    assert result["pred_instances"]["texts"] == ["Bright"]
    with pytest.raises(ConfigError, match="textdet"):
        OCRPipeline(_Recognizer(), _Recognizer())


def test_eval_ocr_scores_the_pipeline_records(tmp_path):
    """Both words are found; 'Bright' matches 'BRIGHT' ignoring case, 'dark' matches 'Dark': F1 1.0. The
    ignored region is not counted."""
    path, regions, gt_records = _scene(tmp_path)
    gt_dir = tmp_path / "gt"
    gt_dir.mkdir()
    write_icdar2015_gt(gt_dir / "gt_img_1.txt", gt_records)
    result = OCRPipeline(_Detector(regions), _Recognizer())([path])[0]
    pred = tmp_path / "predictions.json"
    pred.write_text(json.dumps([{"img_path": str(path), **ocr_record(result)}]))
    out = tmp_path / "metrics.json"
    assert main(["eval", "ocr", "--gt", str(gt_dir), "--pred", str(pred), "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["icdar/e2e_hmean"] == pytest.approx(1.0)
    assert metrics["icdar/hmean"] == pytest.approx(1.0)
    # a wrong reading halves the end-to-end recall and precision, not the detection's
    records = json.loads(pred.read_text())
    records[0]["instances"][1]["text"] = "dork"
    pred.write_text(json.dumps(records))
    assert main(["eval", "ocr", "--gt", str(gt_dir), "--pred", str(pred), "--out", str(out)]) == 0
    metrics = json.loads(out.read_text())
    assert metrics["icdar/e2e_hmean"] == pytest.approx(0.5) and metrics["icdar/hmean"] == pytest.approx(1.0)
