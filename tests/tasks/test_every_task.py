"""One tiny end-to-end run of every registered task, parametrized from the ``TASKS`` registry.

For each task adapter with a ``smoke`` spec: write a tiny synthetic set, train 2 iterations of a shipped config
(through the command line), test it writing the task's standard result files, score those files with
``visionstack eval`` (the same numbers as ``test``), infer and draw, export to ONNX with ``--verify`` and compare
ONNX Runtime with PyTorch. A task added later joins the suite by giving its adapter a ``smoke`` spec.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from visionstack.cli import main
from visionstack.registry import TASKS
from visionstack.tasks.adapter import get_adapter

REPO = Path(__file__).resolve().parents[2]
TASKS_WITH_SMOKE = [name for name in TASKS.keys() if get_adapter(name).smoke is not None]


def test_every_shipped_task_has_a_smoke_run():
    assert set(TASKS_WITH_SMOKE) >= {"classification", "detection", "segmentation"}


@pytest.mark.parametrize("task", TASKS_WITH_SMOKE)
def test_task_end_to_end(task, tmp_path):
    adapter = get_adapter(task)
    spec = adapter.smoke
    data_root = tmp_path / "data"
    adapter.write_synthetic(data_root, **spec["synth"])
    config = str(REPO / spec["config"])
    overrides = [f"data_root={data_root}/", *(item.format(data_root=data_root) for item in spec["set"])]
    work = tmp_path / "work"

    assert main(["train", config, "--work-dir", str(work), "--set", *overrides]) == 0
    checkpoint = str(work / "latest.pth")
    metrics_file, results_dir = tmp_path / "metrics.json", tmp_path / "results"
    args = ["test", config, checkpoint, "--work-dir", str(work), "--out", str(metrics_file)]
    assert main([*args, "--out-format", str(results_dir), "--set", *overrides]) == 0
    tested = json.loads(metrics_file.read_text())
    assert tested and any(results_dir.iterdir())

    # the saved standard files score exactly as `test` did
    evaluated_file = tmp_path / "evaluated.json"
    pred = _prediction_path(results_dir)
    args = [
        "eval",
        task,
        "--gt",
        str(data_root / spec["gt"]),
        "--pred",
        str(pred),
        "--out",
        str(evaluated_file),
    ]
    assert main([*args, "--config", config, "--set", *overrides]) == 0
    evaluated = json.loads(evaluated_file.read_text())
    assert {key: evaluated[key] for key in tested} == tested

    # infer writes JSON records and drawings (of the task's input files: images unless it says otherwise)
    if "inputs" in spec:  # a glob under the data root, where the val inputs are not under val/
        images = sorted(str(p) for p in data_root.glob(spec["inputs"]))[:2]
    else:
        suffixes = adapter.input_suffixes or (".png", ".jpg")
        images = sorted(str(p) for p in data_root.rglob("*") if p.suffix in suffixes and _in_val(p))[:2]
    infer_dir = tmp_path / "infer"
    assert main(["infer", config, checkpoint, *images, "--out-dir", str(infer_dir), "--set", *overrides]) == 0
    records = json.loads((infer_dir / "predictions.json").read_text())
    assert [record["img_path"] for record in records] == images
    assert len(list(infer_dir.glob("*_pred.png"))) == len(images)

    # export with the post-processing in the graph; ONNX Runtime agrees with PyTorch
    export_dir = tmp_path / "onnx"
    args = [
        "export",
        config,
        checkpoint,
        "--dynamic",
        "--verify",
        "--val-images",
        "2",
        "--out-dir",
        str(export_dir),
    ]
    assert main([*args, "--set", *overrides]) == 0
    report = json.loads((export_dir / "verify.json").read_text())["fp32"]
    assert report["task"] == task and report["max_input_diff"] < 1e-4
    assert all(value < 1e-4 for value in report["metric_diff"].values()), report["metric_diff"]
    ort_dir = tmp_path / "infer_ort"
    assert (
        main(["infer", "--backend", "onnxruntime", str(export_dir), *images, "--out-dir", str(ort_dir)]) == 0
    )
    ort_records = json.loads((ort_dir / "predictions.json").read_text())
    assert [record["img_path"] for record in ort_records] == images
    assert [sorted(record) for record in ort_records] == [sorted(record) for record in records]


def _in_val(path: Path) -> bool:
    """Whether a file lies in the val split's folder (``val/`` or ``*_val/``, as MMAction2's ``videos_val``)."""
    return any(part == "val" or part.endswith("_val") for part in path.parts)


def _prediction_path(results_dir: Path) -> Path:
    """The result file ``test --out-format`` wrote (or the folder, for per-image files)."""
    files = sorted(results_dir.iterdir())
    return files[0] if len(files) == 1 and files[0].suffix == ".json" else results_dir
