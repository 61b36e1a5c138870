from __future__ import annotations

import glob
import multiprocessing
import os

import numpy as np
import pytest
from sklearn.datasets import load_digits

from visionstack.data import LoadImage, PackInputs
from visionstack.tasks.classification.digits import Digits, write_digits


@pytest.fixture(scope="module")
def digits_root(tmp_path_factory) -> str:
    root = str(tmp_path_factory.mktemp("digits") / "digits")
    Digits(data_root=root, lazy_init=True).full_init()
    return root


@pytest.fixture(scope="module")
def sklearn_digits():
    return load_digits()


def _image_id(path: str) -> int:
    return int(os.path.splitext(os.path.basename(path))[0])


def test_splits_are_stratified_disjoint_and_complete(digits_root, sklearn_digits):
    train, val = Digits(data_root=digits_root), Digits(data_root=digits_root, split="val")
    train_ids = {_image_id(train.get_data_info(i)["img_path"]) for i in range(len(train))}
    val_ids = {_image_id(val.get_data_info(i)["img_path"]) for i in range(len(val))}
    assert not train_ids & val_ids and train_ids | val_ids == set(range(1797))
    targets = sklearn_digits.target
    for digit in range(10):
        in_class = int((targets == digit).sum())
        assert sum(targets[i] == digit for i in val_ids) == round(in_class * 0.2)
    test = Digits(data_root=digits_root, split="test")
    assert [test.get_data_info(i)["img_path"] for i in range(5)] == [
        val.get_data_info(i)["img_path"] for i in range(5)
    ]


def test_labels_match_sklearn_and_metainfo(digits_root, sklearn_digits):
    dataset = Digits(data_root=digits_root, split="val")
    assert dataset.metainfo["classes"] == tuple("0123456789")
    for index in range(len(dataset)):
        info = dataset.get_data_info(index)
        assert info["gt_label"] == sklearn_digits.target[_image_id(info["img_path"])]
        assert os.path.basename(os.path.dirname(info["img_path"])) == str(info["gt_label"])


def test_images_load_as_32x32_bgr(digits_root):
    sample = Digits(data_root=digits_root, pipeline=[LoadImage(), PackInputs()])[0]
    assert tuple(sample["inputs"].shape) == (3, 32, 32)
    image = sample["inputs"]
    assert (image[0] == image[1]).all() and (image[1] == image[2]).all()
    assert image.max() > 200


def test_pixels_at_scale_1_equal_the_rescaled_sklearn_values(tmp_path, sklearn_digits):
    dataset = Digits(data_root=str(tmp_path / "digits1"), scale=1, split="val", pipeline=[LoadImage()])
    for index in range(0, len(dataset), 37):
        results = dataset[index]
        expected = np.rint(sklearn_digits.images[_image_id(results["img_path"])] * 255 / 16).astype(np.uint8)
        assert results["img"].shape == (8, 8, 3)
        for channel in range(3):
            np.testing.assert_array_equal(results["img"][..., channel], expected)


def test_second_construction_does_not_rewrite(digits_root):
    files = [
        os.path.join(digits_root, "meta.json"),
        *sorted(glob.glob(os.path.join(digits_root, "train", "3", "*.png")))[:3],
    ]
    before = [os.stat(path).st_mtime_ns for path in files]
    Digits(data_root=digits_root, split="train")
    Digits(data_root=digits_root, split="val")
    assert [os.stat(path).st_mtime_ns for path in files] == before
    assert not glob.glob(os.path.join(os.path.dirname(digits_root), ".digits-staging-*"))


def test_split_depends_on_the_seed(tmp_path, digits_root):
    other = Digits(data_root=str(tmp_path / "seed1"), seed=1, split="val")
    first = Digits(data_root=digits_root, split="val")
    ids = lambda dataset: {_image_id(dataset.get_data_info(i)["img_path"]) for i in range(len(dataset))}  # noqa: E731
    assert len(ids(other)) == len(ids(first)) and ids(other) != ids(first)


def test_conflicting_parameters_or_foreign_folders_are_errors(tmp_path, digits_root):
    with pytest.raises(ValueError, match="seed.*use another data_root"):
        Digits(data_root=digits_root, seed=5)
    foreign = tmp_path / "foreign"
    foreign.mkdir()
    (foreign / "something.txt").write_text("x")
    with pytest.raises(FileExistsError, match="not a complete digits folder"):
        Digits(data_root=str(foreign))
    with pytest.raises(ValueError, match="split"):
        Digits(data_root=digits_root, split="training")
    with pytest.raises(ValueError, match="val_fraction"):
        Digits(data_root=digits_root, val_fraction=1.0)


def _write(root: str) -> dict:
    return write_digits(root, 0.2, 0, 2)


def test_concurrent_writers_end_with_one_complete_folder(tmp_path):
    root = str(tmp_path / "raced")
    context = multiprocessing.get_context("fork")
    with context.Pool(2) as pool:
        metas = pool.map(_write, [root, root])
    assert metas[0] == metas[1]
    assert metas[0]["splits"] == {"train": 1438, "val": 359}
    assert len(glob.glob(os.path.join(root, "*", "*", "*.png"))) == 1797
    assert not glob.glob(str(tmp_path / ".digits-staging-*"))
