"""Config: formats, _base_ inheritance, _delete_, reference propagation, overrides, dump."""

from __future__ import annotations

import json
import textwrap

import pytest

from visionstack.config import Config, ConfigFileError


def write(path, text):
    path.write_text(textwrap.dedent(text))
    return path


@pytest.fixture()
def base(tmp_path):
    write(
        tmp_path / "base.py",
        """
        data_root = 'data/a'
        train_pipeline = [dict(type='LoadImage'), dict(type='Resize', scale=(32, 32))]
        train_dataloader = dict(batch_size=4, dataset=dict(type='Digits', data_root=data_root,
                                                          pipeline=train_pipeline))
        val_dataloader = dict(batch_size=4, dataset=dict(type='Digits', data_root=data_root,
                                                        pipeline=train_pipeline))
        test_dataloader = val_dataloader
        model = dict(type='ImageClassifier', backbone=dict(type='ResNet', depth=18, out_indices=(3,)),
                     head=dict(type='LinearClsHead', num_classes=10))
        """,
    )
    return tmp_path


def test_child_redefinition_is_seen_everywhere_the_base_used_it(base):
    write(
        base / "child.py",
        """
        _base_ = './base.py'
        data_root = 'data/b'
        train_pipeline = [dict(type='LoadImage')]
        val_dataloader = dict(dataset=dict(pipeline=[dict(type='Other')]))
        """,
    )
    cfg = Config.fromfile(base / "child.py")
    assert cfg.train_dataloader.dataset.pipeline == [{"type": "LoadImage"}]
    assert cfg.train_dataloader.dataset.data_root == "data/b"
    # set explicitly by the child: stays as the child wrote it
    assert cfg.val_dataloader.dataset.pipeline == [{"type": "Other"}]
    # `test_dataloader = val_dataloader` in the base follows the merged val_dataloader
    assert cfg.test_dataloader == cfg.val_dataloader
    assert cfg.val_dataloader.batch_size == 4


def test_merge_and_delete(base):
    write(
        base / "child.py",
        """
        _base_ = ['base.py']
        model = dict(backbone=dict(depth=50), head=dict(_delete_=True, type='VisionTransformerClsHead'))
        """,
    )
    cfg = Config.fromfile(base / "child.py")
    assert cfg.model.backbone == {"type": "ResNet", "depth": 50, "out_indices": (3,)}
    assert cfg.model.head == {"type": "VisionTransformerClsHead"}


def test_json_and_yaml_with_base(base):
    (base / "c.json").write_text(json.dumps({"_base_": "base.py", "model": {"backbone": {"depth": 34}}}))
    write(base / "c.yaml", "_base_: c.json\nextra: [1, 2]\n")
    cfg = Config.fromfile(base / "c.yaml")
    assert cfg.model.backbone.depth == 34 and cfg.extra == [1, 2]


def test_overrides_parse_literals_and_index_lists(base):
    cfg = Config.fromfile(
        base / "base.py",
        [
            "train_dataloader.batch_size=16",
            "train_dataloader.dataset.pipeline.1.scale=(64,64)",
            "model.head.num_classes=5",
            "new.key=hello",
            "flag=true",
        ],
    )
    assert cfg.train_dataloader.batch_size == 16
    assert cfg.train_dataloader.dataset.pipeline[1].scale == (64, 64)
    assert cfg.new.key == "hello" and cfg.flag is True
    with pytest.raises(ConfigFileError, match="not an index of a list of 2"):
        Config.fromfile(base / "base.py", ["train_pipeline.5.type=X"])


@pytest.mark.parametrize("suffix", [".py", ".json", ".yaml"])
def test_dump_round_trip(base, suffix):
    cfg = Config.fromfile(base / "base.py")
    cfg.dump(base / f"out{suffix}")
    again = Config.fromfile(base / f"out{suffix}")
    if suffix == ".py":
        assert again == cfg
    else:  # JSON/YAML have no tuples
        assert again.model.backbone.out_indices == [3] and again.train_dataloader == json.loads(
            json.dumps(cfg.train_dataloader)
        )


def test_dump_writes_class_types_as_registered_names(tmp_path):
    import visionstack  # noqa: F401  (registers ResNet)
    from visionstack.models import ResNet

    cfg = Config({"model": {"type": ResNet, "depth": 18}})
    assert "type='ResNet'" in cfg.pretty_text


def test_errors_name_the_file(tmp_path):
    write(tmp_path / "bad.py", "x = (\n")
    with pytest.raises(ConfigFileError, match="bad.py"):
        Config.fromfile(tmp_path / "bad.py")
    write(tmp_path / "child.py", "_base_ = 'missing.py'\n")
    with pytest.raises(ConfigFileError, match="missing.py.*a _base_ of .*child.py"):
        Config.fromfile(tmp_path / "child.py")
    write(tmp_path / "loop.py", "_base_ = 'loop.py'\n")
    with pytest.raises(ConfigFileError, match="circular"):
        Config.fromfile(tmp_path / "loop.py")


def test_attribute_access_suggests(base):
    cfg = Config.fromfile(base / "base.py")
    with pytest.raises(AttributeError, match="Did you mean: model"):
        cfg.modle  # noqa: B018


def test_override_of_a_variable_reaches_its_uses(base):
    cfg = Config.fromfile(base / "base.py", ["data_root=/mnt/data", "val_dataloader.dataset.data_root=x"])
    assert cfg.train_dataloader.dataset.data_root == "/mnt/data"
    assert cfg.val_dataloader.dataset.data_root == "x"


def test_dump_survives_built_objects(tmp_path):
    import torch

    cfg = Config({"model": {"type": "ResNet", "norm": torch.nn.Identity()}})
    assert "Identity()" in cfg.pretty_text
    cfg.dump(tmp_path / "c.json")
    assert "Identity()" in (tmp_path / "c.json").read_text()


def test_redefinition_does_not_reach_into_a_deleted_dict(tmp_path):
    write(tmp_path / "base.py", "data_root = 'a/'\nloader = dict(dataset=dict(data_root=data_root))\n")
    write(
        tmp_path / "child.py",
        """
        _base_ = 'base.py'
        data_root = 'b/'
        loader = dict(dataset=dict(_delete_=True, type='Y', inner=dict(root='c/')))
        """,
    )
    cfg = Config.fromfile(tmp_path / "child.py")
    assert cfg.loader.dataset == {"type": "Y", "inner": {"root": "c/"}}
