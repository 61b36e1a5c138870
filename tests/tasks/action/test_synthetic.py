"""The synthetic action videos: layout, list files, balance, decoded size and rate, byte determinism, the
time-reversal construction of the class pairs, and that each forward motion goes the way its name says."""

from __future__ import annotations

import math
from collections import Counter

import numpy as np
import pytest

from visionstack.tasks.action.synthetic import (
    CLASSES,
    FPS,
    NUM_FRAMES,
    PAIRS,
    SIZE,
    draw_scene,
    render_clip,
    write_synthetic_action,
)
from visionstack.utils.video_io import VideoReader

OPTIONS = {"num_train": 10, "num_val": 10, "rawframes": True, "kinds": ("video",)}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("action")
    summary = write_synthetic_action(root, seed=3, **OPTIONS)
    assert summary == {"classes": 10, "videos_train": 10, "videos_val": 10}
    return root


def _read_list(path):
    return [line.split() for line in path.read_text().splitlines()]


def test_classes_and_list_files(data_root):
    assert tuple(data_root.joinpath("classes.txt").read_text().splitlines()) == CLASSES
    for split in ("train", "val"):
        rows = _read_list(data_root / f"{split}_list_videos.txt")
        assert [row[0] for row in rows] == [f"videos_{split}/{i:06d}.mp4" for i in range(10)]
        labels = [int(row[1]) for row in rows]
        assert Counter(labels) == Counter(range(10))  # balanced: one of each class
        assert labels != sorted(labels)  # shuffled
        assert all((data_root / row[0]).is_file() for row in rows)
        frames = _read_list(data_root / f"{split}_list_rawframes.txt")
        assert [(row[0], int(row[1]), int(row[2])) for row in frames] == [
            (f"rawframes_{split}/{i:06d}", NUM_FRAMES, label) for i, label in enumerate(labels)
        ]
        names = sorted(path.name for path in (data_root / frames[0][0]).iterdir())
        assert names == [f"img_{number:05d}.jpg" for number in range(1, NUM_FRAMES + 1)]
    assert not (data_root / "skeleton").exists()  # kinds=("video",) writes no skeletons


def test_a_decoded_video_has_the_size_length_and_rate(data_root):
    with VideoReader(data_root / "videos_val/000004.mp4") as reader:
        info = reader.info
        assert (info.width, info.height, info.num_frames, len(reader)) == (SIZE, SIZE, NUM_FRAMES, NUM_FRAMES)
        assert info.fps == pytest.approx(FPS)
        assert info.codec == "h264"
        frame = reader[NUM_FRAMES - 1]
    assert frame.shape == (SIZE, SIZE, 3) and frame.dtype == np.uint8


def _frames(path):
    with VideoReader(path) as reader:
        return np.stack([frame for _, _, frame in reader]).astype(np.int16)


def test_the_same_arguments_write_the_same_bytes(data_root, tmp_path):
    write_synthetic_action(tmp_path, seed=3, **OPTIONS)
    for name in (
        "train_list_videos.txt",
        "val_list_rawframes.txt",
        "rawframes_val/000002/img_00017.jpg",
        "rawframes_train/000000/img_00001.jpg",
    ):
        assert (tmp_path / name).read_bytes() == (data_root / name).read_bytes(), name
    # The rendered frames are the same (the JPEGs above); x264's bytes are not always (on some machines two
    # encodes of the same frames differ by a few coding decisions), so the videos are compared decoded.
    for name in ("videos_train/000000.mp4", "videos_val/000009.mp4"):
        ours, theirs = _frames(tmp_path / name), _frames(data_root / name)
        assert ours.shape == theirs.shape and np.abs(ours - theirs).mean() < 0.5, name
    other = tmp_path / "other"
    write_synthetic_action(other, seed=4, num_train=1, num_val=0, kinds=("video",))
    assert (other / "videos_train/000000.mp4").read_bytes() != (
        tmp_path / "videos_train/000000.mp4"
    ).read_bytes()


@pytest.mark.parametrize("pair", list(PAIRS))
def test_each_class_is_its_partner_reversed_in_time(pair):
    forward_class, backward_class = PAIRS[pair]
    for index in range(2):
        scene = draw_scene(np.random.default_rng([7, index]), pair)
        forward, backward = render_clip(scene, forward_class), render_clip(scene, backward_class)
        np.testing.assert_array_equal(forward.frames, backward.frames[::-1])
        np.testing.assert_array_equal(forward.subject_masks, backward.subject_masks[::-1])
        # the draw does not know the class: the same generator state gives the same scene
        again = draw_scene(np.random.default_rng([7, index]), pair)
        np.testing.assert_array_equal(render_clip(again, forward_class).frames, forward.frames)
        assert not np.array_equal(forward.frames[0], forward.frames[-1])  # something happens


def _centroids(masks):
    weights = masks.sum(axis=(1, 2))
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    return np.stack([(masks * xs).sum(axis=(1, 2)), (masks * ys).sum(axis=(1, 2))], axis=1) / weights[:, None]


def _clips(class_name, count=6):
    pair = next(pair for pair, members in PAIRS.items() if class_name in members)
    return [render_clip(draw_scene(np.random.default_rng([11, i]), pair), class_name) for i in range(count)]


def test_move_left_and_right_go_along_x():
    for class_name, sign in (("move_left", -1), ("move_right", 1)):
        for clip in _clips(class_name):
            x = _centroids(clip.subject_masks)[:, 0]
            assert sign * (x[-1] - x[0]) > 10, (class_name, x[0], x[-1])
            assert sign * np.diff(clip.subject.centers[:, 0]).min() >= 0  # monotonic


def _orientation(mask):
    """The principal-axis angle (radians, mod pi) of a mask; it grows when the shape turns clockwise on
    screen (image y points down)."""
    ys, xs = np.mgrid[0:SIZE, 0:SIZE]
    total = mask.sum()
    cx, cy = (mask * xs).sum() / total, (mask * ys).sum() / total
    mu20, mu02 = (mask * (xs - cx) ** 2).sum(), (mask * (ys - cy) ** 2).sum()
    mu11 = (mask * (xs - cx) * (ys - cy)).sum()
    return 0.5 * math.atan2(2 * mu11, mu20 - mu02)


def test_rotations_turn_the_way_their_names_say():
    arrows = []
    for index in range(200):  # scenes whose shape is the arrow (elongated: its axis shows the rotation)
        scene = draw_scene(np.random.default_rng([13, index]), "rotate")
        if len(scene.subject.outline) == 7 and scene.subject.outline[3, 0] == 1:
            arrows.append(scene)
        if len(arrows) == 3:
            break
    assert len(arrows) == 3
    for class_name, sign in (("rotate_clockwise", 1), ("rotate_anticlockwise", -1)):
        for scene in arrows:
            clip = render_clip(scene, class_name)
            angles = [_orientation(mask) for mask in clip.subject_masks]
            steps = (np.diff(angles) + math.pi / 2) % math.pi - math.pi / 2  # wrapped into [-pi/2, pi/2)
            assert sign * steps.sum() > math.radians(60), (class_name, np.degrees(steps.sum()))
            assert sign * (clip.subject.angles[-1] - clip.subject.angles[0]) > math.radians(60)


def test_sizes_and_depth_change_the_right_way():
    for clip in _clips("grow"):
        area = clip.subject_masks.sum(axis=(1, 2))
        assert area[-1] > 2.5 * area[0]
        assert np.ptp(clip.subject.centers, axis=0).max() == 0  # in place
    for clip in _clips("shrink"):
        area = clip.subject_masks.sum(axis=(1, 2))
        assert area[0] > 2.5 * area[-1]
    for clip in _clips("approach"):
        area = clip.subject_masks.sum(axis=(1, 2))
        y = _centroids(clip.subject_masks)[:, 1]
        assert area[-1] > 2 * area[0] and y[-1] > y[0] + 5  # bigger and lower in the frame: closer
    for clip in _clips("recede"):
        assert clip.subject.radii[0] > clip.subject.radii[-1]


def test_appear_and_disappear():
    for clip in _clips("appear"):
        area = clip.subject_masks.sum(axis=(1, 2))
        assert area[0] < 0.05 * area[-1]
        assert np.ptp(clip.subject.centers, axis=0).max() == 0  # still
    for clip in _clips("disappear"):
        area = clip.subject_masks.sum(axis=(1, 2))
        assert area[-1] < 0.05 * area[0]


def test_classes_are_balanced_over_a_larger_split():
    from visionstack.tasks.action.synthetic import balanced_labels

    labels = balanced_labels(53, 10, np.random.default_rng(0))
    counts = np.bincount(labels, minlength=10)
    assert counts.sum() == 53 and counts.max() - counts.min() == 1


def test_mpeg4_and_errors(tmp_path):
    write_synthetic_action(tmp_path, num_train=1, num_val=0, codec="mpeg4", kinds="video")
    with VideoReader(tmp_path / "videos_train/000000.mp4") as reader:
        assert reader.info.codec == "mpeg4" and len(reader) == NUM_FRAMES
    with pytest.raises(ValueError, match="unknown kinds \\['audio'\\]"):
        write_synthetic_action(tmp_path, kinds=("video", "audio"))
    scene = draw_scene(np.random.default_rng(0), "move")
    with pytest.raises(ValueError, match="'grow' is not one of \\('move_right', 'move_left'\\)"):
        render_clip(scene, "grow")
    with pytest.raises(KeyError, match="unknown pair 'spin'"):
        draw_scene(np.random.default_rng(0), "spin")
