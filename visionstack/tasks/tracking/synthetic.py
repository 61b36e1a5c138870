"""``visionstack data synth tracking``: deterministic synthetic MOT sequences with noisy public detections.

Layout (MOT17's, plus trackeval seqmaps and MMTracking-style COCO files)::

    <out>/train/SYNTH-CLEAN-01/seqinfo.ini          [Sequence] name, imDir, frameRate, seqLength, ...
                              img1/000001.jpg ...   the frames (JPEG, quality 95)
                              gt/gt.txt             frame, id, box, consider=1, class (1/3/4), visibility
                              det/det.txt           frame, -1, box, score, -1, -1, -1
    <out>/train/SYNTH-OCCLUSION-02/ ...  <out>/val/SYNTH-CLEAN-09/ ...
    <out>/seqmaps/train.txt, val.txt                "name" then one sequence per line
    <out>/annotations/train_cocoformat.json, val_cocoformat.json

Sequence kinds cycle with the index (numbers run on from train to val, so names are unique):

- ``SYNTH-CLEAN-NN``: linear motion, a static camera, 8-11 objects, no occluders (few occlusions).
- ``SYNTH-OCCLUSION-NN``: 13-18 objects, pillars and a tree drawn over everything hide walkers for 1-3 s,
  pairs walk past each other at nearly the same depth (long mutual occlusions).
- ``SYNTH-NONLINEAR-NN``: turning at a constant rate, accelerating and decelerating, weaving, 1.6x faster
  objects, with occluders so the motion while hidden is not linear.
- ``SYNTH-CAMERA-NN``: the camera pans back and forth over a larger world and jitters by up to 3 pixels per
  frame; occluders move with the background.

Objects of three classes (pedestrian, car, bicycle; MOT class ids 1, 3, 4) enter and exit through the left and
right borders throughout, each identity with its own colours (see ``synthetic_objects``). Ground truth lists
every object with at least 2 x 2 px inside the image, consider 1, its box the whole extent (past the border
while it enters or leaves, as MOT17's boxes), with MOT's visibility (the box's share inside the image, not
under an occluder, not under a nearer object's box; fully hidden objects stay with visibility 0). Public
detections are derived from it (``synthetic_detections``: jitter, misses, falling scores, false positives,
the class of a multi-class detector), 5 % base misses on clean and nonlinear sequences and 10 % on the others; a detection's
misses and score follow the occlusion of the part inside the image (a truncated object is seen clearly).

The COCO files follow MMTracking's ``mot2coco``: ``videos``; ``images`` with ``file_name`` relative to
``<out>``, ``video_id``, ``frame_id`` (0-based, as MMTracking) and ``mot_frame_id`` (the 1-based MOT frame);
``annotations`` with ``category_id`` = MOT class id, ``instance_id`` (unique over the split),
``mot_instance_id``, ``visibility``, and ``iscrowd`` = 1 when less than ``IGNORE_VISIBILITY`` is visible (too
hidden to train a detector on). Sequence ``i`` of a split draws from ``default_rng([seed, split, i])``
(detections from ``[seed, split, i, 1]``), so the same seed writes byte-identical files.
"""

from __future__ import annotations

import os
from pathlib import Path

import cv2
import numpy as np

from .coco_conversion import mot_to_coco
from .metainfo import MOT_CLASS_IDS, SYNTH_CLASSES
from .mot_format import SequenceInfo, write_detections, write_gt, write_seqinfo
from .synthetic_detections import MISS_RATE, synthesize_detections
from .synthetic_scene import SEQUENCE_KINDS, Scene

__all__ = ["IGNORE_VISIBILITY", "JPEG_QUALITY", "sequence_name", "synth_tracking", "write_sequence"]

IGNORE_VISIBILITY = 0.25
JPEG_QUALITY = 95


def sequence_name(number: int) -> str:
    """``SYNTH-<KIND>-NN`` for the 1-based running sequence number (kinds cycle clean, occlusion, ...)."""
    return f"SYNTH-{SEQUENCE_KINDS[(number - 1) % len(SEQUENCE_KINDS)].upper()}-{number:02d}"


def write_sequence(
    seq_dir: Path, kind: str, seed: tuple[int, ...], length: int, frame_rate: float, width: int, height: int
) -> dict:
    """Simulate and write one sequence folder; return its gt arrays and counts."""
    rng = np.random.default_rng(list(seed))
    scene = Scene(rng, kind, width, height, frame_rate, length)
    (seq_dir / "img1").mkdir(parents=True, exist_ok=True)
    frames, ids, labels, boxes, visibility, in_view = [], [], [], [], [], []
    for frame in range(1, length + 1):
        img, objects = scene.render()
        path = seq_dir / "img1" / f"{frame:06d}.jpg"
        if not cv2.imwrite(str(path), img, [cv2.IMWRITE_JPEG_QUALITY, JPEG_QUALITY]):
            raise OSError(f"synth_tracking: could not write {path}")
        frames.append(np.full(len(objects.ids), frame, dtype=np.int64))
        ids.append(objects.ids)
        labels.append(objects.labels)
        boxes.append(objects.bboxes)
        visibility.append(objects.visibility)
        in_view.append(objects.in_view)
        scene.step()
    gt = {
        "frames": np.concatenate(frames),
        "ids": np.concatenate(ids),
        "labels": np.concatenate(labels),
        "bboxes": np.concatenate(boxes).reshape(-1, 4),
        "visibility": np.concatenate(visibility),
    }
    classes = np.asarray(MOT_CLASS_IDS)[gt["labels"]]
    write_gt(seq_dir / "gt" / "gt.txt", gt["frames"], gt["ids"], gt["bboxes"], classes, gt["visibility"])
    miss_rate = MISS_RATE["clean" if kind in ("clean", "nonlinear") else "hard"]
    det_rng = np.random.default_rng([*seed, 1])
    # The detector errs with the occlusion of the part of an object inside the image: a truncated object is
    # otherwise seen clearly, and its box is the whole extent, as the gt box (MOT17's public detections too).
    unoccluded = np.clip(gt["visibility"] / np.maximum(np.concatenate(in_view), 1e-9), 0.0, 1.0)
    det_frames, det_boxes, det_scores, det_labels = synthesize_detections(
        gt["frames"], gt["bboxes"], unoccluded, width, height, miss_rate, det_rng, num_frames=length,
        labels=gt["labels"],
    )  # fmt: skip
    det_classes = np.asarray(MOT_CLASS_IDS)[det_labels]
    write_detections(seq_dir / "det" / "det.txt", det_frames, det_boxes, det_scores, det_classes)
    write_seqinfo(seq_dir, SequenceInfo(seq_dir.name, frame_rate, length, width, height))
    return {**gt, "identities": len(np.unique(gt["ids"])), "detections": len(det_frames)}


def synth_tracking(
    out_dir: str | os.PathLike,
    seed: int = 0,
    num_train: int = 8,
    num_val: int = 8,
    seq_length: int = 150,
    frame_rate: float = 10,
    width: int = 384,
    height: int = 224,
) -> dict[str, dict]:
    """Write the synthetic MOT dataset (see the module docstring); return per split its counts.

    Args:
        out_dir: the output folder (created).
        seed: the seed; sequence ``i`` of a split uses ``default_rng([seed, split, i])``.
        num_train: training sequences (kinds cycle clean, occlusion, nonlinear, camera).
        num_val: validation sequences (numbered after the training ones).
        seq_length: frames per sequence.
        frame_rate: frames per second (motion is defined per second).
        width, height: the image size in pixels.
    """
    if width < 96 or height < 64 or seq_length < 1:
        raise ValueError(
            f"synth_tracking: need width >= 96, height >= 64, seq_length >= 1; got {width}x{height}"
        )
    out = Path(out_dir)
    summary: dict[str, dict] = {}
    number = 0
    for split_code, (split, count) in enumerate((("train", num_train), ("val", num_val))):
        sequences = []
        for index in range(count):
            number += 1
            name = sequence_name(number)
            kind = SEQUENCE_KINDS[(number - 1) % len(SEQUENCE_KINDS)]
            gt = write_sequence(out / split / name, kind, (seed, split_code, index), seq_length, frame_rate,
                                width, height)  # fmt: skip
            sequences.append((name, {**gt, "length": seq_length}))
        seqmap = out / "seqmaps" / f"{split}.txt"
        seqmap.parent.mkdir(parents=True, exist_ok=True)
        seqmap.write_text("name\n" + "".join(f"{name}\n" for name, _ in sequences), encoding="utf-8")
        coco = {}
        if count:
            coco = mot_to_coco(out / split, out / "annotations" / f"{split}_cocoformat.json",
                               class_ids=MOT_CLASS_IDS, class_names=SYNTH_CLASSES,
                               ignore_visibility=IGNORE_VISIBILITY, clip=False)  # fmt: skip
        summary[split] = {
            "sequences": [name for name, _ in sequences],
            "frames": count * seq_length,
            "gt_boxes": int(sum(len(gt["frames"]) for _, gt in sequences)),
            "identities": int(sum(gt["identities"] for _, gt in sequences)),
            "detections": int(sum(gt["detections"] for _, gt in sequences)),
            "coco_annotations": coco.get("annotations", 0),
        }
    return summary
