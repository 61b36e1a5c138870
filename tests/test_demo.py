"""The `make demo` job: ResNet-18 on Digits reaches the 97 % floor, inference runs, then FCOS trains briefly
on the synthetic shapes and its predictions are drawn (the jobs are the task adapters' ``demo``)."""

from __future__ import annotations

import json

import pytest

from visionstack.demo import run_demo
from visionstack.tasks.adapter import get_adapter


@pytest.mark.slow
def test_demo_reaches_the_floors(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # data/digits and data/synth_det are written under the working folder
    assert run_demo(work_root=tmp_path / "work") == 0
    out = capsys.readouterr().out
    assert "FAIL" not in out and out.count("PASS") == 2
    assert len(list((tmp_path / "work" / "infer_classification").glob("*_pred.png"))) == 5
    top1 = float(out.split("accuracy/top1 = ")[1].split(" ")[0])
    assert top1 >= 97.0
    box_ap = float(out.split("coco/bbox_mAP = ")[1].split(" ")[0])
    assert box_ap >= get_adapter("detection").demo["floor"]
    detected = tmp_path / "work" / "infer_detection"
    assert len(list(detected.glob("*_pred.png"))) == 4
    records = json.loads((detected / "predictions.json").read_text())
    assert len(records) == 4 and any(record["detections"] for record in records)
