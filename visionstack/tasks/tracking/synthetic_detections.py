"""Public detections derived from ground truth, erring the way real detectors do.

For every gt box of a frame:

- it is missed with probability :func:`miss_probability`: a base rate (``MISS_RATE``: 5 % on clean and
  nonlinear sequences, 10 % on the occlusion and camera ones) while the object is well visible, rising linearly from visibility ``RAMP_TOP`` down to
  ``RAMP_BOTTOM``, and ``MISS_AT_LOW_VISIBILITY`` below it (a box under 20 % visible is almost always missed);
- otherwise its centre and size are jittered by ``JITTER_SIGMA`` of its width / height and it gets a score
  from :func:`detection_score`: about 0.9-0.99 when fully visible, falling towards 0.1-0.5 as visibility
  falls, with noise that grows as visibility falls.

Each frame also gets Poisson(``FALSE_POSITIVES_PER_FRAME``) false positives: ``DUPLICATE_SHARE`` of them are
shifted, rescaled copies of a true box (a second, misplaced hit on the same object), the rest boxes of a
random class's size anywhere on the ground; their scores are low (0.1-0.5) except ``HIGH_SCORE_FP_SHARE``
(0.5-0.8). The class is unknown (-1 in det.txt), as in MOT17's public detections.
"""

from __future__ import annotations

import numpy as np

from .synthetic_objects import CLASS_SIZES

__all__ = [
    "DUPLICATE_SHARE",
    "FALSE_POSITIVES_PER_FRAME",
    "HIGH_SCORE_FP_SHARE",
    "JITTER_SIGMA",
    "MISS_AT_LOW_VISIBILITY",
    "MISS_RATE",
    "RAMP_BOTTOM",
    "RAMP_TOP",
    "detection_score",
    "miss_probability",
    "synthesize_detections",
]

JITTER_SIGMA = 0.04
MISS_RATE = {"clean": 0.05, "hard": 0.10}
RAMP_TOP, RAMP_BOTTOM = 0.4, 0.2  # visibility where extra misses start / reach MISS_AT_LOW_VISIBILITY
MISS_AT_LOW_VISIBILITY = 0.97
FALSE_POSITIVES_PER_FRAME = 0.7
DUPLICATE_SHARE = 0.3
HIGH_SCORE_FP_SHARE = 0.15
MIN_SIDE = 2.0  # detections clipped narrower than this (pixels) are dropped


def miss_probability(visibility: np.ndarray, base_rate: float) -> np.ndarray:
    """(N,) chance that a gt box of the given visibility (N,) gets no detection."""
    visibility = np.asarray(visibility, dtype=np.float64)
    ramp = np.clip((RAMP_TOP - visibility) / (RAMP_TOP - RAMP_BOTTOM), 0.0, 1.0)
    probability = base_rate + ramp * (MISS_AT_LOW_VISIBILITY - base_rate)
    return np.where(visibility < RAMP_BOTTOM, MISS_AT_LOW_VISIBILITY, probability)


def detection_score(visibility: np.ndarray, rng: np.random.Generator) -> np.ndarray:
    """(N,) noisy scores of detected boxes: mean 0.1 + 0.87 * visibility ** 0.6, noise sigma 0.03-0.10."""
    visibility = np.asarray(visibility, dtype=np.float64)
    mean = 0.1 + 0.87 * visibility**0.6
    noise = rng.normal(0.0, 0.03 + 0.07 * (1.0 - visibility))
    return np.clip(mean + noise, 0.05, 0.995)


def _jitter(boxes: np.ndarray, rng: np.random.Generator, sigma: float) -> np.ndarray:
    """(N, 4) xyxy boxes with centre and log-size noise proportional to their width / height."""
    w, h = boxes[:, 2] - boxes[:, 0], boxes[:, 3] - boxes[:, 1]
    cx = 0.5 * (boxes[:, 0] + boxes[:, 2]) + rng.normal(0, sigma, len(boxes)) * w
    cy = 0.5 * (boxes[:, 1] + boxes[:, 3]) + rng.normal(0, sigma, len(boxes)) * h
    w, h = w * np.exp(rng.normal(0, sigma, len(boxes))), h * np.exp(rng.normal(0, sigma, len(boxes)))
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def _false_positives(
    boxes: np.ndarray,
    labels: np.ndarray,
    visibility: np.ndarray,
    rng: np.random.Generator,
    width: int,
    height: int,
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """One frame's false positives: (K, 4) xyxy boxes, (K,) scores and (K,) labels (a duplicate has its
    source's class, a box from nowhere the class whose size it was drawn with)."""
    count = int(rng.poisson(FALSE_POSITIVES_PER_FRAME))
    result, fp_labels = [], []
    candidates = np.flatnonzero(visibility > 0.3)
    for _ in range(count):
        if len(candidates) and rng.random() < DUPLICATE_SHARE:
            source = int(rng.choice(candidates))
            x1, y1, x2, y2 = boxes[source]
            fp_labels.append(int(labels[source]))
            w, h = (x2 - x1) * rng.uniform(0.8, 1.25), (y2 - y1) * rng.uniform(0.8, 1.25)
            cx = 0.5 * (x1 + x2) + rng.choice([-1, 1]) * rng.uniform(0.25, 0.5) * (x2 - x1)
            cy = 0.5 * (y1 + y2) + rng.uniform(-0.2, 0.2) * (y2 - y1)
        else:
            label = int(rng.integers(len(CLASS_SIZES)))
            fp_labels.append(label)
            (w_low, w_high), (a_low, a_high) = CLASS_SIZES[label]
            w = rng.uniform(w_low, w_high)
            h = w / rng.uniform(a_low, a_high)
            cx, cy = rng.uniform(0, width), rng.uniform(0.35 * height, height) - h / 2
        result.append((cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2))
    high = rng.random(count) < HIGH_SCORE_FP_SHARE
    scores = np.where(high, rng.uniform(0.5, 0.8, count), rng.uniform(0.1, 0.5, count))
    return np.array(result, dtype=np.float64).reshape(-1, 4), scores, np.array(fp_labels, dtype=np.int64)


def synthesize_detections(
    frames: np.ndarray,
    bboxes: np.ndarray,
    visibility: np.ndarray,
    width: int,
    height: int,
    base_miss_rate: float,
    rng: np.random.Generator,
    num_frames: int | None = None,
    labels: np.ndarray | None = None,
) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    """Detections of a sequence from its gt rows.

    Args:
        frames: (N,) gt frame numbers (1-based).
        bboxes: (N, 4) gt boxes, xyxy 0-based pixels (whole extents, past the border for truncated objects).
        visibility: (N,) gt visibility.
        width, height: the image size (detections with less than ``MIN_SIDE`` pixels inside are dropped).
        base_miss_rate: the miss rate of well visible boxes (``MISS_RATE[...]``).
        rng: the generator (the same state gives the same detections).
        num_frames: frames 1..num_frames get false positives (default: up to the last gt frame).
        labels: (N,) gt class labels (0-based); a detection has its object's class, as a multi-class
            detector's (default: all 0).

    Returns:
        ``(frames (M,), bboxes (M, 4) xyxy, scores (M,), labels (M,))``, in frame order.
    """
    frames, bboxes, visibility = (
        np.asarray(frames),
        np.asarray(bboxes, dtype=np.float64),
        np.asarray(visibility),
    )
    num_frames = int(frames.max(initial=0)) if num_frames is None else num_frames
    labels = np.zeros(len(frames), dtype=np.int64) if labels is None else np.asarray(labels, dtype=np.int64)
    out_frames, out_boxes, out_scores, out_labels = [], [], [], []
    for frame in range(1, num_frames + 1):
        rows = np.flatnonzero(frames == frame)
        boxes, vis = bboxes[rows], visibility[rows]
        hit = rng.random(len(rows)) >= miss_probability(vis, base_miss_rate)
        detected = _jitter(boxes[hit], rng, JITTER_SIGMA)
        scores = detection_score(vis[hit], rng)
        fp_boxes, fp_scores, fp_labels = _false_positives(boxes, labels[rows], vis, rng, width, height)
        frame_boxes = np.concatenate([detected, fp_boxes])
        frame_scores = np.concatenate([scores, fp_scores])
        frame_labels = np.concatenate([labels[rows][hit], fp_labels])
        inside = np.clip(frame_boxes, 0, [width, height, width, height])  # boxes may run past the border
        keep = ((inside[:, 2] - inside[:, 0]) >= MIN_SIDE) & ((inside[:, 3] - inside[:, 1]) >= MIN_SIDE)
        out_frames.append(np.full(int(keep.sum()), frame, dtype=np.int64))
        out_boxes.append(frame_boxes[keep])
        out_scores.append(frame_scores[keep])
        out_labels.append(frame_labels[keep])
    return (
        np.concatenate(out_frames),
        np.concatenate(out_boxes).reshape(-1, 4),
        np.concatenate(out_scores),
        np.concatenate(out_labels),
    )
