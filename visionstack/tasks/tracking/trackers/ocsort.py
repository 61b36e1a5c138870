"""OC-SORT (Cao et al., CVPR 2023): SORT made observation-centric, for occlusion and non-linear motion.

Three changes to SORT (:mod:`.sort`), all driven by the detections a track was matched to rather than by its
Kalman estimate:

- observation-centric re-update (ORU): when a track is matched again after frames without a match, its filter
  is rolled back and re-run along a virtual trajectory between the two observations
  (:meth:`XYSRTrack.observe`), instead of trusting the drifted prediction;
- observation-centric momentum (OCM): the association cost adds, weighted by ``inertia`` and the detection
  score, how well the direction from the track's observation ``delta_t`` frames ago to a detection agrees with
  the track's observed direction of motion;
- observation-centric recovery (OCR): detections and tracks left unmatched get a second IoU association
  against the tracks' last observations (a target that stopped while unobserved is found where it was seen).

Reported: tracks matched in this frame with ``min_hits`` consecutive matches (or in the first ``min_hits``
frames), with the box of the matched detection. Defaults are the published MOT17 ones (detection threshold
0.6, IoU 0.3, ``delta_t`` 3, inertia 0.2, ``max_age`` 30 frames at 30 fps = 1 s, ``min_hits`` 3).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import numpy as np

from ....registry import MODELS
from .base import Detections, TrackOutput
from .sort import SortTracker, match_by_iou, same_class_iou
from .xysr_track import XYSRTrack

__all__ = ["OCSortTracker", "momentum_cost"]


def momentum_cost(tracks: list[XYSRTrack], boxes: np.ndarray, scores: np.ndarray, delta_t: int) -> np.ndarray:
    """OCM's term (T, D): ``(pi/2 - |angle|) / pi`` between each track's observed direction and the direction
    from its observation ``delta_t`` frames back to each detection, times the detection score (0 for tracks
    without a direction yet)."""
    if not tracks or not len(boxes):
        return np.zeros((len(tracks), len(boxes)))
    origins = np.stack([t.previous_observation(delta_t) for t in tracks])
    origin_centres = origins[:, :4].reshape(-1, 2, 2).mean(1)  # (T, 2) x, y
    centres = boxes[:, :4].reshape(-1, 2, 2).mean(1)  # (D, 2)
    dx = centres[None, :, 0] - origin_centres[:, None, 0]
    dy = centres[None, :, 1] - origin_centres[:, None, 1]
    norm = np.sqrt(dx**2 + dy**2) + 1e-6
    velocities = np.array([t.velocity if t.velocity is not None else (0.0, 0.0) for t in tracks])
    cosine = np.clip(velocities[:, :1] * dy / norm + velocities[:, 1:] * dx / norm, -1.0, 1.0)
    agreement = (np.pi / 2 - np.abs(np.arccos(cosine))) / np.pi
    has_direction = np.array([t.velocity is not None for t in tracks], dtype=np.float64)[:, None]
    return agreement * has_direction * np.asarray(scores)[None, :]


@MODELS.register()
class OCSortTracker(SortTracker):
    """OC-SORT (see the module docstring).

    Args:
        score_thr: detections scored at or under this are ignored (OC-SORT's ``det_thresh``).
        iou_thr: least IoU of a match, in both associations.
        max_age: seconds a track is kept unmatched.
        min_hits: consecutive matches before a track is reported.
        delta_t: frames between the observations that give a track's direction.
        inertia: weight of the momentum term.
        frame_rate, time_aware, camera_motion: see :class:`BaseTracker`.
    """

    def __init__(
        self,
        score_thr: float = 0.6,
        iou_thr: float = 0.3,
        max_age: float = 1.0,
        min_hits: int = 3,
        delta_t: int = 3,
        inertia: float = 0.2,
        frame_rate: float = 30.0,
        time_aware: bool = False,
        camera_motion: Mapping[str, Any] | None = None,
    ) -> None:
        self.delta_t, self.inertia = delta_t, inertia
        super().__init__(iou_thr, max_age, min_hits, score_thr, frame_rate, time_aware, camera_motion)

    def step(self, detections: Detections, image: np.ndarray | None) -> TrackOutput:
        detections = detections.select(detections.scores > self.score_thr)
        for track in self.tracks:
            track.predict(self.dt)
        self.tracks = [t for t in self.tracks if np.all(np.isfinite(t.x))]
        self.compensate_camera_motion(image)
        boxes, labels = detections.bboxes, detections.labels
        # first association: IoU with the predicted boxes plus the momentum agreement
        iou = same_class_iou(self.tracks, boxes, labels)
        cost = iou + self.inertia * momentum_cost(self.tracks, boxes, detections.scores, self.delta_t)
        matches, unmatched_tracks, unmatched_dets = match_by_iou(iou, self.iou_thr, score=cost)
        for row, col in matches:
            self.tracks[row].observe(boxes[col], detections.scores[col], self.time, self.delta_t)
        # observation-centric recovery: the rest against the tracks' last observations
        if len(unmatched_tracks) and len(unmatched_dets):
            left = [self.tracks[row] for row in unmatched_tracks]
            iou = same_class_iou(left, boxes[unmatched_dets], labels[unmatched_dets], use_observation=True)
            rematched, _, still_unmatched = match_by_iou(iou, self.iou_thr)
            for row, col in rematched:
                index = unmatched_dets[col]
                left[row].observe(boxes[index], detections.scores[index], self.time, self.delta_t)
            unmatched_dets = unmatched_dets[still_unmatched]
        for col in unmatched_dets:
            track = XYSRTrack(boxes[col], detections.scores[col], labels[col], self.time)
            track.track_id = self.new_id()
            self.tracks.append(track)
        return self._report(use_observation=True)
