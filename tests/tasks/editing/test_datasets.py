"""Image-editing datasets: pairing by stem and template, suffixes, ann files, errors, unpaired folders."""

from __future__ import annotations

import os

import cv2
import numpy as np
import pytest

from visionstack.data import DatasetError
from visionstack.registry import DATASETS
from visionstack.tasks.editing.datasets import (
    BasicImageDataset,
    PairedImageDataset,
    UnpairedImageDataset,
    index_image_folder,
)
from visionstack.utils.image_io import read_image


def _write(path, value: int = 0, size: int = 8) -> str:
    os.makedirs(os.path.dirname(path), exist_ok=True)
    image = np.full((size, size, 3), value, dtype=np.uint8)
    assert cv2.imwrite(str(path), image)
    return str(path)


@pytest.fixture
def div2k(tmp_path):
    """gt/{0001,0002,0010}.png and X2/{stem}x2.png (0010's as .jpg); values encode the stem."""
    for number in (1, 2, 10):
        _write(tmp_path / "HR" / f"{number:04d}.png", value=number, size=8)
        suffix = ".jpg" if number == 10 else ".png"
        _write(tmp_path / "X2" / f"{number:04d}x2{suffix}", value=number, size=4)
    (tmp_path / "HR" / "notes.txt").write_text("not an image")
    return tmp_path


def test_paired_by_template_in_natural_order_with_any_suffix(div2k):
    dataset = PairedImageDataset(
        data_root=str(div2k), data_prefix=dict(img="X2", gt="HR"), filename_tmpl=dict(img="{}x2")
    )
    assert len(dataset) == 3
    keys = [dataset.get_data_info(i)["key"] for i in range(3)]
    assert keys == ["0001", "0002", "0010"]
    info = dataset.get_data_info(2)
    assert info["gt_path"] == os.path.join(str(div2k), "HR", "0010.png")
    assert info["img_path"] == os.path.join(str(div2k), "X2", "0010x2.jpg")
    assert info["sample_idx"] == 2


def test_pipeline_receives_the_pair_and_registry_builds(div2k):
    def load_both(results):
        results["img"] = read_image(results["img_path"])
        results["gt"] = read_image(results["gt_path"])
        return results

    dataset = DATASETS.build(
        dict(
            type="PairedImageDataset",
            data_root=str(div2k),
            data_prefix=dict(img="X2", gt="HR"),
            filename_tmpl=dict(img="{}x2"),
            pipeline=[load_both],
        )
    )
    sample = dataset[1]
    assert sample["gt"].shape == (8, 8, 3) and sample["img"].shape == (4, 4, 3)
    assert int(sample["gt"][0, 0, 0]) == 2 and int(sample["img"][0, 0, 0]) == 2


def test_missing_partner_names_the_expected_file_or_is_skipped(div2k):
    os.remove(div2k / "X2" / "0002x2.png")
    kwargs = dict(data_root=str(div2k), data_prefix=dict(img="X2", gt="HR"), filename_tmpl=dict(img="{}x2"))
    with pytest.raises(DatasetError, match=r"sample '0002' has no 'img' file: expected .*X2.0002x2\{"):
        PairedImageDataset(**kwargs)
    dataset = PairedImageDataset(**kwargs, skip_bad_samples=True)
    assert [dataset.get_data_info(i)["key"] for i in range(len(dataset))] == ["0001", "0010"]
    assert dataset.bad_sample_count == 1


def test_two_files_with_one_stem_are_ambiguous(div2k):
    _write(div2k / "X2" / "0001x2.bmp", value=1, size=4)
    with pytest.raises(DatasetError, match="ambiguous"):
        PairedImageDataset(
            data_root=str(div2k), data_prefix=dict(img="X2", gt="HR"), filename_tmpl=dict(img="{}x2")
        )


def test_search_key_is_gt_and_files_off_template_are_ignored(div2k):
    _write(div2k / "X2" / "extra.png", size=4)  # in the img folder only: not a sample
    dataset = PairedImageDataset(
        data_root=str(div2k), data_prefix=dict(img="X2", gt="HR"), filename_tmpl=dict(img="{}x2")
    )
    assert dataset.search_key == "gt" and len(dataset) == 3
    # listing the img folder instead: names must fit "{}x2"; "extra" does not
    by_img = PairedImageDataset(
        data_root=str(div2k),
        data_prefix=dict(img="X2", gt="HR"),
        filename_tmpl=dict(img="{}x2"),
        search_key="img",
    )
    assert [by_img.get_data_info(i)["key"] for i in range(3)] == ["0001", "0002", "0010"]


def test_ann_file_accepts_mmagic_meta_info_lines(div2k):
    (div2k / "meta.txt").write_text("0010.png (8,8,3)\n\n0001.png (8,8,3)\n")
    dataset = PairedImageDataset(
        data_root=str(div2k),
        ann_file="meta.txt",
        data_prefix=dict(img="X2", gt="HR"),
        filename_tmpl=dict(img="{}x2"),
    )
    assert [dataset.get_data_info(i)["key"] for i in range(2)] == ["0010", "0001"]
    assert dataset.get_data_info(0)["img_path"].endswith("0010x2.jpg")
    assert "meta.txt" in dataset.source()


def test_ann_file_naming_a_missing_stem_is_an_error(div2k):
    (div2k / "meta.txt").write_text("0003\n")
    with pytest.raises(DatasetError, match=r"sample '0003' has no 'gt' file"):
        BasicImageDataset(data_root=str(div2k), ann_file="meta.txt", data_prefix=dict(gt="HR"))


def test_masks_pair_by_stem_and_img_only_lists_the_img_folder(tmp_path):
    for stem in ("a", "b"):
        _write(tmp_path / "images" / f"{stem}.png")
        _write(tmp_path / "masks" / f"{stem}.png")
    dataset = BasicImageDataset(data_root=str(tmp_path), data_prefix=dict(img="images", mask="masks"))
    assert dataset.search_key == "img"
    info = dataset.get_data_info(1)
    assert info["img_path"].endswith(os.path.join("images", "b.png"))
    assert info["mask_path"].endswith(os.path.join("masks", "b.png"))
    assert "gt_path" not in info
    assert dataset.metainfo["task_name"] == "editing"


def test_recursive_stems_keep_their_sub_folder(tmp_path):
    _write(tmp_path / "gt" / "00001" / "0266.png")
    _write(tmp_path / "lq" / "00001" / "0266_lq.png")
    _write(tmp_path / "gt" / "top.png")
    _write(tmp_path / "lq" / "top_lq.png")
    dataset = PairedImageDataset(
        data_root=str(tmp_path),
        data_prefix=dict(img="lq", gt="gt"),
        filename_tmpl=dict(img="{}_lq"),
        recursive=True,
    )
    infos = [dataset.get_data_info(i) for i in range(len(dataset))]
    assert [info["key"] for info in infos] == ["00001/0266", "top"]
    assert infos[0]["img_path"] == os.path.join(str(tmp_path), "lq", "00001", "0266_lq.png")
    flat = PairedImageDataset(
        data_root=str(tmp_path), data_prefix=dict(img="lq", gt="gt"), filename_tmpl=dict(img="{}_lq")
    )
    assert len(flat) == 1


def test_index_image_folder_is_case_insensitive(tmp_path):
    _write(tmp_path / "A.PNG")
    (tmp_path / "b.txt").write_text("x")
    assert index_image_folder(str(tmp_path)) == {"A": [os.path.join(str(tmp_path), "A.PNG")]}


@pytest.mark.parametrize(
    ("kwargs", "error", "message"),
    [
        (dict(data_prefix=dict(img="X2")), ValueError, r"must name a folder for \['img', 'gt'\]"),
        (dict(data_prefix=dict(img="X2", gt="HR"), filename_tmpl=dict(img="x2")), ValueError, "exactly once"),
        (
            dict(data_prefix=dict(img="X2", gt="HR"), filename_tmpl=dict(lq="{}")),
            ValueError,
            "names no data_prefix",
        ),
        (dict(data_prefix=dict(img="X2", gt="HR"), search_key="mask"), ValueError, "search_key 'mask'"),
        (dict(data_prefix=dict(img="X2", gt="nowhere")), FileNotFoundError, "'gt' folder .*nowhere"),
    ],
)
def test_configuration_errors(div2k, kwargs, error, message):
    with pytest.raises(error, match=message):
        PairedImageDataset(data_root=str(div2k), **kwargs)


def test_an_empty_folder_is_an_error(tmp_path):
    (tmp_path / "empty").mkdir()
    with pytest.raises(DatasetError, match="no sample found"):
        BasicImageDataset(data_root=str(tmp_path), data_prefix=dict(img="empty"))


def test_unpaired_pairs_by_index_modulo(tmp_path):
    for number in range(3):
        _write(tmp_path / "trainA" / f"a{number}.png", value=number)
    for number in range(2):
        _write(tmp_path / "trainB" / "sub" / f"b{number}.png", value=10 + number)
    dataset = UnpairedImageDataset(data_root=str(tmp_path))
    assert len(dataset) == 3
    pairs = [
        (
            os.path.basename(dataset.get_data_info(i)["img_a_path"]),
            os.path.basename(dataset.get_data_info(i)["img_b_path"]),
        )
        for i in range(3)
    ]
    assert pairs == [("a0.png", "b0.png"), ("a1.png", "b1.png"), ("a2.png", "b0.png")]


def test_unpaired_random_b_in_training_and_test_folders(tmp_path):
    for domain in ("trainA", "trainB", "testA", "testB"):
        for number in range(4):
            _write(tmp_path / domain / f"{number}.png")
    dataset = UnpairedImageDataset(data_root=str(tmp_path), random_b=True)
    np.random.seed(0)
    drawn = {dataset.get_data_info(0)["img_b_path"] for _ in range(40)}
    assert len(drawn) == 4  # all of B is reached from one A image
    test = UnpairedImageDataset(data_root=str(tmp_path), random_b=True, test_mode=True)
    assert "testB" in test.get_data_info(1)["img_b_path"]
    assert {test.get_data_info(1)["img_b_path"] for _ in range(5)} == {
        os.path.join(str(tmp_path), "testB", "1.png")
    }
    with pytest.raises(ValueError, match="img_a and img_b"):
        UnpairedImageDataset(data_root=str(tmp_path), data_prefix=dict(img="trainA"))


def test_reads_the_synthetic_div2k_and_set5_layouts(tmp_path):
    from visionstack.tasks.editing.synthetic import write_synthetic_restoration

    write_synthetic_restoration(
        tmp_path,
        num_train=3,
        patch_size=12,
        scales=(2,),
        training_sources=("camera",),
        held_out_sources=("coffee",),
    )
    train = PairedImageDataset(
        data_root=str(tmp_path),
        data_prefix=dict(img="DIV2K_train_LR_bicubic/X2", gt="DIV2K_train_HR"),
        filename_tmpl=dict(img="{}x2"),
    )
    assert [train.get_data_info(i)["key"] for i in range(3)] == ["0001", "0002", "0003"]
    test = PairedImageDataset(
        data_root=str(tmp_path / "Set5"), data_prefix=dict(img="LRbicx2", gt="GTmod12"), test_mode=True
    )
    info = test.get_data_info(0)
    assert info["key"] == "coffee"
    gt, lq = read_image(info["gt_path"]), read_image(info["img_path"])
    assert gt.shape[0] == 2 * lq.shape[0] and gt.shape[1] == 2 * lq.shape[1]
