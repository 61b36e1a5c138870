"""MOT sequences as COCO video annotations (MMTracking's ``mot2coco`` layout), for training detectors.

    python -c "from visionstack.tasks.tracking.coco_conversion import mot_to_coco as c; \\
        c('data/MOT17/train', 'data/MOT17/annotations/train_cocoformat.json', class_ids=(1,))"

``videos`` (one per sequence); ``images`` with ``file_name`` relative to the split folder's parent (``train/
MOT17-02-FRCNN/img1/000001.jpg``), ``frame_id`` (0-based, as MMTracking) and ``mot_frame_id`` (MOT's number);
``annotations`` with ``instance_id`` (unique over the file), ``mot_instance_id``, ``visibility`` and boxes
clipped to the image (what most detectors learn), or, with ``clip=False``, whole extents as the gt has them
(train with ``Resize(clip_object_border=False)`` and predict with ``test_cfg.clip_to_image=False`` to match
MOT17-style gt that runs past the border). A box is ``iscrowd=1`` (ignored in training and evaluation) when
its gt row is not to be considered, its class is not one of ``class_ids`` but is a MOT17 distractor, or its
visibility is under ``ignore_visibility``; rows of other classes are left out.
"""

from __future__ import annotations

import json
import os
from collections.abc import Sequence
from pathlib import Path

import numpy as np

from .metainfo import MOT17_DISTRACTOR_IDS, MOT_CLASS_NAMES
from .mot_format import frame_paths, list_sequences, read_mot_file, read_seqinfo

__all__ = ["mot_to_coco"]


def mot_to_coco(
    split_dir: str | os.PathLike,
    out_file: str | os.PathLike,
    class_ids: Sequence[int] = (1,),
    class_names: Sequence[str] | None = None,
    ignore_visibility: float = 0.25,
    sequences: Sequence[str] | None = None,
    clip: bool = True,
) -> dict[str, int]:
    """Write the COCO file of a split's sequences; return the counts of images, annotations and instances.

    Args:
        split_dir: a folder of MOT sequences (``<SEQ>/{seqinfo.ini, img1/, gt/gt.txt}``).
        out_file: the JSON file to write.
        class_ids: the MOT class ids that become categories (category id = MOT class id).
        class_names: their names (default: the MOT16 protocol's).
        ignore_visibility: boxes less visible than this are ``iscrowd=1``.
        sequences: only these sequence names (default: all).
        clip: clip boxes to the image (False: whole extents; the part inside must be at least a pixel).
    """
    split_dir = Path(split_dir)
    class_names = list(class_names or [MOT_CLASS_NAMES[c] for c in class_ids])
    videos, images, annotations, instance_ids = [], [], [], {}
    for video_id, seq_dir in enumerate(list_sequences(split_dir), start=1):
        if sequences is not None and seq_dir.name not in sequences:
            continue
        info = read_seqinfo(seq_dir)
        videos.append({"id": video_id, "name": seq_dir.name})
        image_of = {}
        for frame, path in frame_paths(seq_dir, info):
            image_of[frame] = len(images) + 1
            images.append({
                "id": image_of[frame], "video_id": video_id, "frame_id": frame - 1, "mot_frame_id": frame,
                "file_name": path.relative_to(split_dir.parent).as_posix(),
                "height": info.im_height, "width": info.im_width,
            })  # fmt: skip
        gt = read_mot_file(seq_dir / "gt" / "gt.txt", "gt")
        limits = [info.im_width, info.im_height, info.im_width, info.im_height]
        for row in np.lexsort((gt.ids, gt.frames)):
            frame, class_id = int(gt.frames[row]), int(gt.classes[row])
            evaluated = class_id in class_ids
            if frame not in image_of or not (evaluated or class_id in MOT17_DISTRACTOR_IDS):
                continue
            inside = np.clip(gt.bboxes[row], 0, limits)
            if inside[2] - inside[0] < 1 or inside[3] - inside[1] < 1:
                continue
            x1, y1, x2, y2 = (round(float(v), 2) for v in (inside if clip else gt.bboxes[row]))
            width, height = round(x2 - x1, 2), round(y2 - y1, 2)
            key = (video_id, int(gt.ids[row]))
            instance_ids.setdefault(key, len(instance_ids) + 1)
            visibility = round(float(gt.visibility[row]), 4)
            ignored = not evaluated or not gt.consider[row] or visibility < ignore_visibility
            annotations.append({
                "id": len(annotations) + 1, "image_id": image_of[frame], "video_id": video_id,
                "category_id": class_id if evaluated else int(class_ids[0]), "instance_id": instance_ids[key],
                "mot_instance_id": key[1], "bbox": [x1, y1, width, height], "area": round(width * height, 2),
                "iscrowd": int(ignored), "visibility": visibility,
            })  # fmt: skip
    categories = [{"id": int(c), "name": name} for c, name in zip(class_ids, class_names)]
    content = {"videos": videos, "images": images, "annotations": annotations, "categories": categories}
    out_file = Path(out_file)
    out_file.parent.mkdir(parents=True, exist_ok=True)
    out_file.write_text(json.dumps(content, separators=(",", ":")), encoding="utf-8")
    return {"images": len(images), "annotations": len(annotations), "instances": len(instance_ids)}
