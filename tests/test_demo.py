"""The `make demo` job: ResNet-18 on Digits reaches the 97 % floor, then inference runs."""

from __future__ import annotations

import pytest

from visionstack.demo import run_demo


@pytest.mark.slow
def test_demo_reaches_the_floor(tmp_path, monkeypatch, capsys):
    monkeypatch.chdir(tmp_path)  # data/digits is written under the working folder
    assert run_demo(work_root=tmp_path / "work") == 0
    out = capsys.readouterr().out
    assert "PASS" in out and "predictions" in out
    assert len(list((tmp_path / "work" / "infer").glob("*_pred.png"))) == 5
    top1 = float(out.split("val top-1 = ")[1].split("%")[0])
    assert top1 >= 97.0
