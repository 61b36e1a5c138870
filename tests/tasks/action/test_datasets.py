"""Action datasets: MMAction2's video / raw-frame lists and the PYSKL skeleton pickle, with their errors."""

from __future__ import annotations

import os
import pickle

import cv2
import numpy as np
import pytest
import torch

from visionstack.data import DatasetError
from visionstack.data.transforms import CenterCrop, ColorJitter, RandomResizedCrop, ResizeEdge
from visionstack.tasks.action.datasets import PoseDataset, RawframeDataset, VideoDataset
from visionstack.tasks.action.transforms import (
    FormatShape,
    PackActionInputs,
    PyAVDecode,
    PyAVInit,
    RawFrameDecode,
    SampleFrames,
)
from visionstack.utils.video_io import read_video, write_video


def _write(path, text):
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def test_video_list_records(tmp_path):
    _write(
        tmp_path / "train_list_videos.txt",
        "videos_train/000000.mp4 3\n\n# a comment\nvideos train/b c.mp4 0\n",
    )
    _write(tmp_path / "classes.txt", "\n".join(f"class{i}" for i in range(5)) + "\n")
    dataset = VideoDataset(
        "train_list_videos.txt", data_root=str(tmp_path), data_prefix=dict(video=""), classes="classes.txt"
    )
    assert len(dataset) == 2 and dataset.metainfo["classes"] == tuple(f"class{i}" for i in range(5))
    first = dataset.get_data_info(0)
    assert first["filename"] == os.path.join(str(tmp_path), "videos_train/000000.mp4")
    assert (first["label"], first["start_index"], first["modality"], first["sample_idx"]) == (3, 0, "RGB", 0)
    assert dataset.get_data_info(1)["filename"].endswith("videos train/b c.mp4")  # spaces in paths
    assert dataset.get_cat_ids(0) == [3]
    prefixed = VideoDataset(str(tmp_path / "train_list_videos.txt"), data_prefix=dict(video="/videos"))
    assert prefixed.get_data_info(0)["filename"] == "/videos/videos_train/000000.mp4"


def test_video_list_without_labels_and_classes_in_metainfo(tmp_path):
    _write(tmp_path / "infer.txt", "a.mp4\nb.mp4 1\n")
    dataset = VideoDataset(str(tmp_path / "infer.txt"), metainfo=dict(classes=["x", "y"]))
    assert [dataset.get_data_info(i)["label"] for i in range(2)] == [-1, 1]
    assert dataset.get_cat_ids(0) == [] and dataset.metainfo["classes"] == ("x", "y")
    with pytest.raises(ValueError, match="not both"):
        VideoDataset(str(tmp_path / "infer.txt"), classes=["x"], metainfo=dict(classes=["y"]))


def test_bad_list_lines_name_the_file_and_line(tmp_path):
    path = _write(tmp_path / "bad.txt", "a.mp4 1\n\nb.mp4 one\n")
    with pytest.raises(DatasetError, match=r"bad\.txt'.*line 3.*label 'one' is not an integer"):
        VideoDataset(str(path))
    path = _write(tmp_path / "range.txt", "a.mp4 0\nb.mp4 2\n")
    with pytest.raises(DatasetError, match=r"line 2: label 2 is outside \[0, 2\)"):
        VideoDataset(str(path), classes=["x", "y"])
    skipped = VideoDataset(str(path), classes=["x", "y"], skip_bad_samples=True)
    assert len(skipped) == 1 and skipped.bad_sample_count == 1
    with pytest.raises(FileNotFoundError, match="nowhere.txt"):
        VideoDataset(str(tmp_path / "nowhere.txt"))
    frames = _write(tmp_path / "frames.txt", "rawframes/000000 zero 3\n")
    with pytest.raises(DatasetError, match="line 1: the total_frames 'zero'"):
        RawframeDataset(str(frames))
    frames = _write(tmp_path / "frames.txt", "rawframes/000000 32 3 4\n")
    with pytest.raises(DatasetError, match="line 1: expected 'frame_dir total_frames label'"):
        RawframeDataset(str(frames))


def test_video_pipelines_of_the_synthetic_configs(tmp_path):
    for index in range(2):
        frames = [np.full((40, 48, 3), 8 * t + 100 * index, np.uint8) for t in range(20)]
        write_video(tmp_path / "videos" / f"{index:06d}.mp4", frames, fps=16, codec="libx264")
    _write(tmp_path / "list.txt", "videos/000000.mp4 0\nvideos/000001.mp4 1\n")
    train = [
        PyAVInit(),
        SampleFrames(clip_len=8, frame_interval=2, num_clips=1),
        PyAVDecode(),
        RandomResizedCrop(scale=32, crop_ratio_range=(0.5, 1.0)),
        ColorJitter(brightness=0.3, contrast=0.3, saturation=0.3),
        FormatShape("NCTHW"),
        PackActionInputs(),
    ]
    np.random.seed(0)
    sample = VideoDataset("list.txt", data_root=str(tmp_path), pipeline=train)[1]
    assert tuple(sample["inputs"].shape) == (1, 3, 8, 32, 32) and sample["inputs"].dtype == torch.uint8
    assert sample["data_samples"].gt_label.label.tolist() == [1]
    test = [
        PyAVInit(),
        SampleFrames(clip_len=1, frame_interval=1, num_clips=4, test_mode=True),
        PyAVDecode(),
        ResizeEdge(36),
        CenterCrop(32),
        FormatShape("NCHW"),
        PackActionInputs(),
    ]
    sample = VideoDataset("list.txt", data_root=str(tmp_path), pipeline=test, test_mode=True)[0]
    assert tuple(sample["inputs"].shape) == (4, 3, 32, 32)
    # the centres of 4 segments of 20 frames: 2, 7, 12, 17 (uniform grey frames, so any pixel tells)
    decoded = [image for _, _, image in read_video(tmp_path / "videos" / "000000.mp4")]
    assert sample["inputs"][:, 0, 16, 16].tolist() == [int(decoded[i][20, 24, 0]) for i in (2, 7, 12, 17)]
    meta = sample["data_samples"].metainfo
    assert meta["num_clips"] == 4 and meta["clip_len"] == 1 and meta["img_path"].endswith("000000.mp4")
    assert meta["ori_shape"] == (40, 48) and meta["img_shape"] == (32, 32)


def test_rawframe_list_records_and_offsets(tmp_path):
    _write(tmp_path / "val_list_rawframes.txt", "rawframes_val/000000 32 3\nrawframes_val/000001 5\n")
    dataset = RawframeDataset("val_list_rawframes.txt", data_root=str(tmp_path))
    info = dataset.get_data_info(0)
    assert info["frame_dir"] == os.path.join(str(tmp_path), "rawframes_val/000000")
    assert (info["total_frames"], info["label"], info["start_index"]) == (32, 3, 1)
    assert info["filename_tmpl"] == "img_{:05d}.jpg" and dataset.get_data_info(1)["label"] == -1
    _write(tmp_path / "offset.txt", "clips/a 10 32 3\n")
    offset = RawframeDataset(str(tmp_path / "offset.txt"), with_offset=True, filename_tmpl="{:06d}.png")
    info = offset.get_data_info(0)
    assert (info["offset"], info["total_frames"], info["label"], info["filename_tmpl"]) == (
        10,
        32,
        3,
        "{:06d}.png",
    )


def test_rawframe_pipeline_reads_the_sampled_files(tmp_path):
    folder = tmp_path / "rawframes" / "000000"
    folder.mkdir(parents=True)
    for number in range(1, 13):  # 1-based file numbers, as MMAction2 extracts them
        cv2.imwrite(str(folder / f"img_{number:05d}.png"), np.full((6, 8, 3), number * 10, np.uint8))
    _write(tmp_path / "list.txt", "rawframes/000000 12 1\n")
    pipeline = [
        SampleFrames(clip_len=4, frame_interval=2, test_mode=True),
        RawFrameDecode(),
        FormatShape("NCTHW"),
        PackActionInputs(),
    ]
    dataset = RawframeDataset(
        "list.txt", data_root=str(tmp_path), filename_tmpl="img_{:05d}.png", pipeline=pipeline, test_mode=True
    )
    sample = dataset[0]
    # span 7 in 12 frames: start (12 - 7) // 2 = 2, then 1-based numbers 3 5 7 9
    assert sample["inputs"][0, 0, :, 0, 0].tolist() == [30, 50, 70, 90]
    assert sample["data_samples"].gt_label.label.tolist() == [1]
    assert sample["data_samples"].metainfo["img_path"].endswith("rawframes/000000")
    (folder / "img_00005.png").unlink()
    with pytest.raises(DatasetError, match=r"record 0 \('.*000000'\).*img_00005.png"):
        dataset[0]


def _skeleton_pickle(path, with_split=True):
    rng = np.random.default_rng(0)
    annotations = []
    for index in range(5):
        frames = 10 + index
        annotations.append(
            {
                "frame_dir": f"S{index:03d}",
                "label": index % 3,
                "total_frames": frames,
                "img_shape": (480, 640),
                "keypoint": rng.uniform(0, 400, (1, frames, 17, 2)).astype(np.float16),
                "keypoint_score": rng.uniform(0, 1, (1, frames, 17)).astype(np.float16),
            }
        )
    content = annotations
    if with_split:
        content = {
            "split": {"xsub_train": ["S000", "S002", "S004"], "xsub_val": ["S003", "S001"]},
            "annotations": annotations,
        }
    path.parent.mkdir(parents=True, exist_ok=True)
    with open(path, "wb") as handle:
        pickle.dump(content, handle)
    return path


def test_pose_dataset_selects_the_split(tmp_path):
    path = _skeleton_pickle(tmp_path / "skeleton" / "synth_skeleton_2d.pkl")
    path.parent.joinpath("classes.txt").write_text("waving\nsquatting\nwalking_left\n")
    train = PoseDataset("skeleton/synth_skeleton_2d.pkl", data_root=str(tmp_path), split="xsub_train")
    assert [train.get_data_info(i)["frame_dir"] for i in range(len(train))] == ["S000", "S002", "S004"]
    val = PoseDataset(str(path), split="xsub_val", classes=str(path.parent / "classes.txt"))
    assert [val.get_data_info(i)["frame_dir"] for i in range(len(val))] == [
        "S001",
        "S003",
    ]  # annotation order
    assert val.metainfo["classes"] == ("waving", "squatting", "walking_left")
    info = val.get_data_info(1)
    assert info["keypoint"].dtype == np.float32 and info["keypoint"].shape == (1, 13, 17, 2)
    assert info["keypoint_score"].dtype == np.float32 and info["keypoint_score"].shape == (1, 13, 17)
    assert (info["label"], info["total_frames"], info["start_index"], info["modality"]) == (0, 13, 0, "Pose")
    assert len(PoseDataset(str(path))) == 5
    assert len(PoseDataset(str(_skeleton_pickle(tmp_path / "bare.pkl", with_split=False)))) == 5


def test_pose_dataset_errors(tmp_path):
    path = _skeleton_pickle(tmp_path / "skeleton.pkl")
    with pytest.raises(
        DatasetError, match=r"no split 'xsub_test'; splits there: \['xsub_train', 'xsub_val'\]"
    ):
        PoseDataset(str(path), split="xsub_test")
    with pytest.raises(DatasetError, match="bare list"):
        PoseDataset(str(_skeleton_pickle(tmp_path / "bare.pkl", with_split=False)), split="xsub_train")
    with pytest.raises(DatasetError, match="label 2 is outside"):
        PoseDataset(str(path), classes=["a", "b"])
    with open(tmp_path / "wrong.pkl", "wb") as handle:
        pickle.dump(
            {"annotations": [{"frame_dir": "x", "label": 0, "keypoint": np.zeros((5, 17, 2))}]}, handle
        )
    with pytest.raises(DatasetError, match=r"record 0: ValueError: `keypoint` must be \(M, T, V, C\).*'x'"):
        PoseDataset(str(tmp_path / "wrong.pkl"))
    (tmp_path / "broken.pkl").write_bytes(b"not a pickle")
    with pytest.raises(DatasetError, match="not a readable pickle"):
        PoseDataset(str(tmp_path / "broken.pkl"))
    with pytest.raises(FileNotFoundError, match="missing.pkl"):
        PoseDataset(str(tmp_path / "missing.pkl"))
