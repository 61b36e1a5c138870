"""Class tables of the tracking family: the synthetic sequences and MOT17 (NumPy-free, import-light).

- ``SYNTH_CLASSES``: the synthetic writer's classes; a model's label is the 0-based index into it.
- ``MOT_CLASS_IDS``: label -> the MOT class id written in column 8 of gt/result files (MOT17's ids:
  1 pedestrian, 3 car, 4 bicycle), so the synthetic files read like MOT17's.
- ``MOT17_CLASSES`` / ``MOT17_CLASS_IDS``: the one evaluated MOT17 class; ``MOT17_DISTRACTOR_IDS``: the gt
  classes whose matches are not counted (person on vehicle, static person, distractor, reflection), as
  trackeval's MOT Challenge preprocessing removes them.
- ``MOT_CLASS_NAMES``: every class id of the MOT16/17 annotation protocol.
- ``CLASS_PALETTE``: one BGR colour per synthetic class; :func:`identity_color`: a stable BGR colour per
  track id for drawing ids and trails.
"""

from __future__ import annotations

__all__ = [
    "CLASS_PALETTE",
    "MOT17_CLASSES",
    "MOT17_CLASS_IDS",
    "MOT17_DISTRACTOR_IDS",
    "MOT_CLASS_IDS",
    "MOT_CLASS_NAMES",
    "SYNTH_CLASSES",
    "identity_color",
    "label_to_mot_id",
    "mot_id_to_label",
]

SYNTH_CLASSES = ("pedestrian", "car", "bicycle")
MOT_CLASS_IDS = (1, 3, 4)

MOT17_CLASSES = ("pedestrian",)
MOT17_CLASS_IDS = (1,)
MOT17_DISTRACTOR_IDS = (2, 7, 8, 12)

# The MOT16 paper (Milan et al., 2016), table 2: the label of each annotated class.
MOT_CLASS_NAMES = {
    1: "pedestrian",
    2: "person_on_vehicle",
    3: "car",
    4: "bicycle",
    5: "motorbike",
    6: "non_mot_vehicle",
    7: "static_person",
    8: "distractor",
    9: "occluder",
    10: "occluder_on_ground",
    11: "occluder_full",
    12: "reflection",
    13: "crowd",
}

CLASS_PALETTE = ((60, 180, 255), (255, 140, 40), (90, 220, 90))  # BGR: orange, blue, green


def label_to_mot_id(label: int, class_ids: tuple[int, ...] = MOT_CLASS_IDS) -> int:
    """The MOT class id of a 0-based label."""
    return class_ids[int(label)]


def mot_id_to_label(class_id: int, class_ids: tuple[int, ...] = MOT_CLASS_IDS) -> int:
    """The 0-based label of a MOT class id (-1, "unknown" in results, reads as the first class)."""
    if int(class_id) == -1:
        return 0
    if int(class_id) not in class_ids:
        raise ValueError(f"MOT class id {class_id} is not one of {class_ids}")
    return class_ids.index(int(class_id))


def identity_color(track_id: int) -> tuple[int, int, int]:
    """A stable, well-saturated BGR colour for a track id (golden-ratio hue steps, so neighbours differ)."""
    hue = (int(track_id) * 0.618033988749895) % 1.0
    sector, fraction = divmod(hue * 6.0, 1.0)
    high, low = 230, 60
    rising, falling = low + (high - low) * fraction, high - (high - low) * fraction
    rgb = [
        (high, rising, low),
        (falling, high, low),
        (low, high, rising),
        (low, falling, high),
        (rising, low, high),
        (high, low, falling),
    ][int(sector)]
    return int(rgb[2]), int(rgb[1]), int(rgb[0])
