"""The det3d task adapter: records, the torch-free runtime's preprocessing (equal to the PyTorch pipeline and data
preprocessor), its per-cloud graph runs, the folder evaluation of both layouts, and the pictures."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.registry import FUNCTIONS, ConfigError
from visionstack.tasks.adapter import PredictionContext, get_adapter
from visionstack.tasks.det3d.kitti import read_lidar_label, write_lidar_label, write_points
from visionstack.tasks.det3d.models.data_preprocessor import Det3DDataPreprocessor
from visionstack.tasks.det3d.records import det3d_records
from visionstack.tasks.det3d.runtime import PointCloudPreprocessor, points_spec
from visionstack.tasks.det3d.transforms import LoadPointsFromFile, Pack3DDetInputs, PointsRangeFilter

POINT_RANGE = [0, -20, -3, 40, 20, 1]
VOXEL_LAYER = dict(
    max_num_points=8, point_cloud_range=POINT_RANGE, voxel_size=[0.5, 0.5, 4], max_voxels=(300, 400)
)
PIPELINE = [
    dict(type="LoadPointsFromFile", coord_type="LIDAR", load_dim=5, use_dim=4),
    dict(type="PointsRangeFilter", point_cloud_range=[1, -15, -3, 35, 15, 1]),
    dict(type="Pack3DDetInputs", keys=["points"]),
]


@pytest.fixture
def adapter():
    return get_adapter("det3d")


def _cloud(path, count=6000, seed=0):
    """A cloud of ``count`` 5-column points (x y z intensity ring), dense enough to overflow both limits."""
    rng = np.random.default_rng(seed)
    xyz = np.stack(
        [rng.uniform(-5, 45, count), rng.normal(0, 8, count), rng.uniform(-2.5, 0.5, count)], axis=1
    )
    xyz[: count // 3, :2] = rng.normal([10, 2], 0.3, (count // 3, 2))  # a dense blob: full pillars
    points = np.concatenate([xyz, rng.uniform(0, 1, (count, 1)), rng.integers(0, 64, (count, 1))], axis=1)
    write_points(path, points.astype(np.float32))
    return path


def test_records_are_best_first_with_class_names_and_distance():
    boxes = np.array([[3.0, 4.0, -1.0, 4, 2, 1.5, 0.1], [10.0, 0.0, -1.0, 1, 1, 1.7, 0.0]])
    records = det3d_records(boxes, [0.2, 0.9], [2, 0], ["Pedestrian", "Cyclist", "Car"])
    assert [record["class"] for record in records] == ["Pedestrian", "Car"]
    assert records[1]["distance"] == 5.0 and records[1]["box_3d"][6] == pytest.approx(0.1)
    assert det3d_records(np.zeros((0, 7)), [], [], None) == []


def test_runtime_preprocessing_equals_the_pipeline_and_the_data_preprocessor(tmp_path):
    path = _cloud(tmp_path / "000001.bin")
    spec = points_spec({"test_dataloader": {"dataset": {"pipeline": PIPELINE}}}, VOXEL_LAYER)
    runtime = PointCloudPreprocessor(spec)
    voxels, meta = runtime.image(runtime.read(path))

    transforms = [
        LoadPointsFromFile(load_dim=5, use_dim=4),
        PointsRangeFilter(PIPELINE[1]["point_cloud_range"]),
    ]
    results = {"lidar_path": str(path)}
    for transform in transforms:
        results = transform(results)
    packed = Pack3DDetInputs(keys=["points"])(results)
    pre = Det3DDataPreprocessor(voxel=True, voxel_layer=VOXEL_LAYER)
    batch = pre(FUNCTIONS.get("pseudo_collate")([packed]), False)["inputs"]
    torch_voxels = batch["voxels"]
    assert len(torch_voxels["voxels"]) == 400  # the test limit of voxels is reached: the order matters
    np.testing.assert_array_equal(voxels, torch_voxels["voxels"].numpy())
    np.testing.assert_array_equal(meta["num_points"], torch_voxels["num_points"].numpy())
    np.testing.assert_array_equal(meta["coors"], torch_voxels["coors"][:, 2:].numpy())
    assert (meta["num_points"] == VOXEL_LAYER["max_num_points"]).any()
    np.testing.assert_array_equal(get_adapter("det3d").runtime_inputs(batch), voxels[None])


def test_the_runtime_refuses_a_test_step_it_cannot_repeat():
    pipeline = [PIPELINE[0], dict(type="GlobalRotScaleTrans", rot_range=[0, 0]), PIPELINE[2]]
    with pytest.raises(ConfigError, match=r"step 1 \(GlobalRotScaleTrans\)"):
        points_spec({"test_dataloader": {"dataset": {"pipeline": pipeline}}}, VOXEL_LAYER)
    with pytest.raises(ConfigError, match="no LoadPointsFromFile"):
        points_spec({"test_dataloader": {"dataset": {"pipeline": PIPELINE[1:]}}}, VOXEL_LAYER)


def test_runtime_forward_runs_each_cloud_alone_and_postprocess_drops_padding(adapter):
    calls = []

    def run(batch, metas):
        calls.append((batch.shape, [len(meta["num_points"]) for meta in metas]))
        count = batch.shape[1]
        boxes = np.full((1, 3, 7), float(count), np.float32)
        return {"boxes": boxes, "scores": np.array([[0.9, 0.5, 0.0]]), "labels": np.array([[2, 0, -1]])}

    metas = [{"num_points": np.ones(5)}, {"num_points": np.ones(2)}]
    outputs = adapter.runtime_forward(run, np.zeros((2, 5, 4, 4), np.float32), metas, {})
    assert calls == [((1, 5, 4, 4), [5]), ((1, 2, 4, 4), [2])]
    assert outputs["boxes"].shape == (2, 3, 7) and outputs["boxes"][1, 0, 0] == 2.0
    result = adapter.runtime_postprocess({key: value[0] for key, value in outputs.items()}, metas[0], {})
    instances = result["pred_instances_3d"]
    assert instances["labels_3d"].tolist() == [2, 0] and instances["bboxes_3d"].shape == (2, 7)


def test_compare_reports_count_and_box_differences(adapter):
    from visionstack.structures import DataSample, InstanceData

    boxes = torch.tensor([[5.0, 1.0, -1.5, 4.0, 1.6, 1.5, 0.3]])
    sample = DataSample()
    sample.pred_instances_3d = InstanceData(
        bboxes_3d=boxes, scores_3d=torch.tensor([0.8]), labels_3d=torch.tensor([2])
    )
    same = {"bboxes_3d": boxes.numpy() + 1e-5, "scores_3d": np.array([0.8]), "labels_3d": np.array([2])}
    diff = adapter.compare(sample, {"pred_instances_3d": same})
    assert diff["count_mismatch"] == 0 and diff["max_box_diff"] == pytest.approx(1e-5, rel=1e-2)
    other = {"bboxes_3d": np.zeros((0, 7)), "scores_3d": np.zeros(0), "labels_3d": np.zeros(0, np.int64)}
    assert adapter.compare(sample, {"pred_instances_3d": other})["count_mismatch"] == 1


def test_eval_scores_a_lidar_only_folder(adapter, tmp_path):
    from visionstack.tasks.det3d.synthetic import write_synthetic_det3d

    root = tmp_path / "data"
    write_synthetic_det3d(root, num_train=1, num_val=3, with_images=False)
    lidar_root, pred = root / "lidar_only", tmp_path / "pred"
    pred.mkdir()
    for label in sorted((lidar_root / "labels").glob("*.txt")):
        gt = read_lidar_label(label)
        write_lidar_label(pred / label.name, gt["name"], gt["lidar_boxes"], np.ones(len(gt["name"])))
    metrics = adapter.evaluate(str(lidar_root), str(pred))
    assert metrics["center/Car/AP"] == pytest.approx(1.0)
    assert metrics["center/Car/ATE"] == pytest.approx(0.0, abs=1e-3)
    assert "kitti/Car/BEV_AP40_moderate" in metrics and "kitti/Car/2D_AP40_moderate" not in metrics
    with pytest.raises(FileNotFoundError, match="neither a split file"):
        adapter.evaluate(str(tmp_path / "nothing"), str(pred))


def test_draw_puts_the_points_and_boxes_in_the_picture(adapter, tmp_path):
    path = _cloud(tmp_path / "000002.bin")
    result = {
        "img_path": str(path),
        "pred_instances_3d": {
            "bboxes_3d": np.array([[10.0, 2.0, -1.7, 4.0, 1.8, 1.5, 0.5]], np.float32),
            "scores_3d": np.array([0.9], np.float32),
            "labels_3d": np.array([2]),
        },
    }
    picture = adapter.draw(None, result, PredictionContext(class_names=["Pedestrian", "Cyclist", "Car"]))
    assert picture.ndim == 3 and picture.shape[2] == 3 and picture.dtype == np.uint8
    assert picture.max() > 0 and len(np.unique(picture.reshape(-1, 3), axis=0)) > 10
