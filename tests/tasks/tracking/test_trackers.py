"""The trackers on hand-made scenes whose right answer is known: ids kept, ids recovered, classes kept."""

from __future__ import annotations

import numpy as np
import pytest

from visionstack.tasks.tracking.trackers import (
    ByteTracker,
    DeepSortTracker,
    Detections,
    OCSortTracker,
    SortTracker,
)
from visionstack.tasks.tracking.trackers.xysr_track import XYSRTrack


def box_at(x: float, y: float, w: float = 20, h: float = 50) -> np.ndarray:
    return np.array([x, y, x + w, y + h], dtype=np.float64)


def frames_of(paths: list[list[np.ndarray | None]], scores=None, labels=None) -> list[Detections]:
    """One Detections per frame from per-object box lists (None: not detected in that frame)."""
    frames = []
    for t in range(len(paths[0])):
        boxes, s, lab = [], [], []
        for k, path in enumerate(paths):
            if path[t] is not None:
                boxes.append(path[t])
                s.append(0.9 if scores is None else scores[k][t])
                lab.append(0 if labels is None else labels[k])
        frames.append(Detections(np.array(boxes).reshape(-1, 4), np.array(s), np.array(lab, np.int64)))
    return frames


def run(tracker, frames, **kw) -> list[dict[int, np.ndarray]]:
    tracker.reset()
    out = []
    for index, det in enumerate(frames):
        result = tracker.update(det, frame_id=index + 1, **kw)
        out.append({int(i): b for i, b in zip(result.ids, result.bboxes)})
    return out


def id_near(frame_tracks: dict[int, np.ndarray], box: np.ndarray) -> int | None:
    for track_id, tracked in frame_tracks.items():
        if np.abs(tracked - box).max() < 8:
            return track_id
    return None


def linear_path(x0, y0, vx, vy, n):
    return [box_at(x0 + vx * t, y0 + vy * t) for t in range(n)]


@pytest.mark.parametrize("tracker_cls", [SortTracker, ByteTracker, OCSortTracker])
def test_two_separate_objects_keep_their_ids(tracker_cls):
    a, b = linear_path(10, 10, 3, 0, 30), linear_path(10, 200, 0, 2, 30)
    out = run(tracker_cls(frame_rate=30), frames_of([a, b]))
    ids_a = {id_near(out[t], a[t]) for t in range(5, 30)}
    ids_b = {id_near(out[t], b[t]) for t in range(5, 30)}
    assert len(ids_a) == 1 and len(ids_b) == 1 and ids_a != ids_b and None not in ids_a | ids_b


def test_sort_reports_after_min_hits_and_forgets_after_max_age():
    a = linear_path(10, 10, 3, 0, 12)
    path = [a[t] if t not in (5, 6) else None for t in range(12)]  # missed twice: SORT (max_age 1) drops it
    tracker = SortTracker(frame_rate=30)  # max_age 1 frame, min_hits 3
    out = run(tracker, frames_of([path]))
    first_id = id_near(out[0], a[0])
    assert first_id == 1  # reported at once in the first min_hits frames
    later = id_near(out[11], a[11])
    assert later is not None and later != first_id  # a new track after the gap
    # the new track starts at frame 7 and is reported once it has 3 consecutive matches (frame 10)
    assert id_near(out[8], a[8]) is None and id_near(out[10], a[10]) == later


def test_bytetrack_keeps_an_occluded_object_through_low_score_boxes():
    a = linear_path(10, 10, 4, 0, 30)
    scores = [[0.9 if not 10 <= t < 20 else 0.3 for t in range(30)]]  # occluded: weak boxes
    byte = run(ByteTracker(frame_rate=30), frames_of([a], scores))
    assert {id_near(byte[t], a[t]) for t in range(30)} == {1}
    # SORT with the same score threshold loses the track while the scores are low
    sort = run(SortTracker(frame_rate=30, score_thr=0.6), frames_of([a], scores))
    assert id_near(sort[25], a[25]) not in (None, 1)


def test_bytetrack_recovers_a_lost_track_within_the_buffer_only():
    a = linear_path(10, 10, 3, 0, 60)
    gap = [a[t] if not 10 <= t < 25 else None for t in range(60)]  # 15 frames without a box
    short = run(ByteTracker(frame_rate=30, track_buffer=1.0), frames_of([gap]))  # 30-frame buffer
    assert id_near(short[30], a[30]) == 1
    tiny = run(ByteTracker(frame_rate=30, track_buffer=0.2), frames_of([gap]))  # 6-frame buffer
    assert id_near(tiny[30], a[30]) not in (None, 1)


@pytest.mark.parametrize("tracker_cls", [SortTracker, ByteTracker, OCSortTracker])
def test_tracks_never_switch_class(tracker_cls):
    """A pedestrian and a car cross; the car's box lands where the pedestrian's track predicts it."""
    walker = linear_path(10, 100, 4, 0, 40)
    car = [box_at(170 - 4 * t, 100) for t in range(40)]
    frames = frames_of([walker, car], labels=[0, 1])
    tracker = tracker_cls(frame_rate=30)
    tracker.reset()
    label_of: dict[int, set[int]] = {}
    for index, det in enumerate(frames):
        result = tracker.update(det, frame_id=index + 1)
        for track_id, label in zip(result.ids, result.labels):
            label_of.setdefault(int(track_id), set()).add(int(label))
    assert label_of and all(len(labels) == 1 for labels in label_of.values())


def test_time_aware_prediction_uses_the_real_gap():
    """Frames 1..10 at 30 fps, then only every third frame: a 20 px wide object moving 6 px per frame moves
    18 px between the frames kept. The time-aware filter predicts 3 frames of motion and keeps the id; the
    frame-counting one predicts 6 px, loses the track and cannot confirm new ones."""
    a = linear_path(0, 0, 6, 0, 40)
    kept = list(range(10)) + list(range(12, 40, 3))
    frames = frames_of([a])
    reported = {}
    for time_aware in (True, False):
        tracker = ByteTracker(frame_rate=30, time_aware=time_aware)
        tracker.reset()
        reported[time_aware] = [
            tracker.update(frames[t], frame_id=t + 1, timestamp=t / 30).ids.tolist() for t in kept
        ]
    assert all(ids == [1] for ids in reported[True])
    assert reported[False][-5:] == [[]] * 5
    aware = ByteTracker(frame_rate=30, time_aware=True)
    aware.reset()
    for t in kept:
        aware.update(frames[t], frame_id=t + 1, timestamp=t / 30)
    assert aware.tracks[0].mean[4] == pytest.approx(6.0, abs=0.1)  # velocity per nominal frame interval


def test_oc_sort_reupdate_equals_filtering_the_virtual_trajectory():
    filter_boxes = [box_at(10 + 5 * t, 20 + 2 * t, 20 + 0.5 * t, 50) for t in range(8)]
    track = XYSRTrack(filter_boxes[0], 0.9, 0, time=0)
    track.predict(1.0)
    track.observe(filter_boxes[1], 0.9, 1, delta_t=3)
    for _ in range(4):  # unobserved for 4 frames, then seen at frame 6
        track.predict(1.0)
    track.predict(1.0)
    track.observe(filter_boxes[6], 0.9, 6, delta_t=3)
    # reference: the same filter observed at frame 1, then virtual boxes interpolated linearly to frame 6
    ref = XYSRTrack(filter_boxes[0], 0.9, 0, time=0)
    ref.predict(1.0)
    ref.update(filter_boxes[1], 0.9, 1)
    start, end = filter_boxes[1], filter_boxes[6]
    for step in range(1, 6):
        ref.predict(1.0)
        ref.update(start + (end - start) * step / 5, 0.9, 1 + step)
    np.testing.assert_allclose(track.x, ref.x, rtol=1e-9, atol=1e-9)
    np.testing.assert_allclose(track.P, ref.P, rtol=1e-9, atol=1e-9)


def test_oc_sort_recovers_a_turning_object_that_sort_loses():
    """The object turns 90 degrees while unseen for 6 frames; OC-SORT's recovery by its last observation
    and re-update keep the id (within its 1 s buffer), SORT drops it (max_age 1 frame)."""
    path = [box_at(100 + 6 * t, 100) for t in range(15)] + [
        box_at(184 + 2, 100 + 2 * t) for t in range(1, 20)
    ]
    visible = [p if not 15 <= t < 21 else None for t, p in enumerate(path)]
    oc = run(OCSortTracker(frame_rate=30), frames_of([visible]))
    sort = run(SortTracker(frame_rate=30), frames_of([visible]))
    assert id_near(oc[30], path[30]) == 1
    assert id_near(sort[30], path[30]) not in (None, 1)


def test_deepsort_keeps_identities_by_appearance_through_a_swap():
    """Two overlapping objects hidden for 5 frames come back at each other's places (20 px apart, inside the
    Kalman gate): IoU and motion would swap their ids; their embeddings keep them."""
    n = 30
    a = [box_at(50 + 2 * t, 100) for t in range(n)]
    b = [box_at(50 + 2 * t, 120) for t in range(n)]
    for t in range(15, n):  # after the gap, a and b have swapped places
        a[t], b[t] = box_at(50 + 2 * t, 120), box_at(50 + 2 * t, 100)
    emb_a, emb_b = np.eye(8)[0], np.eye(8)[1]
    tracker = DeepSortTracker(frame_rate=30, max_iou_distance=0.7)
    tracker.reset()
    seen = {}
    for t in range(n):
        if 10 <= t < 15:
            det = Detections.empty()
            det.embeddings = np.zeros((0, 8))
        else:
            det = Detections(
                np.stack([a[t], b[t]]), np.array([0.9, 0.9]), np.zeros(2, np.int64), np.stack([emb_a, emb_b])
            )
        out = tracker.update(det, frame_id=t + 1)
        seen[t] = {int(i): bx for i, bx in zip(out.ids, out.bboxes)}
    assert id_near(seen[8], a[8]) == id_near(seen[25], a[25]) is not None
    assert id_near(seen[8], b[8]) == id_near(seen[25], b[25]) is not None


def test_deepsort_needs_embeddings():
    with pytest.raises(ValueError, match="embeddings"):
        DeepSortTracker().update(Detections(box_at(0, 0)[None], [0.9], [0]))


@pytest.mark.parametrize("tracker_cls", [SortTracker, ByteTracker, OCSortTracker])
def test_camera_motion_compensation_keeps_ids_through_a_fast_pan(tracker_cls):
    """The camera pans 30 px per frame over a textured scene with one still object (20 px wide): without
    compensation its predicted box misses the next detection; with sparse-flow compensation the id holds
    (ECC, a local search, does not converge from 30 px away; test_camera_motion checks it on small motions)."""
    rng = np.random.default_rng(0)
    world = (rng.random((300, 1200)) * 255).astype(np.uint8)
    import cv2

    world = cv2.GaussianBlur(world, (0, 0), 3)
    world = cv2.normalize(world, None, 0, 255, cv2.NORM_MINMAX)
    frames, images = [], []
    for t in range(12):
        left = 30 * t
        images.append(cv2.cvtColor(world[:, left : left + 400].copy(), cv2.COLOR_GRAY2BGR))
        frames.append(Detections(box_at(360 - left, 100)[None], [0.9], [0]))
    reported = {}
    for use_cmc in (False, True):
        tracker = tracker_cls(frame_rate=30, camera_motion=dict(method="sparse_flow") if use_cmc else None)
        tracker.reset()
        reported[use_cmc] = [
            tracker.update(frames[t], frame_id=t + 1, image=images[t] if use_cmc else None).ids.tolist()
            for t in range(12)
        ]
    assert reported[True] == [[1]] * 12
    assert reported[False][-1] != [1]
