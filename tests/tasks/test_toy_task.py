"""A task defined only in this file gets the whole command line without any shared file changing.

The task is brightness regression: a model predicts one number per image, the mean grey level. This file
writes its folder (dataset, packer, model, metric, synthetic writer and adapter, as a task folder of
``visionstack/tasks`` would hold them) into a temporary package, and a config that imports its classes; then
``data synth``, ``train``, ``test --out-format``, ``eval``, ``infer`` (both backends) and ``export --verify``
run on it from :func:`visionstack.cli.main`.
"""

from __future__ import annotations

import importlib
import json
import sys
import textwrap

import pytest

from visionstack.cli import main
from visionstack.registry import TASKS

TASK = "toy_brightness"

PACKAGE = {
    "__init__.py": "",
    "data.py": '''
        import json
        from pathlib import Path

        import cv2
        import numpy as np
        import torch

        from visionstack.data.base_dataset import BaseDataset
        from visionstack.data.transforms.base import BaseTransform
        from visionstack.structures import DataSample, LabelData


        def write_toy(out_dir, seed=0, num_train=24, num_val=6):
            """16x16 images of one grey level with noise; train.json / val.json list file and value."""
            rng = np.random.default_rng(seed)
            out_dir = Path(out_dir)
            for split, count in (("train", num_train), ("val", num_val)):
                (out_dir / split).mkdir(parents=True, exist_ok=True)
                records = []
                for index in range(count):
                    value = float(np.float32(rng.uniform(0.1, 0.9)))  # exact in the float32 targets
                    noise = rng.integers(-10, 11, size=(16, 16, 3))
                    image = np.clip(value * 255 + noise, 0, 255).astype(np.uint8)
                    cv2.imwrite(str(out_dir / split / f"{index}.png"), image)
                    records.append({"file": f"{split}/{index}.png", "value": value})
                (out_dir / f"{split}.json").write_text(json.dumps(records))
            return {"train": num_train, "val": num_val}


        class BrightnessDataset(BaseDataset):
            def load_data_list(self):
                root = Path(self.data_root)
                return [
                    {"img_path": str(root / item["file"]), "gt_value": item["value"]}
                    for item in json.loads(Path(self.ann_file).read_text())
                ]


        class PackBrightnessInputs(BaseTransform):
            def transform(self, results):
                image = torch.from_numpy(np.ascontiguousarray(results["img"].transpose(2, 0, 1)))
                sample = DataSample(metainfo={
                    "img_path": results["img_path"],
                    "ori_shape": results["ori_shape"],
                    "img_shape": results["img"].shape[:2],
                })
                if "gt_value" in results:
                    sample.gt_value = LabelData(value=torch.tensor([results["gt_value"]], dtype=torch.float32))
                return {"inputs": image, "data_samples": sample}
    ''',
    "model.py": """
        import torch
        import torch.nn.functional as F
        from torch import nn

        from visionstack.models.base_model import BaseModel
        from visionstack.structures import LabelData


        class BrightnessRegressor(BaseModel):
            task = "toy_brightness"
            export_output_names = ("value",)

            def __init__(self, data_preprocessor=None):
                super().__init__(data_preprocessor)
                self.conv = nn.Conv2d(3, 4, 3, padding=1)
                self.fc = nn.Linear(4, 1)

            def forward_tensor(self, inputs, data_samples=None):
                features = F.relu(self.conv(inputs)).mean(dim=(2, 3))
                return self.fc(features)[:, 0]

            def loss(self, inputs, data_samples):
                target = torch.cat([sample.gt_value.value for sample in data_samples])
                return {"loss_mse": F.mse_loss(self.forward_tensor(inputs), target)}

            def predict(self, inputs, data_samples):
                for sample, value in zip(data_samples, self.forward_tensor(inputs)):
                    sample.pred_value = LabelData(value=value.reshape(1))
                return data_samples

            def export_forward(self, inputs):
                return self.forward_tensor(inputs)[:, None]
    """,
    "metric.py": """
        import json
        from pathlib import Path

        from visionstack.evaluation.metric import BaseMetric


        class BrightnessMAE(BaseMetric):
            def __init__(self, out_file=None, **kwargs):
                super().__init__(**kwargs)
                self.out_file = out_file

            def process(self, data_batch, data_samples):
                for sample in data_samples:
                    self.results.append({
                        "img_path": sample.metainfo["img_path"],
                        "value": float(sample.pred_value.value[0]),
                        "gt": float(sample.gt_value.value[0]),
                    })

            def compute_metrics(self, results):
                if self.out_file:
                    records = [{"img_path": r["img_path"], "value": r["value"]} for r in results]
                    Path(self.out_file).parent.mkdir(parents=True, exist_ok=True)
                    Path(self.out_file).write_text(json.dumps(records))
                return {"mae": mean_absolute_error([(r["value"], r["gt"]) for r in results])}


        def mean_absolute_error(pairs):
            return sum(abs(value - gt) for value, gt in pairs) / len(pairs)
    """,
    "adapter.py": """
        import copy
        import json
        from pathlib import Path

        import cv2
        import numpy as np

        from visionstack.registry import TASKS
        from visionstack.tasks.adapter import TaskAdapter

        from .data import write_toy
        from .metric import mean_absolute_error


        def _write(image, text):
            image = image.copy()
            cv2.putText(image, text, (0, 12), cv2.FONT_HERSHEY_PLAIN, 0.8, (0, 0, 255), 1)
            return image


        @TASKS.register(name="toy_brightness")
        class BrightnessAdapter(TaskAdapter):
            name = "toy_brightness"
            prediction_fields = {"pred_value": "label"}
            ground_truth_fields = ("gt_value",)

            def to_record(self, result, context):
                return {"value": float(np.asarray(result["pred_value"]["value"]).reshape(-1)[0])}

            def table_columns(self, context):
                return ["brightness"]

            def table_row(self, record, context):
                return [f"{record['value']:.3f}"]

            def draw(self, image, result, context):
                return _write(image, f"{self.to_record(result, context)['value']:.2f}")

            def draw_ground_truth(self, image, sample, context):
                return _write(image, f"{float(sample.gt_value.value[0]):.2f}")

            def synthetic_writer(self):
                return write_toy

            def add_result_writer(self, evaluator_cfg, out_dir, name="results"):
                evaluator_cfg = copy.deepcopy(evaluator_cfg)
                evaluator_cfg["out_file"] = str(Path(out_dir) / f"{name}.json")
                return evaluator_cfg, [(Path(evaluator_cfg["out_file"]), "brightness predictions")]

            def evaluate(self, gt, pred, cfg=None):
                truth = {Path(item["file"]).as_posix(): item["value"] for item in json.loads(Path(gt).read_text())}
                pairs = []
                for record in json.loads(Path(pred).read_text()):
                    key = "/".join(Path(record["img_path"]).parts[-2:])
                    pairs.append((record["value"], truth[key]))
                return {"mae": mean_absolute_error(pairs)}

            def runtime_postprocess(self, outputs, meta, spec, **options):
                return {"pred_value": {"value": outputs["value"]}}

            def compare(self, reference, result):
                expected = reference.pred_value.value.numpy()
                return {"max_value_diff": float(np.abs(result["pred_value"]["value"] - expected).max())}
    """,
}

CONFIG = """
from toy_task.data import BrightnessDataset, PackBrightnessInputs
from toy_task.metric import BrightnessMAE
from toy_task.model import BrightnessRegressor

data_root = "{data_root}/"
pipeline = [dict(type="LoadImage"), dict(type=PackBrightnessInputs)]
model = dict(
    type=BrightnessRegressor,
    data_preprocessor=dict(type="DataPreprocessor", mean=[128.0] * 3, std=[64.0] * 3),
)
train_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=True),
    dataset=dict(type=BrightnessDataset, data_root=data_root, ann_file=data_root + "train.json", pipeline=pipeline),
)
val_dataloader = dict(
    batch_size=4,
    num_workers=0,
    sampler=dict(type="DefaultSampler", shuffle=False),
    dataset=dict(type=BrightnessDataset, data_root=data_root, ann_file=data_root + "val.json", pipeline=pipeline),
)
test_dataloader = val_dataloader
val_evaluator = dict(type=BrightnessMAE)
test_evaluator = val_evaluator
optim_wrapper = dict(optimizer=dict(type="Adam", lr=0.05))
train_cfg = dict(type="EpochBasedTrainLoop", max_epochs=4, val_interval=4)
val_cfg = dict(type="ValLoop")
test_cfg = dict(type="TestLoop")
default_hooks = dict(checkpoint=dict(type="CheckpointHook", interval=4))
randomness = dict(seed=0)
"""


@pytest.fixture
def toy_task(tmp_path, monkeypatch):
    """The toy task's package on ``sys.path`` and its adapter registered; both removed afterwards."""
    package = tmp_path / "src" / "toy_task"
    package.mkdir(parents=True)
    for name, source in PACKAGE.items():
        (package / name).write_text(textwrap.dedent(source))
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    importlib.import_module("toy_task.adapter")
    yield tmp_path
    TASKS._entries.pop(TASK, None)
    for name in [name for name in sys.modules if name == "toy_task" or name.startswith("toy_task.")]:
        del sys.modules[name]


def test_a_task_from_a_test_file_gets_the_whole_command_line(toy_task, capsys):
    root = toy_task
    data_root, work = root / "data", root / "work"
    config = root / "toy_config.py"
    config.write_text(CONFIG.format(data_root=data_root))

    assert main(["data", "synth", TASK, "--out", str(data_root), "--num-train", "24", "--num-val", "6"]) == 0
    assert main(["train", str(config), "--work-dir", str(work)]) == 0
    checkpoint = str(work / "latest.pth")

    results, metrics_file = root / "results", root / "metrics.json"
    args = ["test", str(config), checkpoint, "--work-dir", str(work), "--out", str(metrics_file)]
    assert main([*args, "--out-format", str(results)]) == 0
    tested = json.loads(metrics_file.read_text())
    assert tested["mae"] < 0.2  # learned something: a constant guess of 0.5 scores about 0.2 on U(0.1, 0.9)

    evaluated_file = root / "evaluated.json"
    args = ["eval", TASK, "--gt", str(data_root / "val.json"), "--pred", str(results / "results.json")]
    assert main([*args, "--out", str(evaluated_file)]) == 0
    assert json.loads(evaluated_file.read_text()) == tested

    images = [str(data_root / "val" / f"{index}.png") for index in range(3)]
    assert main(["infer", str(config), checkpoint, *images, "--out-dir", str(root / "infer")]) == 0
    records = json.loads((root / "infer" / "predictions.json").read_text())
    assert [sorted(record) for record in records] == [["img_path", "value"]] * 3
    assert len(list((root / "infer").glob("*_pred.png"))) == 3
    assert "brightness" in capsys.readouterr().out  # the adapter's table column

    export_dir = root / "onnx"
    assert (
        main(["export", str(config), checkpoint, "--dynamic", "--verify", "--out-dir", str(export_dir)]) == 0
    )
    report = json.loads((export_dir / "verify.json").read_text())["fp32"]
    assert report["task"] == TASK and report["max_value_diff"] < 1e-5 and report["metric_diff"]["mae"] < 1e-6
    assert (
        main(["infer", "--backend", "onnxruntime", str(export_dir), *images, "--out-dir", str(root / "ort")])
        == 0
    )
    ort_records = json.loads((root / "ort" / "predictions.json").read_text())
    for eager, exported in zip(records, ort_records):
        assert exported["value"] == pytest.approx(eager["value"], abs=1e-5)

    assert main(["data", "browse", str(config), "--out-dir", str(root / "browse"), "--num", "2"]) == 0
    assert len(list((root / "browse").glob("*.png"))) == 2
