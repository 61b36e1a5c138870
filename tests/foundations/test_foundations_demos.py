"""The four demos: they train, reach their accuracy, write real PNGs, and run quickly."""

from __future__ import annotations

from pathlib import Path

import pytest

from visionstack.foundations.demos import main, run_demo

PNG_SIGNATURE = b"\x89PNG\r\n\x1a\n"
THRESHOLDS = {"perceptron": 1.0, "xor": 1.0, "moons": 0.95, "digits": 0.95}
EXPECTED_PNGS = {
    "perceptron": {"perceptron_boundaries.png", "perceptron_mistakes.png", "activations.png"},
    "xor": {"xor_boundary.png", "xor_loss.png", "activations.png"},
    "moons": {"moons_boundary.png", "moons_loss.png", "activations.png"},
    "digits": {"digits_loss.png", "digits_accuracy.png", "digits_predictions.png", "activations.png"},
}


@pytest.mark.parametrize("name", list(THRESHOLDS))
def test_demo_reaches_accuracy_and_writes_pngs(name: str, tmp_path: Path, capsys) -> None:
    result = run_demo(name, tmp_path / name)
    assert result["accuracy"] >= THRESHOLDS[name]
    assert {Path(png).name for png in result["pngs"]} == EXPECTED_PNGS[name]
    for png in result["pngs"]:
        data = Path(png).read_bytes()
        assert data.startswith(PNG_SIGNATURE) and len(data) > 5_000
    assert result["seconds"] < 20.0
    assert f"{name} accuracy:" in capsys.readouterr().out


def test_perceptron_demo_reports_and_or_learned_and_xor_not(tmp_path: Path) -> None:
    result = run_demo("perceptron", tmp_path)
    assert result["accuracy_and"] == 1.0 and result["accuracy_or"] == 1.0
    assert result["converged_and"] and result["converged_or"]
    assert not result["converged_xor"] and result["accuracy_xor"] < 1.0


def test_demo_command_line_runs_xor(tmp_path: Path, capsys) -> None:
    assert main(["xor", "--out-dir", str(tmp_path)]) == 0
    assert (tmp_path / "xor_boundary.png").exists()
    assert "xor accuracy: 100.00%" in capsys.readouterr().out


def test_unknown_demo_is_rejected(tmp_path: Path) -> None:
    with pytest.raises(ValueError, match="unknown demo"):
        run_demo("mnist", tmp_path)
