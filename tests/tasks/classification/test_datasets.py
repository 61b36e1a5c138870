from __future__ import annotations

import os

import numpy as np
import pytest

from visionstack.data import DatasetError, LoadImage, PackInputs
from visionstack.registry import build
from visionstack.tasks.classification.datasets import ImageFolder, ImageList


@pytest.fixture
def image_tree(tmp_path, image_writer):
    """train/<class>/... with unsorted creation order, a nested folder, odd extensions and a text file."""
    root = tmp_path / "dataset"
    rng = np.random.default_rng(0)
    files = ["zebra/z1.png", "cat/c2.jpg", "cat/c1.PNG", "dog/nested/d2.bmp", "dog/d1.png"]
    for index, relative in enumerate(files):
        image = rng.integers(0, 256, size=(8 + index, 10, 3), dtype=np.uint8)
        image_writer(root / "train" / relative, image)
    (root / "train" / "dog" / "notes.txt").write_text("not an image")
    return root


def _paths(dataset) -> list[str]:
    return [
        os.path.relpath(dataset.get_data_info(i)["img_path"], dataset.image_folder)
        for i in range(len(dataset))
    ]


def test_folder_mode_sorts_classes_and_files(image_tree):
    dataset = ImageFolder(data_root=str(image_tree), data_prefix="train")
    assert dataset.metainfo["classes"] == ("cat", "dog", "zebra")
    assert _paths(dataset) == ["cat/c1.PNG", "cat/c2.jpg", "dog/d1.png", "dog/nested/d2.bmp", "zebra/z1.png"]
    assert [dataset.get_data_info(i)["gt_label"] for i in range(len(dataset))] == [0, 0, 1, 1, 2]


def test_folder_mode_with_given_classes_uses_their_order(image_tree):
    dataset = ImageFolder(
        data_root=str(image_tree), data_prefix={"img_path": "train"}, classes=["zebra", "cat"]
    )
    assert dataset.metainfo["classes"] == ("zebra", "cat")
    assert _paths(dataset) == ["zebra/z1.png", "cat/c1.PNG", "cat/c2.jpg"]
    assert [dataset.get_data_info(i)["gt_label"] for i in range(3)] == [0, 1, 1]
    with pytest.raises(ValueError, match="not both"):
        ImageFolder(data_root=str(image_tree), classes=["cat"], metainfo={"classes": ["dog"]})


def test_folder_mode_errors_name_the_folder(image_tree, tmp_path):
    with pytest.raises(FileNotFoundError, match="no sub-folder for the classes \\['horse'\\]"):
        ImageFolder(data_root=str(image_tree), data_prefix="train", classes=["cat", "horse"])
    os.makedirs(image_tree / "train" / "empty")
    with pytest.raises(FileNotFoundError, match="train.*classes \\['empty'\\]"):
        ImageFolder(data_root=str(image_tree), data_prefix="train")
    with pytest.raises(FileNotFoundError, match="image folder not found.*nowhere"):
        ImageFolder(data_root=str(tmp_path / "nowhere"))


def test_folder_images_load_through_the_pipeline(image_tree):
    dataset = build(
        dict(
            type="ImageFolder",
            data_root=str(image_tree),
            data_prefix="train",
            extensions=[".png"],
            pipeline=[dict(type="LoadImage"), dict(type="PackInputs")],
        )
    )
    assert _paths(dataset) == ["cat/c1.PNG", "dog/d1.png", "zebra/z1.png"]
    sample = dataset[1]
    assert tuple(sample["inputs"].shape) == (3, 12, 10)
    assert sample["data_samples"].gt_label.label.tolist() == [1]


def test_image_list_reads_paths_with_spaces_comments_and_labels(tmp_path, image_writer, random_image):
    image_writer(tmp_path / "imgs" / "a b.png", random_image)
    image_writer(tmp_path / "imgs" / "sub" / "c.png", random_image[:5])
    (tmp_path / "classes.txt").write_text("first\nsecond\n")
    (tmp_path / "list.txt").write_text("# path label\n\na b.png 1\nsub/c.png   0\n")
    dataset = ImageList(
        ann_file="list.txt",
        data_root=str(tmp_path),
        data_prefix="imgs",
        classes="classes.txt",
        pipeline=[LoadImage(), PackInputs()],
    )
    assert dataset.metainfo["classes"] == ("first", "second")
    assert dataset.get_data_info(0)["img_path"] == str(tmp_path / "imgs" / "a b.png")
    assert dataset.get_data_info(0)["gt_label"] == 1
    assert tuple(dataset[1]["inputs"].shape) == (3, 5, 32)
    assert (
        ImageFolder(ann_file=str(tmp_path / "list.txt"), data_prefix=str(tmp_path / "imgs"))[0]["gt_label"]
        == 1
    )


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("lonely_path.png", "expected 'relative/path label'"),
        ("img.png cat", "the label 'cat' is not an integer"),
        ("img.png 5", r"label 5 is outside \[0, 2\)"),
        ("img.png -1", "label -1 is outside"),
    ],
)
def test_image_list_bad_lines_name_file_and_line(tmp_path, line, message):
    path = tmp_path / "list.txt"
    path.write_text(f"good.png 0\n\n{line}\nother.png 1\n")
    with pytest.raises(DatasetError, match=f"list.txt.*line 3: {message}"):
        ImageList(ann_file=str(path), classes=["a", "b"])
    skipping = ImageList(ann_file=str(path), classes=["a", "b"], skip_bad_samples=True)
    assert len(skipping) == 2 and skipping.bad_sample_count == 1
    assert skipping.bad_samples[0][0] == 3 and "list.txt" in skipping.bad_samples[0][1]


def test_image_list_requires_its_file(tmp_path):
    with pytest.raises(ValueError, match="ann_file is required"):
        ImageList(ann_file="")
    with pytest.raises(FileNotFoundError, match="absent.txt"):
        ImageList(ann_file=str(tmp_path / "absent.txt"))
