"""``visionstack convert config``: OpenMMLab configs read without OpenMMLab (``_base_`` chains, ``mmdet::``
references, placeholders), converted through the registries and the task tables, and reported.

The fixtures (tests/data/openmmlab_configs) are small configs in OpenMMLab's format written for
these tests; ``fake_mmdet/configs`` stands for MMDetection's packaged configs.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
from torch import nn

from visionstack.cli import main
from visionstack.config import Config
from visionstack.interop.openmmlab_config import (
    OpenMMLabConfigError,
    convert_config_file,
    load_openmmlab_config,
    load_task_tables,
)
from visionstack.registry import MODELS, build

FIXTURES = Path(__file__).resolve().parents[1] / "data" / "openmmlab_configs"
ROOTS = {"mmdet": str(FIXTURES / "fake_mmdet" / "configs")}
RETINA = FIXTURES / "project" / "retinanet_tiny_synth.py"
FCN = FIXTURES / "project" / "fcn_tiny_synth.py"


@pytest.fixture(scope="module")
def retina(tmp_path_factory) -> dict:
    """The RetinaNet fixture converted once for the module."""
    out = tmp_path_factory.mktemp("convert") / "retina_vs.py"
    return convert_config_file(RETINA, out=out, package_roots=ROOTS)


def left_out(result: dict) -> dict[str, str]:
    return {entry.path: entry.reason for entry in result["conversion"].left_out}


def test_task_tables_are_found_by_module_name():
    assert {"classification", "detection", "segmentation"} <= set(load_task_tables())


def test_base_chain_and_package_reference_resolve_as_mmengine_does():
    variables, files = load_openmmlab_config(RETINA, ROOTS)
    assert str((FIXTURES / "fake_mmdet/configs/_base_/models/tiny_retinanet.py").resolve()) in files
    assert len(files) == 5
    model = variables["model"]
    assert model["type"] == "RetinaNet" and model["_scope_"] == "mmdet"  # from an mmdet:: base
    assert model["bbox_head"]["num_classes"] == 5 and model["bbox_head"]["feat_channels"] == 32  # merged
    pipeline = variables["train_dataloader"]["dataset"]["pipeline"]
    assert pipeline[3] == {"type": "YOLOXHSVRandomAug"}  # the child's pipeline, put in place by the child
    assert pipeline[0] == {"type": "LoadImageFromFile", "backend_args": None}  # {{_base_.backend_args}}
    assert variables["max_epochs"] == 2  # _base_.train_cfg.max_epochs
    # MMEngine's rule: a redefined base variable does not reach the places the base used it
    assert variables["warmup_iters"] == 1 and variables["param_scheduler"][0]["end"] == 2
    assert variables["optim_wrapper"] == {  # _delete_: the base's optimizer is replaced, not merged
        "type": "OptimWrapper",
        "optimizer": {"type": "SGD", "lr": 0.01, "momentum": 0.9, "weight_decay": 0.0001},
        "paramwise_cfg": {"norm_decay_mult": 0.0, "bypass_duplicate": True},
    }
    assert variables["test_dataloader"] == variables["val_dataloader"]


def test_a_missing_package_reference_is_an_error_naming_it():
    with pytest.raises(
        OpenMMLabConfigError, match=r"'mmfake::_base_/models/nothing\.py'.*--package-root mmfake=DIR"
    ):
        load_openmmlab_config(FIXTURES / "project" / "missing_reference.py", ROOTS)
    with pytest.raises(
        OpenMMLabConfigError, match=r"'mmdet::_base_/models/absent\.py'.*no _base_/models/absent\.py"
    ):
        load_openmmlab_config("mmdet::_base_/models/absent.py", ROOTS)


def test_a_new_style_config_is_refused_by_name(tmp_path):
    path = tmp_path / "new_style.py"
    path.write_text("from mmengine.config import read_base\nwith read_base():\n    from .base import *\n")
    with pytest.raises(OpenMMLabConfigError, match="new-style"):
        load_openmmlab_config(path)


def test_types_map_to_registered_or_renamed_types_and_the_rest_is_left_out(retina):
    cfg = retina["config"]
    assert cfg["model"]["type"] == "SingleStageDetector"  # RetinaNet, renamed by the detection table
    assert [t["type"] for t in cfg["train_dataloader"]["dataset"]["pipeline"]] == [
        "LoadImage",
        "LoadAnnotations",
        "Resize",
        "RandomFlip",
        "PackDetInputs",
    ]
    reasons = left_out(retina)
    assert "YOLOX HSV" in reasons["train_dataloader.dataset.pipeline.3"]
    assert "no hook named 'NumClassCheckHook'" in reasons["custom_hooks.0"]
    assert "default_hooks.visualization" in reasons and "default_scope" in reasons
    assert cfg["custom_hooks"] == [{"type": "EMAHook", "momentum": 0.001, "priority": 49}]
    assert "batch_sampler" not in cfg["train_dataloader"] and "visualizer" not in cfg


def test_arguments_are_moved_renamed_or_dropped(retina):
    cfg = retina["config"]
    head = cfg["model"]["bbox_head"]
    assert head["assigner"]["type"] == "MaxIoUAssigner" and head["sampler"] == {"type": "PseudoSampler"}
    assert head["test_cfg"] == {
        "nms_pre": 100,
        "min_bbox_size": 0,
        "score_thr": 0.05,
        "nms_iou_thr": 0.45,
        "max_per_img": 20,
    }
    assert head["loss_cls"] == {"type": "FocalLoss", "gamma": 2.0, "alpha": 0.25, "loss_weight": 1.0}
    # BN is visionstack's default norm layer; MMDetection's zero_init_residual default is spelled out
    assert cfg["model"]["backbone"] == {
        "type": "ResNet",
        "depth": 18,
        "out_indices": (1, 2, 3),
        "frozen_stages": 1,
        "norm_eval": True,
        "zero_init_residual": True,
    }
    assert cfg["env_cfg"] == {
        "cudnn_benchmark": False,
        "mp_start_method": "fork",
        "dist_cfg": {"backend": "nccl"},
    }
    assert cfg["optim_wrapper"]["paramwise_cfg"] == {"norm_decay_mult": 0.0}
    assert cfg["param_scheduler"][0]["end"] == 2


def test_segmentation_sizes_become_w_h_and_mmseg_defaults_are_spelled_out(tmp_path):
    result = convert_config_file(FCN, out=tmp_path / "fcn.py")
    model = result["config"]["model"]
    sync_bn = {"type": "torch.nn.SyncBatchNorm", "_partial_": True}
    assert model["data_preprocessor"]["size"] == (64, 48)
    assert model["test_cfg"] == {"mode": "slide", "crop_size": (64, 48), "stride": (48, 32)}
    backbone = model["backbone"]
    assert (backbone["type"], backbone["stem"], backbone["contract_dilation"]) == ("ResNet", "deep", True)
    assert backbone["norm_layer"] == sync_bn and "style" not in backbone
    assert model["decode_head"]["norm_layer"] == sync_bn
    assert model["decode_head"]["loss_decode"] == {
        "type": "CrossEntropyLoss",
        "loss_weight": 1.0,
        "avg_non_ignore": False,
    }
    crop, distortion = result["config"]["train_dataloader"]["dataset"]["pipeline"][2:4]
    assert crop["crop_size"] == (64, 48) and distortion == {
        "type": "PhotoMetricDistortion",
        "swap_channels": False,
    }
    assert "downloads nothing" in left_out(result)["model.pretrained"]
    assert result["check"].startswith("passes")


def test_the_report_lists_every_left_out_key_with_its_reason(retina):
    text = Path(retina["report"]).read_text()
    assert "visionstack's config check: passes" in text
    section = text.split("## Left out")[1].split("\n## ")[0]
    assert "| key path | OpenMMLab value | reason |" in section
    rows = [line for line in section.splitlines() if line.startswith("| `")]
    paths = {re.match(r"\| `([^`]+)`", row).group(1) for row in rows}
    assert paths == set(left_out(retina)) and retina["unmapped"] == len(retina["conversion"].left_out)
    init_row = next(row for row in rows if row.startswith("| `model.backbone.init_cfg`"))
    assert "torchvision://resnet18" in init_row and "downloads nothing" in init_row
    assert "`model.train_cfg.assigner`" in text.split("## Changed in form")[1]


def test_the_written_config_builds_the_model_and_data_root_reaches_every_dataset(retina):
    cfg = Config.fromfile(retina["out"], ["data_root=/elsewhere/"])
    model = build(cfg.model, MODELS)
    assert isinstance(model, nn.Module) and type(model).__name__ == "SingleStageDetector"
    assert cfg.train_dataloader.dataset.data_root == "/elsewhere/"
    assert cfg.val_dataloader.dataset.data_root == "/elsewhere/"


def test_a_converted_config_trains_two_iterations(tmp_path, capsys):
    from visionstack.tasks.detection.synthetic import write_synthetic_detection

    data = tmp_path / "synth"
    write_synthetic_detection(data, num_train=2, num_val=1, image_size=(48, 64), seed=0)
    out = tmp_path / "retina_vs.py"
    assert (
        main(
            ["convert", "config", str(RETINA), "--out", str(out), "--package-root", f"mmdet={ROOTS['mmdet']}"]
        )
        == 0
    )
    printed = json.loads(capsys.readouterr().out)
    assert printed["out"] == str(out) and printed["unmapped"] == 10
    code = main(
        [
            "train",
            str(out),
            "--work-dir",
            str(tmp_path / "work"),
            "--set",
            f"data_root={data}/",
            "train_cfg.max_epochs=1",
            "train_dataloader.batch_size=1",
            "default_hooks.logger.interval=1",
            "val_dataloader=None",  # no validation: the run is about training
            "val_cfg=None",
            "val_evaluator=None",
        ]
    )
    assert code == 0
    lines = (tmp_path / "work" / "scalars.jsonl").read_text().splitlines()
    records = [json.loads(line) for line in lines]
    assert [r["iter"] for r in records if r["mode"] == "train"] == [1, 2]
    assert all(0 < r["loss"] < 100 for r in records)
    assert (tmp_path / "work" / "epoch_1.pth").is_file()


def test_an_mmpretrain_data_preprocessor_and_untyped_loop_are_placed(tmp_path):
    path = tmp_path / "classifier.py"
    path.write_text(
        "default_scope = 'mmpretrain'\n"
        "data_preprocessor = dict(num_classes=10, mean=[0.0] * 3, std=[1.0] * 3, to_rgb=True)\n"
        "model = dict(type='ImageClassifier', backbone=dict(type='ResNet', depth=18),\n"
        "             neck=dict(type='GlobalAveragePooling'),\n"
        "             head=dict(type='LinearClsHead', num_classes=10, in_channels=512))\n"
        "train_cfg = dict(by_epoch=True, max_epochs=3, val_interval=1)\n"
        "train_dataloader = dict(batch_size=2, dataset=dict(type='ImageNet', data_root='data/in', split='train',\n"
        "                        pipeline=[dict(type='LoadImageFromFile'), dict(type='PackInputs')]))\n"
        "optim_wrapper = dict(optimizer=dict(type='SGD', lr=0.1))\n"
    )
    cfg = convert_config_file(path, out=tmp_path / "vs.py")["config"]
    assert cfg["model"]["data_preprocessor"] == {
        "type": "ClsDataPreprocessor",
        "num_classes": 10,
        "mean": [0.0] * 3,
        "std": [1.0] * 3,
        "bgr_to_rgb": True,
    }
    assert cfg["train_cfg"] == {"type": "EpochBasedTrainLoop", "max_epochs": 3, "val_interval": 1}
    assert cfg["train_dataloader"]["dataset"]["type"] == "ImageFolder"
    assert cfg["train_dataloader"]["dataset"]["data_prefix"] == "train"
