"""The pose3d task adapter: result files scored offline exactly as in process, records, drawings, and the
ONNX export of a lifter run by the torch-free runtime on sequence files (COCO-layout ones included)."""

from __future__ import annotations

import json
from pathlib import Path

import numpy as np
import pytest
import torch

from visionstack.config import Config
from visionstack.registry import DATASETS, FUNCTIONS, METRICS, MODELS, ConfigError, build
from visionstack.tasks.adapter import PredictionContext
from visionstack.tasks.pose.lifting.adapter import LiftingAdapter
from visionstack.tasks.pose.lifting.results import evaluate_files
from visionstack.tasks.pose.lifting.sequences import (
    pad_edges,
    read_keypoint_sequence,
    write_keypoint_sequence,
)
from visionstack.tasks.pose.lifting.synthetic import write_pose3d_synthetic
from visionstack.tasks.pose.metainfo import H36M_KEYPOINTS

CONFIG = Path(__file__).resolve().parents[3] / "configs/pose3d/videopose3d_27f_synth.py"
H36M_TO_COCO = {1: 12, 2: 14, 3: 16, 4: 11, 5: 13, 6: 15, 9: 0, 11: 5, 12: 7, 13: 9, 14: 6, 15: 8, 16: 10}


@pytest.fixture(scope="module")
def data_root(tmp_path_factory):
    root = tmp_path_factory.mktemp("pose3d")
    write_pose3d_synthetic(root, seed=1, num_train=1, num_val=1, num_frames=24, actions=("boxing", "turning"))
    return root


def _model(receptive_field_widths=(3, 3)):
    torch.manual_seed(0)
    backbone = dict(type="TemporalConvNet", filter_widths=receptive_field_widths, channels=8)
    return build(dict(type="PoseLifter", backbone=backbone), MODELS).eval()


def test_result_files_score_exactly_as_in_process(data_root, tmp_path):
    dataset = build(
        dict(
            type="Pose3dSequenceDataset",
            data_root=str(data_root),
            ann_file="val.json",
            receptive_field=9,
            sample_unit="sequence",
            test_mode=True,
            pipeline=[dict(type="PackLiftingInputs")],
        ),
        DATASETS,
    )
    model = _model()
    adapter = LiftingAdapter()
    evaluator_cfg, files = adapter.add_result_writer(dict(type="MPJPEMetric"), tmp_path, "results")
    metrics = [build(entry, METRICS) for entry in evaluator_cfg]
    collate = FUNCTIONS.get("pseudo_collate")
    with torch.no_grad():
        for index in range(len(dataset)):
            batch = collate([dataset[index]])
            predicted = model.test_step(batch)
            for metric in metrics:
                metric.process(batch, predicted)
    in_process = {}
    for metric in metrics:
        in_process.update(metric.evaluate(len(dataset)))
    assert files[0][0].is_file() and in_process["pose3d/MPJPE"] > 0
    offline = evaluate_files(data_root / "val.json", files[0][0], metrics=dict(type="MPJPEMetric"))
    assert offline == in_process  # exactly: the file keeps the float32 predictions
    records = json.loads(files[0][0].read_text())
    assert records[0]["units"] == "mm" and len(records[0]["keypoints_3d"][0]) == 17
    del records[1]
    (tmp_path / "partial.json").write_text(json.dumps(records))
    with pytest.raises(ValueError, match=r"no prediction for 1 sequence\(s\)"):
        evaluate_files(data_root / "val.json", tmp_path / "partial.json")
    records[0]["img_path"] = "elsewhere/other.npz"
    (tmp_path / "stranger.json").write_text(json.dumps(records))
    with pytest.raises(ValueError, match="is not a sequence of"):
        evaluate_files(data_root / "val.json", tmp_path / "stranger.json")


def test_records_table_and_drawing(data_root):
    adapter = LiftingAdapter()
    path = str(data_root / "val/S9_boxing.cam_4.npz")
    sequence = read_keypoint_sequence(path)
    result = {"img_path": path, "pred_instances": {"keypoints": sequence.root_relative_3d() * 1.1}}
    context = PredictionContext()
    record = adapter.to_record(result, context)
    assert record["num_frames"] == 24 and np.asarray(record["keypoints_3d"]).shape == (24, 17, 3)
    frames, height = adapter.table_row(record, context)
    assert frames == "24" and 1300 < float(height) < 2200  # mm, head to feet
    picture = adapter.draw(None, result, context)
    assert picture.dtype == np.uint8 and picture.ndim == 3 and picture.shape[2] == 3
    limb_colour = np.array(H36M_KEYPOINTS["skeleton_colors"][0][::-1])  # BGR of the first limb
    assert (np.abs(picture.astype(int) - limb_colour).sum(axis=-1) < 30).sum() > 50
    runtime = adapter.runtime_postprocess({"keypoints_3d": np.zeros((30, 17, 3))}, {"num_frames": 24}, {})
    assert runtime["pred_instances"]["keypoints"].shape == (24, 17, 3)


def test_export_and_runtime_on_h36m_and_coco_sequences(data_root, tmp_path):
    from visionstack.deploy import OnnxInferencer
    from visionstack.export.exporter import export_model

    cfg = Config.fromfile(str(CONFIG), [f"data_root={data_root}/", "model.backbone.channels=8"])
    model = build(cfg["model"], MODELS).eval()
    checkpoint = tmp_path / "weights.pth"
    torch.save({"state_dict": model.state_dict()}, checkpoint)
    result = export_model(cfg, str(checkpoint), tmp_path / "onnx", dynamic=True)
    assert result.deploy["onnx"]["input_shape"] == ["batch", "frames", 17, 2]
    assert result.deploy["preprocess"]["receptive_field"] == 27
    runtime = OnnxInferencer(tmp_path / "onnx")
    h36m_file = data_root / "val/S9_turning.cam_5.npz"
    sequence = read_keypoint_sequence(h36m_file)
    coco = np.zeros((24, 17, 2), np.float32)
    for h36m, coco_index in H36M_TO_COCO.items():
        coco[:, coco_index] = sequence.keypoints_2d[:, h36m]
    coco[:, 1] = coco[:, 2] = sequence.keypoints_2d[:, 10]  # both eyes at the head: their mean is the head
    coco_file = write_keypoint_sequence(
        tmp_path / "clip.json", coco, sequence.image_size, keypoint_layout="coco"
    )
    outputs = runtime([str(h36m_file), str(coco_file)])
    with torch.no_grad():
        for path, output in zip((h36m_file, coco_file), outputs):
            loaded = read_keypoint_sequence(path)
            inputs = torch.from_numpy(pad_edges(loaded.normalized_inputs(), 13, 13))[None]
            expected = model(inputs, mode="tensor")[0].numpy()
            assert output["pred_instances"]["keypoints"].shape == (24, 17, 3)
            np.testing.assert_allclose(output["pred_instances"]["keypoints"], expected, atol=1e-3)
    # the COCO file differs from the H36M one only in the synthesised joints (pelvis, spine, thorax)
    assert not np.allclose(
        outputs[0]["pred_instances"]["keypoints"], outputs[1]["pred_instances"]["keypoints"]
    )


def test_export_refuses_an_infer_pipeline_padding_for_another_receptive_field(data_root):
    cfg = Config.fromfile(
        str(CONFIG),
        [f"data_root={data_root}/", "model.backbone.channels=8", "model.backbone.filter_widths=[3,3]"],
    )
    with pytest.raises(ConfigError, match="receptive_field=27.*the model has 9"):
        LiftingAdapter().export_inputs(build(cfg["model"], MODELS), cfg, dynamic=False)
