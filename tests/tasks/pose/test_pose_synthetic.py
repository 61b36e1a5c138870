"""The synthetic COCO-keypoints people: COCO validity, determinism, projection, ray casting, visibility."""

from __future__ import annotations

import json

import numpy as np
import pytest
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

import visionstack.tasks.pose.synthetic as synthetic
from visionstack.tasks.pose.datasets import CocoKeypointsDataset
from visionstack.tasks.pose.metainfo import COCO_KEYPOINTS
from visionstack.tasks.pose.synthetic import (
    BODY_PROPORTIONS,
    BONE_RATIO_RANGES,
    POSE_KINDS,
    PROPORTION_JITTER,
    STATURE_MM,
    Appearance,
    Body,
    Camera,
    Occluder,
    Pose,
    body_to_camera,
    bone_lengths,
    pose_figure,
    render_scene,
    sample_appearance,
    sample_body,
    sample_pose,
    synth_pose,
)

SIZE = 160
INDEX = {name: i for i, name in enumerate(COCO_KEYPOINTS["keypoint_names"])}


@pytest.fixture(scope="module")
def synth_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("synth_pose")
    summary = synth_pose(root, seed=0, num_train=10, num_val=2, image_size=SIZE)
    return root, summary


def load(root, split="train"):
    return json.loads((root / "annotations" / f"person_keypoints_{split}.json").read_text())


def test_layout_and_pycocotools_reads_it(synth_root):
    root, summary = synth_root
    for split, count in (("train", 10), ("val", 2)):
        coco = COCO(str(root / "annotations" / f"person_keypoints_{split}.json"))
        assert len(coco.getImgIds()) == count == summary[split]["images"]
        assert len(coco.getAnnIds()) == summary[split]["people"]
        for image in coco.loadImgs(coco.getImgIds()):
            assert (root / split / image["file_name"]).is_file()
            assert (image["height"], image["width"]) == (SIZE, SIZE)
            assert set(image["cam_param"]) == {"f", "c"}
            assert 2 <= len(coco.getAnnIds(imgIds=image["id"])) <= 4  # a person finds no place only rarely
        (category,) = coco.loadCats(coco.getCatIds())
        assert (category["id"], category["name"], category["supercategory"]) == (1, "person", "person")
        assert category["keypoints"] == list(COCO_KEYPOINTS["keypoint_names"])
        # COCO's own 1-based skeleton
        assert category["skeleton"][:5] == [[16, 14], [14, 12], [17, 15], [15, 13], [12, 13]]
        assert len(category["skeleton"]) == 19


def test_coco_keypoint_evaluation_of_the_ground_truth_is_perfect(synth_root):
    root, _ = synth_root
    coco = COCO(str(root / "annotations" / "person_keypoints_train.json"))
    results = [
        {"image_id": a["image_id"], "category_id": 1, "keypoints": a["keypoints"], "score": 1.0}
        for a in coco.loadAnns(coco.getAnnIds())
        if a["num_keypoints"] > 0
    ]
    evaluation = COCOeval(coco, coco.loadRes(results), "keypoints")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)


def test_the_pose_dataset_reads_it(synth_root):
    root, summary = synth_root
    dataset = CocoKeypointsDataset(
        data_root=str(root),
        ann_file="annotations/person_keypoints_train.json",
        data_prefix=dict(img="train/"),
    )
    people = [a for a in load(root)["annotations"] if a["num_keypoints"] > 0]
    assert len(dataset) == len(people)
    record = dataset.get_data_info(0)
    assert record["img_path"] == str(root / "train" / "000000.png")
    np.testing.assert_allclose(record["keypoints"][0], np.array(people[0]["keypoints"]).reshape(17, 3)[:, :2])


def test_keypoint_fields_are_consistent(synth_root):
    root, summary = synth_root
    content = load(root)
    counts = np.zeros(3, dtype=int)
    for annotation in content["annotations"]:
        assert annotation["category_id"] == 1 and annotation["iscrowd"] == 0
        keypoints = np.array(annotation["keypoints"], dtype=float).reshape(17, 3)
        marks = keypoints[:, 2].astype(int)
        assert set(marks) <= {0, 1, 2}
        assert annotation["num_keypoints"] == int((marks > 0).sum())
        assert (keypoints[marks == 0, :2] == 0).all()
        labelled = keypoints[marks > 0, :2]
        assert (labelled >= 0).all() and (labelled <= SIZE - 1).all()
        x, y, w, h = annotation["bbox"]
        assert (labelled[:, 0] >= x).all() and (labelled[:, 0] <= x + w).all()
        assert (labelled[:, 1] >= y).all() and (labelled[:, 1] <= y + h).all()
        assert -0.5 <= x and -0.5 <= y and x + w <= SIZE - 0.5 and y + h <= SIZE - 0.5
        assert 0 < annotation["area"] <= w * h
        counts += np.bincount(marks, minlength=3)
    assert (counts > 0).all(), counts  # outside, hidden and visible keypoints all occur
    assert counts.tolist() == [summary["train"]["keypoints"][k] for k in ("outside", "hidden", "visible")]


def test_keypoints_are_the_projected_3d_joints(synth_root):
    root, _ = synth_root
    content = load(root)
    cameras = {image["id"]: image["cam_param"] for image in content["images"]}
    for annotation in content["annotations"]:
        joints = np.array(annotation["keypoints_3d"]).reshape(17, 3)
        keypoints = np.array(annotation["keypoints"]).reshape(17, 3)
        (fx, fy), (cx, cy) = cameras[annotation["image_id"]]["f"], cameras[annotation["image_id"]]["c"]
        assert (joints[:, 2] > 0).all()
        projected = np.stack(
            [fx * joints[:, 0] / joints[:, 2] + cx, fy * joints[:, 1] / joints[:, 2] + cy], 1
        )
        labelled = keypoints[:, 2] > 0
        np.testing.assert_allclose(keypoints[labelled, :2], projected[labelled], atol=1e-3)
        outside = (projected < 0).any(1) | (projected > SIZE - 1).any(1)
        np.testing.assert_array_equal(outside, ~labelled)  # v = 0 exactly for the joints outside the image


def test_people_are_64px_to_70_percent_tall(synth_root):
    root, _ = synth_root
    heights = [
        annotation["bbox"][3]
        for annotation in load(root)["annotations"]
        if annotation["num_keypoints"] == 17  # not cut by the border
    ]
    assert len(heights) >= 10
    assert min(heights) >= 64 and max(heights) <= 0.8 * SIZE  # the box adds the solids' radii to 70 %


def test_same_seed_gives_identical_files_and_another_seed_differs(synth_root, tmp_path):
    root, _ = synth_root
    synth_pose(tmp_path / "again", seed=0, num_train=3, num_val=1, image_size=SIZE)
    for index in range(3):
        name = f"train/{index:06d}.png"
        assert (root / name).read_bytes() == (tmp_path / "again" / name).read_bytes(), name
    assert (root / "val/000000.png").read_bytes() == (tmp_path / "again/val/000000.png").read_bytes()
    ours, again = load(root), load(tmp_path / "again")
    assert again["images"] == ours["images"][:3]
    assert again["annotations"] == [a for a in ours["annotations"] if a["image_id"] <= 3]
    synth_pose(tmp_path / "again2", seed=0, num_train=3, num_val=1, image_size=SIZE)
    for name in ("annotations/person_keypoints_train.json", "annotations/person_keypoints_val.json"):
        assert (tmp_path / "again" / name).read_bytes() == (tmp_path / "again2" / name).read_bytes()
    synth_pose(tmp_path / "other", seed=1, num_train=1, num_val=0, image_size=SIZE)
    assert (tmp_path / "other/train/000000.png").read_bytes() != (root / "train/000000.png").read_bytes()


def test_bone_ratios_stay_in_the_stated_ranges(synth_root):
    root, _ = synth_root
    rng = np.random.default_rng(3)
    skeletons = [np.array(a["keypoints_3d"]).reshape(17, 3) for a in load(root)["annotations"]]
    for kind in POSE_KINDS * 20:
        body = sample_body(rng)
        rotation = body_to_camera(rng.uniform(0, 360), rng.uniform(-8, 8))
        figure = pose_figure(
            body, sample_pose(rng, kind), sample_appearance(rng), rotation, np.array([0, 0, 4e3])
        )
        skeletons.append(figure.joints)
        lengths = bone_lengths(figure.joints)
        assert STATURE_MM[0] <= body.stature <= STATURE_MM[1]
        for name in ("upper_arm", "forearm", "thigh", "shin"):
            nominal = BODY_PROPORTIONS[name] * body.stature
            assert abs(lengths[name][0] - nominal) <= PROPORTION_JITTER * nominal + 0.01
    for joints in skeletons:
        lengths = bone_lengths(joints)
        for name in ("upper_arm", "forearm", "thigh", "shin"):
            assert lengths[name][0] == pytest.approx(lengths[name][1], abs=0.01)  # left and right alike
            lengths[name] = lengths[name][0]
        for ratio, (low, high) in BONE_RATIO_RANGES.items():
            first, second = ratio.split("/")
            assert low - 1e-4 <= lengths[first] / lengths[second] <= high + 1e-4, ratio
    assert BONE_RATIO_RANGES["forearm/upper_arm"][0] > 0.7 and BONE_RATIO_RANGES["shin/thigh"][1] < 1.12


# ---- ray casting against a brute-force reference -----------------------------------------------------------
def _march(part, dx, dy, near, far, steps=4000):
    """The first depth along each ray whose point lies inside the part (distance to its core <= radius)."""
    ts = np.linspace(near, far, steps)
    first = np.full(len(dx), np.inf)
    for n in range(len(dx)):
        points = np.stack([ts * dx[n], ts * dy[n], ts], 1)
        inside = np.flatnonzero(synthetic._distance(part, points) <= part.radius)
        if len(inside):
            first[n] = ts[inside[0]]
    return first


def test_ray_casting_matches_ray_marching():
    rng = np.random.default_rng(0)
    body = Body(1700.0, {k: v * 1700.0 for k, v in BODY_PROPORTIONS.items()})
    pose = sample_pose(rng, "free")
    figure = pose_figure(
        body, pose, Appearance(), body_to_camera(35.0, 10.0), np.array([50.0, -20.0, 2500.0])
    )
    by_name = {part.name: part for part in figure.parts}
    for name in ("torso", "left_thigh", "head", "nose"):
        part = by_name[name]
        ends = np.array([p for pair in part.capsules for p in pair])
        spread = part.radius + np.ptp(ends, axis=0).max() / 2  # rays around the part, half of them missing
        targets = ends.mean(0) + rng.normal(0, spread, size=(60, 3))
        dx, dy = targets[:, 0] / targets[:, 2], targets[:, 1] / targets[:, 2]
        hits, _ = synthetic._part_hits(part, dx, dy)
        marched = _march(part, dx, dy, 1500.0, 3500.0)
        step = 2000.0 / 3999
        assert np.isfinite(hits).sum() >= 10 and np.isinf(hits).sum() >= 5, name
        both = np.isfinite(hits) & np.isfinite(marched)
        np.testing.assert_array_less(np.abs(hits[both] - marched[both]), step + 1e-6)
        # a ray that grazes the surface may slip between two marching steps; a miss is a real miss
        assert not (np.isfinite(marched) & np.isinf(hits)).any(), name
        assert (np.isfinite(hits) & np.isinf(marched)).sum() <= 1, name


def test_rendering_in_crops_matches_rendering_the_whole_image(monkeypatch):
    rng = np.random.default_rng(5)
    camera = synthetic._sample_camera(rng, 128)
    figures = synthetic._place_figures(rng, camera, 3)
    background = np.full((128, 128, 3), 90, np.uint8)
    image, labels = render_scene(camera, background, figures)
    monkeypatch.setattr(synthetic, "_pixel_box", lambda part, camera: (0, camera.height, 0, camera.width))
    whole, whole_labels = render_scene(camera, background, figures)
    np.testing.assert_array_equal(image, whole)
    for label, reference in zip(labels, whole_labels):
        assert label["area"] == reference["area"] and label["bbox"] == reference["bbox"]


# ---- visibility in constructed scenes ----------------------------------------------------------------------
CAMERA = Camera(f=250.0, cx=127.5, cy=127.5, width=256, height=256)
BODY = Body(1700.0, {k: v * 1700.0 for k, v in BODY_PROPORTIONS.items()})
BACKGROUND = np.full((256, 256, 3), 200, np.uint8)


def person(heading, position=(0.0, 0.0, 3500.0), pose=None):
    return pose_figure(
        BODY, pose or Pose("standing"), Appearance(), body_to_camera(heading), np.array(position)
    )


def marks(label, *names):
    return [int(label["visibility"][INDEX[name]]) for name in names]


def test_a_person_facing_the_camera_shows_every_keypoint():
    image, (label,) = render_scene(CAMERA, BACKGROUND, [person(0)], light=(0.0, 0.0, -1.0))
    assert label["visibility"].tolist() == [2] * 17
    # the person's left is on the image's right, drawn lighter than the shirt; the right side darker
    left, right = (label["keypoints"][INDEX[f"{side}_elbow"]] for side in ("left", "right"))
    assert left[0] > right[0]
    shirt = sum(Appearance().shirt)
    assert image[int(round(left[1])), int(round(left[0]))].astype(int).sum() > 1.3 * shirt
    assert image[int(round(right[1])), int(round(right[0]))].astype(int).sum() < 0.8 * shirt
    # every keypoint's pixel shows the person, not the background
    for x, y in label["keypoints"]:
        assert (image[int(round(y)), int(round(x))] != 200).any()


def test_turned_people_hide_the_far_side_and_the_face():
    _, (back,) = render_scene(CAMERA, BACKGROUND, [person(180)])
    assert marks(back, "nose", "left_eye", "right_eye") == [1, 1, 1]
    assert marks(back, "left_shoulder", "right_shoulder", "left_hip", "right_hip", "left_ear") == [2] * 5
    _, (side,) = render_scene(CAMERA, BACKGROUND, [person(90)])  # the left side towards the camera
    assert marks(side, "left_eye", "left_ear", "left_shoulder", "left_elbow", "left_knee") == [2] * 5
    assert marks(side, "right_eye", "right_ear", "right_shoulder", "right_elbow", "right_knee") == [1] * 5
    _, (other_side,) = render_scene(CAMERA, BACKGROUND, [person(270)])
    assert marks(other_side, "right_shoulder", "left_shoulder", "right_eye", "left_eye") == [2, 1, 2, 1]


def test_limbs_hide_their_own_joints():
    arms_forward = Pose("arms_forward", arms=((90.0, 0.0, 0.0, 0.0),) * 2)  # pointing at the camera
    _, (front,) = render_scene(CAMERA, BACKGROUND, [person(0, pose=arms_forward)])
    arm_joints = [f"{side}_{joint}" for side in ("left", "right") for joint in ("shoulder", "elbow", "wrist")]
    assert marks(front, *arm_joints) == [1] * 6  # each behind its own arm
    assert marks(front, "nose", "left_hip", "right_knee") == [2] * 3
    _, (back,) = render_scene(CAMERA, BACKGROUND, [person(180, pose=arms_forward)])
    assert marks(back, *arm_joints) == [2, 1, 1, 2, 1, 1]  # elbows and wrists behind the body
    t_pose = Pose("t_pose", arms=((0.0, 90.0, 0.0, 0.0),) * 2)
    _, (turned,) = render_scene(CAMERA, BACKGROUND, [person(60, pose=t_pose)])
    assert marks(turned, "right_shoulder", "right_hip") == [1, 1]  # seen through the torso: too deep inside
    assert marks(turned, "left_hip", "left_knee", "right_knee") == [2, 2, 2]


def test_an_occluder_on_a_joint_hides_it():
    figure = person(0)
    wrist = CAMERA.project(figure.joints[[INDEX["left_wrist"]]])[0]
    square = np.array([[-1, -1], [1, -1], [1, 1], [-1, 1]]) * 6.0 + wrist
    image, (label,) = render_scene(CAMERA, BACKGROUND, [figure], [Occluder(square, (10, 20, 30))])
    assert marks(label, "left_wrist", "right_wrist", "left_elbow") == [1, 2, 2]
    assert image[int(round(wrist[1])), int(round(wrist[0]))].tolist() == [10, 20, 30]


def test_a_nearer_person_hides_the_one_behind():
    near, far = person(0), person(0, (0.0, 0.0, 5000.0))
    _, (near_label, far_label) = render_scene(CAMERA, BACKGROUND, [near, far])
    assert near_label["visibility"].tolist() == [2] * 17
    assert marks(far_label, "nose", "left_shoulder", "right_hip", "left_knee") == [1] * 4
    # side by side, neither hides the other: each has the marks it has alone
    pair = [person(0, (-600.0, 0.0, 3500.0)), person(0, (600.0, 0.0, 5000.0))]
    _, labels = render_scene(CAMERA, BACKGROUND, pair)
    for figure, label in zip(pair, labels):
        alone = render_scene(CAMERA, BACKGROUND, [figure])[1][0]
        assert label["visibility"].tolist() == alone["visibility"].tolist()
        assert (label["visibility"] == 2).sum() >= 16


def test_keypoints_outside_the_image_are_unlabelled(tmp_path):
    figure = person(0, (0.0, 1500.0, 3500.0))  # low: the legs leave the image
    _, (label,) = render_scene(CAMERA, BACKGROUND, [figure])
    assert marks(label, "left_ankle", "right_ankle", "left_knee", "right_knee") == [0] * 4
    assert marks(label, "nose", "left_shoulder") == [2, 2]
    annotation = synthetic._annotation(figure, label, 1, 1)
    assert annotation["keypoints"][3 * INDEX["left_ankle"] :][:3] == [0.0, 0.0, 0]
    assert annotation["num_keypoints"] == 13
    assert annotation["bbox"][1] + annotation["bbox"][3] == 255.5  # the box stops at the image's edge
    _, (gone,) = render_scene(CAMERA, BACKGROUND, [person(0, (9000.0, 0.0, 3500.0))])
    assert gone is None


def test_bad_arguments_are_errors(tmp_path):
    with pytest.raises(ValueError, match="image_size must be at least 96"):
        synth_pose(tmp_path, image_size=64)
    with pytest.raises(ValueError, match="negative image count"):
        synth_pose(tmp_path, num_train=-1)
    with pytest.raises(ValueError, match="unknown pose kind 'sitting'"):
        sample_pose(np.random.default_rng(0), "sitting")
    with pytest.raises(ValueError, match="background"):
        render_scene(CAMERA, np.zeros((10, 10, 3), np.uint8), [])
    with pytest.raises(ValueError, match="figure 1 has joints behind the camera"):
        render_scene(CAMERA, BACKGROUND, [person(0), person(0, (0.0, 0.0, 40.0))])
