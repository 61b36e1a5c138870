"""The synthetic MOT writer: layout, determinism, ground-truth sanity and the public detections' error rates."""

from __future__ import annotations

import hashlib
import json

import numpy as np
import pytest
from scipy.optimize import linear_sum_assignment

from visionstack.tasks.tracking.mot_format import frame_paths, list_sequences, read_mot_file, read_seqinfo
from visionstack.tasks.tracking.synthetic import sequence_name, synth_tracking, write_sequence
from visionstack.tasks.tracking.synthetic_detections import (
    FALSE_POSITIVES_PER_FRAME,
    JITTER_SIGMA,
    MISS_RATE,
    miss_probability,
    synthesize_detections,
)


def _digest(root):
    return {
        str(path.relative_to(root)): hashlib.sha256(path.read_bytes()).hexdigest()
        for path in sorted(root.rglob("*"))
        if path.is_file()
    }


def test_tiny_dataset_layout_and_determinism(tmp_path):
    config = dict(num_train=1, num_val=1, seq_length=10, width=160, height=96)
    summary = synth_tracking(tmp_path / "a", seed=3, **config)
    synth_tracking(tmp_path / "b", seed=3, **config)
    assert _digest(tmp_path / "a") == _digest(tmp_path / "b")
    synth_tracking(tmp_path / "c", seed=4, **config)
    assert _digest(tmp_path / "a") != _digest(tmp_path / "c")

    root = tmp_path / "a"
    assert summary["train"]["sequences"] == ["SYNTH-CLEAN-01"]
    assert summary["val"]["sequences"] == ["SYNTH-OCCLUSION-02"]
    assert (root / "seqmaps" / "val.txt").read_text() == "name\nSYNTH-OCCLUSION-02\n"
    seq = list_sequences(root / "train")[0]
    info = read_seqinfo(seq)
    assert (info.name, info.seq_length, info.im_width, info.im_height, info.frame_rate) == (
        seq.name,
        10,
        160,
        96,
        10,
    )
    assert [frame for frame, _ in frame_paths(seq)] == list(range(1, 11))

    coco = json.loads((root / "annotations" / "train_cocoformat.json").read_text())
    gt = read_mot_file(seq / "gt" / "gt.txt", "gt")
    assert len(coco["images"]) == 10 and len(coco["annotations"]) == len(gt) == summary["train"]["gt_boxes"]
    assert [c["id"] for c in coco["categories"]] == [1, 3, 4]
    image = coco["images"][0]
    assert (root / image["file_name"]).is_file() and (image["frame_id"], image["mot_frame_id"]) == (0, 1)
    first = coco["annotations"][0]
    np.testing.assert_allclose(first["bbox"][:2], gt.bboxes[0, :2], atol=0.011)
    assert first["visibility"] == pytest.approx(gt.visibility[0], abs=1e-4)


def test_sequence_names_cycle_kinds():
    assert [sequence_name(n) for n in (1, 2, 3, 4, 5, 12)] == [
        "SYNTH-CLEAN-01", "SYNTH-OCCLUSION-02", "SYNTH-NONLINEAR-03", "SYNTH-CAMERA-04", "SYNTH-CLEAN-05",
        "SYNTH-CAMERA-12",
    ]  # fmt: skip


@pytest.fixture(scope="module")
def generated(tmp_path_factory):
    """One 150-frame sequence of each kind (about 3 s)."""
    root = tmp_path_factory.mktemp("synth")
    result = {}
    for index, kind in enumerate(("clean", "occlusion", "nonlinear", "camera")):
        seq = root / kind
        write_sequence(seq, kind, (0, 0, index), 150, 10.0, 384, 224)
        result[kind] = (
            read_mot_file(seq / "gt" / "gt.txt", "gt"),
            read_mot_file(seq / "det" / "det.txt", "det"),
        )
    return result


def test_ground_truth_is_sane(generated):
    for kind, (gt, _) in generated.items():
        counts = np.bincount(gt.frames)[1:]
        assert counts.min() >= 7 and counts.max() <= 22, kind
        # boxes are the whole extent (MOT17's), past the border while an object enters or leaves, with at
        # least 2 x 2 px inside the image; their inside share bounds the visibility
        inside = np.clip(gt.bboxes, 0, [384, 224, 384, 224])
        assert ((inside[:, 2:] - inside[:, :2]) >= 1.99).all()
        assert (gt.bboxes[:, 0] < 0).any() or (gt.bboxes[:, 2] > 384).any()
        in_view = np.prod(inside[:, 2:] - inside[:, :2], 1) / np.prod(gt.bboxes[:, 2:] - gt.bboxes[:, :2], 1)
        assert (gt.visibility <= in_view + 0.1).all(), kind  # (visibility counts whole pixels)
        assert set(np.unique(gt.classes)) <= {1, 3, 4} and gt.consider.all()
        assert (0 <= gt.visibility).all() and (gt.visibility <= 1).all()
        assert len(np.unique(gt.ids)) > counts.max(), f"{kind}: objects should enter and leave"
    hidden = {kind: float((gt.visibility < 0.2).mean()) for kind, (gt, _) in generated.items()}
    assert hidden["clean"] < 0.05 < hidden["occlusion"]
    assert (generated["occlusion"][0].visibility == 0).any()  # fully hidden objects stay in gt


def _match(gt, det):
    """Per frame, Hungarian matching of detections to gt boxes at IoU >= 0.5: (gt row, det row) pairs."""
    pairs = []
    for frame in np.unique(gt.frames):
        g, d = np.flatnonzero(gt.frames == frame), np.flatnonzero(det.frames == frame)
        if not len(d):
            continue
        a, b = gt.bboxes[g][:, None], det.bboxes[d][None]
        inter = np.prod(
            np.clip(np.minimum(a[..., 2:], b[..., 2:]) - np.maximum(a[..., :2], b[..., :2]), 0, None), -1
        )
        area = lambda x: np.prod(x[..., 2:] - x[..., :2], -1)  # noqa: E731
        iou = inter / (area(a) + area(b) - inter)
        rows, cols = linear_sum_assignment(-iou)
        pairs += [(g[r], d[c]) for r, c in zip(rows, cols) if iou[r, c] >= 0.5]
    return np.array(pairs).reshape(-1, 2)


@pytest.mark.parametrize(("kind", "rate"), [("clean", MISS_RATE["clean"]), ("occlusion", MISS_RATE["hard"])])
def test_detections_err_like_a_detector(generated, kind, rate):
    gt, det = generated[kind]
    pairs = _match(gt, det)
    detected = np.zeros(len(gt), dtype=bool)
    detected[pairs[:, 0]] = True
    # the detector errs with the occlusion of the part inside the image (truncation only clips what it sees)
    inside = np.clip(gt.bboxes, 0, [384, 224, 384, 224])
    in_view = np.prod(inside[:, 2:] - inside[:, :2], 1) / np.prod(gt.bboxes[:, 2:] - gt.bboxes[:, :2], 1)
    unoccluded = np.clip(gt.visibility / in_view, 0, 1)
    visible, hidden = unoccluded >= 0.6, unoccluded < 0.15
    assert rate - 0.03 < 1 - detected[visible].mean() < rate + 0.03
    assert 1 - detected[hidden].mean() > 0.9
    score_vs_visibility = np.corrcoef(unoccluded[pairs[:, 0]], det.scores[pairs[:, 1]])[0, 1]
    assert score_vs_visibility > 0.3
    assert np.median(det.scores[pairs[gt.visibility[pairs[:, 0]] == 1, 1]]) > 0.9
    false_positives = (len(det) - len(pairs)) / 150
    assert 0.4 < false_positives < 1.1
    assert (det.ids == -1).all()
    # a true detection has its object's class (a multi-class detector's, in column 8)
    assert (det.classes[pairs[:, 1]] == gt.classes[pairs[:, 0]]).all()


def test_detection_statistics_on_known_visibility():
    """Oracle-free check of the constants: 400 frames of 11 separated boxes with visibility 0, 0.1, ... 1."""
    frames = np.repeat(np.arange(1, 401), 11)
    x = np.tile(np.arange(11) * 40.0, 400)
    boxes = np.stack([x, np.full_like(x, 10), x + 20, np.full_like(x, 60)], axis=1)
    visibility = np.tile(np.linspace(0, 1, 11), 400)
    rng = np.random.default_rng(0)
    det_frames, det_boxes, det_scores, _ = synthesize_detections(
        frames, boxes, visibility, 440, 100, 0.05, rng
    )
    assert miss_probability(np.array([1.0, 0.4, 0.3, 0.19]), 0.05) == pytest.approx([0.05, 0.05, 0.51, 0.97])
    # a true detection overlaps its gt slot at IoU >= 0.6 (shifted duplicates and random boxes do not)
    slot = np.clip(np.round(det_boxes[:, 0] / 40).astype(int), 0, 10)
    gt_slot = boxes[slot]
    inter = np.prod(
        np.clip(
            np.minimum(det_boxes[:, 2:], gt_slot[:, 2:]) - np.maximum(det_boxes[:, :2], gt_slot[:, :2]),
            0,
            None,
        ),
        1,
    )
    union = np.prod(det_boxes[:, 2:] - det_boxes[:, :2], 1) + 20 * 50 - inter
    true = inter / union >= 0.6
    shift = ((det_boxes[true, 0] + det_boxes[true, 2]) / 2 - (gt_slot[true, 0] + 10)) / 20
    robust_sigma = 1.4826 * np.median(np.abs(shift - np.median(shift)))
    assert robust_sigma == pytest.approx(JITTER_SIGMA, rel=0.15)
    counts = np.bincount(slot[true], minlength=11) / 400
    assert counts[10] == pytest.approx(0.95, abs=0.03) and counts[6] == pytest.approx(0.95, abs=0.03)
    assert counts[:2].max() < 0.08
    assert (len(det_frames) - true.sum()) / 400 == pytest.approx(FALSE_POSITIVES_PER_FRAME, abs=0.25)
    assert np.corrcoef(visibility[0:11][slot[true]], det_scores[true])[0, 1] > 0.7
