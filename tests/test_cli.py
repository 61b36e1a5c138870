"""The command line end to end on a small slice of Digits: train, test, infer, config, logs."""

from __future__ import annotations

import json

import pytest

from visionstack.cli import main

CONFIG = "configs/classification/resnet18_digits.py"


@pytest.fixture(scope="module")
def small(tmp_path_factory):
    """Overrides that make the Digits config a few-second run in a temporary folder."""
    root = tmp_path_factory.mktemp("cli")
    return root, [
        f"data_root={root / 'digits'}",
        "train_cfg.max_epochs=1",
        "train_dataloader.dataset.indices=96",
        "val_dataloader.dataset.indices=40",
        "train_dataloader.num_workers=0",
        "val_dataloader.num_workers=0",
        "train_dataloader.persistent_workers=False",
        "val_dataloader.persistent_workers=False",
    ]


def test_config_show_prints_the_resolved_config(capsys):
    assert main(["config", "show", CONFIG, "--set", "train_dataloader.batch_size=7", "data_root=/x"]) == 0
    out = capsys.readouterr().out
    assert "batch_size=7" in out and "data_root='/x'" in out and "type='ResNet'" in out
    assert out.count("'/x'") >= 3  # the variable reached the datasets that use it


@pytest.mark.parametrize(
    ("override", "expected"),
    [
        ("model.backbone.depht=50", r"model.backbone.depht: .*'depth'"),
        ("model.backbone.type=ResNt", r"model.backbone.type: 'ResNt' .*'ResNet'"),
        ("train_dataloader.batch_sise=3", r"train_dataloader.batch_sise.*'batch_size'"),
        ("train_cgf.max_epochs=3", r"train_cgf.*Did you mean: train_cfg"),
        (
            "optim_wrapper.optimizer.type=SDG",
            r"'SDG' is not a registered optimizer.*Did you mean: 'SGD', 'ASGD'",
        ),
    ],
)
def test_misspellings_fail_at_start_with_a_suggestion(override, expected, small, capsys, tmp_path):
    import re

    _, overrides = small
    code = main(["train", CONFIG, "--work-dir", str(tmp_path / "w"), "--set", *overrides, override])
    err = capsys.readouterr().err
    assert code == 2 and re.search(expected, err), err
    assert not (tmp_path / "w" / "latest.pth").exists()


def test_train_test_infer_logs(small, capsys):
    root, overrides = small
    work = root / "work"
    assert main(["train", CONFIG, "--work-dir", str(work), "--set", *overrides]) == 0
    assert (work / "latest.pth").is_file() and (work / "config.py").is_file()
    assert (work / "scalars.jsonl").read_text().strip()

    out = root / "metrics.json"
    assert main(["test", CONFIG, str(work / "latest.pth"), "--out", str(out), "--set", *overrides]) == 0
    metrics = json.loads(out.read_text())
    assert 0.0 <= metrics["accuracy/top1"] <= 100.0 and "single-label/f1-score" in metrics
    assert (root / "confusion_matrix.png").stat().st_size > 5_000

    capsys.readouterr()
    images = root / "digits" / "val" / "7"
    infer_dir = root / "infer"
    args = [
        "infer",
        CONFIG,
        str(work / "latest.pth"),
        str(images),
        "--out-dir",
        str(infer_dir),
        "--topk",
        "3",
    ]
    assert main([*args, "--set", *overrides]) == 0
    records = json.loads((infer_dir / "predictions.json").read_text())
    assert len(records) == len(list(images.glob("*.png")))
    assert [item["class"] for item in records[0]["topk"]][0] == records[0]["pred_class"]
    assert len(records[0]["topk"]) == 3 and records[0]["pred_class"] in [str(d) for d in range(10)]
    assert "predictions" in capsys.readouterr().out
    assert len(list(infer_dir.glob("*_pred.png"))) == len(records)

    assert main(["logs", "plot", str(work), "--out", str(root / "curves.png")]) == 0
    assert (root / "curves.png").stat().st_size > 10_000


def test_resume_continues_from_latest(small, tmp_path):
    _, overrides = small
    work = tmp_path / "resume"
    assert main(["train", CONFIG, "--work-dir", str(work), "--set", *overrides]) == 0
    assert (
        main(
            [
                "train",
                CONFIG,
                "--work-dir",
                str(work),
                "--resume",
                "--set",
                *overrides,
                "train_cfg.max_epochs=2",
            ]
        )
        == 0
    )
    lines = [json.loads(line) for line in (work / "scalars.jsonl").read_text().splitlines()]
    assert max(line.get("epoch", 0) for line in lines) == 2
    assert (work / "epoch_2.pth").is_file()


def test_data_synth_writes_datasets(tmp_path, capsys):
    assert (
        main(
            [
                "data",
                "synth",
                "detection",
                "--out",
                str(tmp_path / "det"),
                "--num-train",
                "6",
                "--num-val",
                "3",
            ]
        )
        == 0
    )
    coco = json.loads((tmp_path / "det" / "annotations" / "instances_val.json").read_text())
    assert len(coco["images"]) == 3 and coco["annotations"] and len(coco["categories"]) >= 4
    assert len(list((tmp_path / "det" / "train").glob("*.png"))) == 6
    assert main(["data", "synth", "classification", "--out", str(tmp_path / "cls")]) == 0
    assert len(list((tmp_path / "cls").rglob("*.png"))) == 1797
    assert "written to" in capsys.readouterr().out


def test_foundations_demo_command(tmp_path, capsys):
    assert main(["foundations", "demo", "xor", "--out-dir", str(tmp_path)]) == 0
    assert "accuracy 100.00%" in capsys.readouterr().out
    assert (tmp_path / "xor_boundary.png").is_file()
