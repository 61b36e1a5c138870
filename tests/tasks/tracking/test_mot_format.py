"""MOT Challenge layout: seqinfo.ini, gt/det/result files, sequence listing, timestamps, frame dropping."""

from __future__ import annotations

import cv2
import numpy as np
import pytest

from visionstack.tasks.tracking.mot_format import (
    SequenceInfo,
    drop_frames,
    frame_paths,
    frame_timestamps,
    list_sequences,
    read_mot_file,
    read_seqinfo,
    write_detections,
    write_gt,
    write_mot_file,
    write_results,
    write_seqinfo,
    write_timestamps,
)


def _sequence(root, name="SEQ-01", length=10, frame_rate=5.0):
    """A tiny sequence folder: 8x8 images, a gt with two ids per frame, a det with one row per frame."""
    seq = root / name
    info = SequenceInfo(name, frame_rate, length, 8, 8)
    write_seqinfo(seq, info)
    (seq / "img1").mkdir(parents=True)
    for frame in range(1, length + 1):
        cv2.imwrite(str(seq / "img1" / f"{frame:06d}.jpg"), np.full((8, 8, 3), frame, np.uint8))
    frames = np.repeat(np.arange(1, length + 1), 2)
    ids = np.tile([1, 2], length)
    boxes = np.tile([[0.0, 0.0, 2.0, 3.0], [4.0, 4.0, 6.0, 8.0]], (length, 1))
    write_gt(seq / "gt" / "gt.txt", frames, ids, boxes, np.ones(2 * length), np.full(2 * length, 0.5))
    write_detections(seq / "det" / "det.txt", np.arange(1, length + 1), boxes[::2], np.full(length, 0.9))
    return seq


def test_seqinfo_round_trip(tmp_path):
    info = SequenceInfo("MOT17-02-FRCNN", 30.0, 600, 1920, 1080)
    path = write_seqinfo(tmp_path, info)
    assert path.read_text().splitlines() == [
        "[Sequence]", "name=MOT17-02-FRCNN", "imDir=img1", "frameRate=30", "seqLength=600",
        "imWidth=1920", "imHeight=1080", "imExt=.jpg",
    ]  # fmt: skip
    assert read_seqinfo(tmp_path) == info


def test_seqinfo_errors_name_the_file(tmp_path):
    with pytest.raises(FileNotFoundError, match="no seqinfo.ini"):
        read_seqinfo(tmp_path)
    (tmp_path / "seqinfo.ini").write_text("[Sequence]\nname=a\nframeRate=x\n")
    with pytest.raises(ValueError, match=r"seqinfo.ini: frameRate = 'x'"):
        read_seqinfo(tmp_path)
    (tmp_path / "seqinfo.ini").write_text("[Sequence]\nname=a\nframeRate=10\n")
    with pytest.raises(ValueError, match="has no seqLength"):
        read_seqinfo(tmp_path)


def test_gt_text_is_one_based_and_sorted(tmp_path):
    path = write_gt(
        tmp_path / "gt.txt", [2, 1, 1], [1, 7, 3], [[0, 0, 10, 20], [1.5, 2.25, 3.5, 4.25], [5, 5, 6, 6]],
        [1, 3, 4], [1.0, 0.123456, 0.0], consider=[1, 0, 1],
    )  # fmt: skip
    assert path.read_text().splitlines() == [
        "1,3,6.00,6.00,1.00,1.00,1,4,0.0000",
        "1,7,2.50,3.25,2.00,2.00,0,3,0.1235",
        "2,1,1.00,1.00,10.00,20.00,1,1,1.0000",
    ]
    gt = read_mot_file(path, "gt")
    np.testing.assert_array_equal(gt.frames, [1, 1, 2])
    np.testing.assert_array_equal(gt.ids, [3, 7, 1])
    np.testing.assert_allclose(gt.bboxes[2], [0, 0, 10, 20])
    np.testing.assert_array_equal(gt.consider, [True, False, True])
    np.testing.assert_array_equal(gt.classes, [4, 3, 1])
    np.testing.assert_allclose(gt.visibility, [0.0, 0.1235, 1.0])


def test_det_and_result_round_trip(tmp_path):
    rng = np.random.default_rng(0)
    xy = rng.uniform(0, 100, (20, 2))
    boxes = np.concatenate([xy, xy + rng.uniform(1, 50, (20, 2))], axis=1)
    frames, scores = rng.integers(1, 6, 20), rng.uniform(0, 1, 20)
    det = read_mot_file(write_detections(tmp_path / "det.txt", frames, boxes, scores), "det")
    order = np.lexsort((-scores, frames))
    np.testing.assert_array_equal(det.frames, frames[order])
    np.testing.assert_allclose(det.bboxes, boxes[order], atol=0.0101)  # x2 = rounded bb_left + rounded w
    np.testing.assert_allclose(det.scores, scores[order], atol=5e-5)
    assert (det.ids == -1).all() and (det.classes == -1).all()
    assert det.select(det.frames == 3).frames.tolist() == [3] * int((frames == 3).sum())
    # a multi-class detector's class ids (column 8) come back
    det_classes = rng.choice([1, 3, 4], 20)
    det = read_mot_file(write_detections(tmp_path / "det3.txt", frames, boxes, scores, det_classes), "det")
    np.testing.assert_array_equal(det.classes, det_classes[order])

    ids, classes = np.arange(20), rng.choice([1, 3, 4], 20)
    result = read_mot_file(write_results(tmp_path / "res.txt", frames, ids, boxes, scores, classes), "result")
    order = np.lexsort((ids, frames))
    np.testing.assert_array_equal(result.ids, ids[order])
    np.testing.assert_array_equal(result.classes, classes[order])
    again = write_mot_file(tmp_path / "again.txt", result, "result")
    assert again.read_text() == (tmp_path / "res.txt").read_text()


def test_result_class_minus_one_reads_as_pedestrian(tmp_path):
    (tmp_path / "r.txt").write_text("1,1,1,1,5,5,0.9,-1,-1,-1\n\n2 2 3 3 4 4 0.8\n")
    result = read_mot_file(tmp_path / "r.txt", "result")
    np.testing.assert_array_equal(result.classes, [1, 1])
    np.testing.assert_allclose(result.bboxes, [[0, 0, 5, 5], [2, 2, 6, 6]])
    assert len(read_mot_file(write_results(tmp_path / "e.txt", [], [], np.zeros((0, 4)), []), "result")) == 0


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("1,2,3,4,5", "needs at least 6 numbers"),
        ("1,2,3,4,5,x,1", "not a number"),
        ("0,1,1,1,5,5,1,1,1", "frame must be an integer >= 1"),
        ("1.5,1,1,1,5,5,1,1,1", "frame must be an integer >= 1"),
        ("1,1,1,1,-5,5,1,1,1", "negative box size"),
    ],
)
def test_malformed_rows_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "gt.txt"
    path.write_text("1,1,1,1,5,5,1,1,1\n" + line + "\n")
    with pytest.raises(ValueError, match=rf"gt.txt:2: .*{message}|gt.txt:2: {message}"):
        read_mot_file(path, "gt")


def test_unknown_kind(tmp_path):
    with pytest.raises(ValueError, match="kind must be one of"):
        read_mot_file(tmp_path / "x.txt", "tracks")


def test_list_sequences(tmp_path):
    for name in ("B", "A", "C"):
        write_seqinfo(tmp_path / name, SequenceInfo(name, 10, 5, 8, 8))
    (tmp_path / "not_a_sequence").mkdir()
    assert [p.name for p in list_sequences(tmp_path)] == ["A", "B", "C"]
    assert list_sequences(tmp_path / "B") == [tmp_path / "B"]
    (tmp_path / "map.txt").write_text("name\nC\nA\n")
    assert [p.name for p in list_sequences(tmp_path, seqmap=tmp_path / "map.txt")] == ["C", "A"]
    (tmp_path / "bad.txt").write_text("name\nD\n")
    with pytest.raises(FileNotFoundError, match=r"not in .*\['D'\]"):
        list_sequences(tmp_path, seqmap=tmp_path / "bad.txt")


def test_timestamps_and_frame_paths(tmp_path):
    seq = _sequence(tmp_path, length=4, frame_rate=5.0)
    assert frame_timestamps(seq) == pytest.approx({1: 0.0, 2: 0.2, 3: 0.4, 4: 0.6})
    (seq / "img1" / "000003.jpg").unlink()
    assert [frame for frame, _ in frame_paths(seq)] == [1, 2, 4]
    write_timestamps(seq / "timestamps.txt", {1: 0.0, 2: 0.25, 4: 0.7})
    assert frame_timestamps(seq) == {1: 0.0, 2: 0.25, 4: 0.7}


def test_drop_frames(tmp_path):
    seq = _sequence(tmp_path, length=20, frame_rate=10.0)
    kept = drop_frames(seq, tmp_path / "out" / "SEQ-01", fraction=0.2, seed=3)
    assert len(kept) == 16 and kept[0] == 1
    assert kept == drop_frames(seq, tmp_path / "again", fraction=0.2, seed=3)
    out = tmp_path / "out" / "SEQ-01"
    assert [frame for frame, _ in frame_paths(out)] == kept
    assert sorted(set(read_mot_file(out / "gt" / "gt.txt", "gt").frames.tolist())) == kept
    assert read_mot_file(out / "det" / "det.txt", "det").frames.tolist() == kept
    assert (out / "seqinfo.ini").read_text() == (seq / "seqinfo.ini").read_text()
    stamps = frame_timestamps(out)
    assert list(stamps) == kept and stamps[kept[-1]] == pytest.approx((kept[-1] - 1) / 10.0)
    with pytest.raises(ValueError, match="fraction must be in"):
        drop_frames(seq, tmp_path / "x", fraction=1.0)
