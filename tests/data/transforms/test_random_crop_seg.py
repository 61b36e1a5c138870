"""RandomCrop's cat_max_ratio rule (MMSegmentation) on constructed maps; boxes keep working alongside."""

from __future__ import annotations

import numpy as np
import pytest

from visionstack.data.transforms.spatial import RandomCrop


def seg_results(seg_map: np.ndarray, **extra) -> dict:
    height, width = seg_map.shape
    img = np.dstack([seg_map.astype(np.uint8)] * 3)
    return {"img": img, "img_shape": (height, width), "gt_seg_map": seg_map.copy(), **extra}


def stripe_map() -> np.ndarray:
    """(8, 100): class 0 on columns 0..89, class 1 on 90..99; a 20-wide window is balanced only near the end."""
    seg = np.zeros((8, 100), dtype=np.uint8)
    seg[:, 90:] = 1
    return seg


def max_share(seg: np.ndarray, ignore: int = 255) -> float:
    labels, counts = np.unique(seg, return_counts=True)
    counts = counts[labels != ignore]
    return counts.max() / counts.sum()


def expected_x(seed: int, ratio: float = 0.75) -> tuple[int, bool]:
    """Replay the draws of a (20, 8) crop of ``stripe_map()``: the first balanced try, else the last."""
    np.random.seed(seed)
    offsets = [
        (int(np.random.randint(0, 1)), int(np.random.randint(0, 81))) for _ in range(RandomCrop.CAT_MAX_TRIES)
    ]
    balanced = [x for _, x in offsets if max_share(stripe_map()[:, x : x + 20]) < ratio and x + 20 > 90]
    return (balanced[0], True) if balanced else (offsets[-1][1], False)


def test_cat_max_ratio_keeps_the_first_balanced_window_else_the_last():
    transform = RandomCrop(crop_size=(20, 8), cat_max_ratio=0.75)
    balanced_runs = 0
    for seed in range(60):
        np.random.seed(seed)
        out = transform(seg_results(stripe_map()))
        crop = out["gt_seg_map"]
        assert crop.shape == (8, 20) and out["img"].shape[:2] == (8, 20)
        np.testing.assert_array_equal(out["img"][..., 0], crop)  # the image moved with the map
        x, balanced = expected_x(seed)
        np.testing.assert_array_equal(crop, stripe_map()[:, x : x + 20])
        if balanced:
            balanced_runs += 1
            assert max_share(crop) < 0.75 and len(np.unique(crop)) == 2
    assert 5 < balanced_runs < 60  # both branches were exercised


def test_the_rule_makes_balanced_crops_more_frequent():
    plain, ruled = [], []
    for seed in range(40):
        np.random.seed(seed)
        plain.append(max_share(RandomCrop(crop_size=(20, 8))(seg_results(stripe_map()))["gt_seg_map"]))
        np.random.seed(seed)
        out = RandomCrop(crop_size=(20, 8), cat_max_ratio=0.75)(seg_results(stripe_map()))
        ruled.append(max_share(out["gt_seg_map"]))
    assert np.mean(np.array(ruled) < 0.75) > np.mean(np.array(plain) < 0.75) + 0.3


def test_ignored_pixels_do_not_count():
    crop = np.full((4, 20), 255, dtype=np.uint8)
    crop[:, :10] = 0
    crop[:, 10:13] = 1  # non-ignored: 40 of class 0, 12 of class 1 => share 10/13 ~ 0.77 (0.5 if 255 counted)
    assert not RandomCrop((20, 4), cat_max_ratio=0.75).class_balanced(crop)
    assert RandomCrop((20, 4), cat_max_ratio=0.9).class_balanced(crop)
    # with ignore_index=0 the classes are 1 (12 px) and 255 (28 px): share 0.7
    assert RandomCrop((20, 4), cat_max_ratio=0.75, ignore_index=0).class_balanced(crop)
    one_class = np.where(crop == 1, 0, crop)
    assert not RandomCrop((20, 4), cat_max_ratio=0.99).class_balanced(
        one_class
    )  # one class is never balanced


def test_boxes_follow_the_chosen_window():
    boxes = np.array([[0, 0, 10, 8], [92, 2, 98, 6]], dtype=np.float32)
    for seed in range(20):
        results = seg_results(
            stripe_map(),
            gt_bboxes=boxes.copy(),
            gt_bboxes_labels=np.array([0, 1], dtype=np.int64),
            gt_ignore_flags=np.array([False, False]),
        )
        np.random.seed(seed)
        out = RandomCrop(crop_size=(20, 8), cat_max_ratio=0.75, allow_negative_crop=True)(results)
        x, _ = expected_x(seed)
        shifted = boxes - np.float32([x, 0, x, 0])
        shifted[:, 0::2] = shifted[:, 0::2].clip(0, 20)
        keep = (shifted[:, 2] > shifted[:, 0]) & (shifted[:, 3] > shifted[:, 1])
        np.testing.assert_allclose(out["gt_bboxes"], shifted[keep])
        assert out["gt_bboxes_labels"].tolist() == np.array([0, 1])[keep].tolist()
        assert len(out["gt_ignore_flags"]) == int(keep.sum())


def test_boxes_only_crop_is_unchanged_by_the_new_arguments():
    boxes = np.array([[2, 2, 30, 20]], dtype=np.float32)
    base = {"img": np.zeros((24, 40, 3), np.uint8), "img_shape": (24, 40)}
    np.random.seed(11)
    plain = RandomCrop(crop_size=(16, 12))(dict(base, gt_bboxes=boxes.copy(), gt_bboxes_labels=np.array([3])))
    np.random.seed(11)
    ruled = RandomCrop(crop_size=(16, 12), cat_max_ratio=0.5)(
        dict(base, gt_bboxes=boxes.copy(), gt_bboxes_labels=np.array([3]))
    )
    np.testing.assert_array_equal(plain["gt_bboxes"], ruled["gt_bboxes"])  # no map: the rule draws nothing
    assert plain["img"].shape[:2] == (12, 16) and plain["gt_bboxes_labels"].tolist() == [3]


@pytest.mark.parametrize("ratio", [0.0, -0.1, 1.5])
def test_bad_cat_max_ratio(ratio):
    with pytest.raises(ValueError, match="cat_max_ratio"):
        RandomCrop(crop_size=(4, 4), cat_max_ratio=ratio)
