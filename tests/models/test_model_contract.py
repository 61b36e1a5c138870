"""The contract every registered model keeps: BaseModel subclasses, necks, losses, heads.

Each registered class in ``CONTRACT_SCOPE`` must have a tiny config here; the coverage tests fail
when one is registered without it. Models are exercised in all three modes on a 2x3x32x32 batch.
"""

from __future__ import annotations

import pytest
import torch

import visionstack  # noqa: F401  (registers everything)
import visionstack.tasks.classification  # noqa: F401
from visionstack.models import BaseModel
from visionstack.registry import MODELS, build
from visionstack.structures import DataSample, LabelData

CONTRACT_SCOPE = ("visionstack.models", "visionstack.tasks.classification")

_HEAD = dict(type="LinearClsHead", num_classes=3, in_channels=16)
TINY_MODEL_CONFIGS = {
    "ImageClassifier": [
        dict(
            type="ImageClassifier",
            backbone=dict(type="ResNet", depth=18, stem="cifar"),
            neck=dict(type="GlobalAveragePooling"),
            head=dict(_HEAD, in_channels=512),
            data_preprocessor=dict(
                type="DataPreprocessor", mean=[128.0] * 3, std=[64.0] * 3, bgr_to_rgb=True
            ),
        ),
        dict(
            type="ImageClassifier",
            backbone=dict(
                type="VisionTransformer",
                arch=dict(embed_dims=16, num_layers=2, num_heads=2),
                img_size=32,
                patch_size=8,
            ),
            head=dict(type="VisionTransformerClsHead", num_classes=3, in_channels=16, hidden_dim=8),
        ),
    ],
}
# every registered non-model, non-backbone class: how to build and call it on a tiny input
TINY_PART_CASES = {
    "DiceLoss": (
        dict(type="DiceLoss", use_sigmoid=False),
        lambda m: m(torch.randn(2, 3, 4, 4, requires_grad=True), torch.randint(0, 3, (2, 4, 4))),
    ),
    "CSPNeXtPAFPN": (
        dict(type="CSPNeXtPAFPN", in_channels=[8, 16], out_channels=8, num_csp_blocks=1),
        lambda m: sum(o.mean() for o in m((torch.randn(2, 8, 8, 8), torch.randn(2, 16, 4, 4)))),
    ),
    "FPN": (
        dict(type="FPN", in_channels=[8, 16], out_channels=8, num_outs=3, add_extra_convs="on_output"),
        lambda m: sum(o.mean() for o in m((torch.randn(2, 8, 8, 8), torch.randn(2, 16, 4, 4)))),
    ),
    "QualityFocalLoss": (
        dict(type="QualityFocalLoss", beta=2.0),
        lambda m: m(torch.randn(4, 3, requires_grad=True), (torch.tensor([0, 3, 2, 1]), torch.rand(4))),
    ),
    "FocalLoss": (
        dict(type="FocalLoss"),
        lambda m: m(torch.randn(4, 3, requires_grad=True), torch.tensor([0, 3, 2, 1])),
    ),
    "GIoULoss": (
        dict(type="GIoULoss", loss_weight=2.0),
        lambda m: m(
            torch.tensor([[0.0, 0.0, 4.0, 4.0]], requires_grad=True), torch.tensor([[1.0, 1.0, 5.0, 6.0]])
        ),
    ),
    "IoULoss": (
        dict(type="IoULoss", mode="log"),
        lambda m: m(
            torch.tensor([[0.0, 0.0, 4.0, 4.0]], requires_grad=True), torch.tensor([[1.0, 1.0, 5.0, 6.0]])
        ),
    ),
    "L1Loss": (dict(type="L1Loss"), lambda m: m(torch.randn(3, 4, requires_grad=True), torch.randn(3, 4))),
    "SmoothL1Loss": (
        dict(type="SmoothL1Loss", beta=1.0),
        lambda m: m(torch.randn(3, 4, requires_grad=True), torch.randn(3, 4)),
    ),
    "BCEWithLogitsLoss": (
        dict(type="BCEWithLogitsLoss"),
        lambda m: m(torch.randn(5, requires_grad=True), torch.rand(5)),
    ),
    "GlobalAveragePooling": (dict(type="GlobalAveragePooling"), lambda m: m((torch.randn(2, 4, 3, 3),))[0]),
    "CrossEntropyLoss": (
        dict(type="CrossEntropyLoss", label_smoothing=0.1),
        lambda m: m(torch.randn(2, 3, requires_grad=True), torch.tensor([0, 2])),
    ),
    "LinearClsHead": (_HEAD, lambda m: m((torch.randn(2, 16),))),
    "VisionTransformerClsHead": (
        dict(_HEAD, type="VisionTransformerClsHead", hidden_dim=8),
        lambda m: m((torch.randn(2, 16),)),
    ),
    "LayerNorm2d": (dict(type="LayerNorm2d", num_channels=4), lambda m: m(torch.randn(2, 4, 3, 3))),
    "GroupNorm": (dict(type="GroupNorm", num_channels=4, num_groups=2), lambda m: m(torch.randn(2, 4, 3, 3))),
    "DropPath": (dict(type="DropPath", drop_prob=0.5), lambda m: m(torch.randn(2, 4, requires_grad=True))),
    "DataPreprocessor": (
        dict(type="DataPreprocessor", mean=[1.0], std=[2.0]),
        lambda m: m({"inputs": [torch.zeros(1, 3, 3, dtype=torch.uint8)]})["inputs"],
    ),
    "ClsDataPreprocessor": (
        dict(
            type="ClsDataPreprocessor",
            num_classes=3,
            batch_augments=[dict(type="Mixup", alpha=1.0, num_classes=3)],
        ),
        lambda m: m(
            {"inputs": [torch.zeros(3, 4, 4, dtype=torch.uint8)] * 2, "data_samples": _mixable()[1]},
            training=True,
        )["inputs"],
    ),
    "Mixup": (dict(type="Mixup", alpha=1.0, num_classes=3), lambda m: m(*_mixable())[0]),
    "CutMix": (dict(type="CutMix", alpha=1.0, num_classes=3), lambda m: m(*_mixable())[0]),
    "RandomBatchAugment": (
        dict(type="RandomBatchAugment", augments=[dict(type="Mixup", alpha=1.0, num_classes=3)]),
        lambda m: m(*_mixable())[0],
    ),
}


def _mixable() -> tuple[torch.Tensor, list[DataSample]]:
    return torch.randn(2, 3, 4, 4), [DataSample(gt_label=LabelData(label=torch.tensor([i]))) for i in (0, 2)]


# backbones have their own contract test; detection task utilities (assigners, coders, prior
# generators, samplers, RoIAlign) are checked against loop references in tests/models/ops
OUT_OF_SCOPE = ("visionstack.models.backbones", "visionstack.models.ops")


def _in_scope(cls: type) -> bool:
    return cls.__module__.startswith(CONTRACT_SCOPE) and not cls.__module__.startswith(OUT_OF_SCOPE)


def registered_models() -> list[str]:
    return sorted(
        n for n, c in MODELS.items() if _in_scope(c) and isinstance(c, type) and issubclass(c, BaseModel)
    )


def registered_parts() -> list[str]:
    return sorted(n for n, c in MODELS.items() if _in_scope(c) and n not in registered_models())


def test_every_registered_model_and_part_has_a_tiny_config():
    missing = sorted(set(registered_models()) - set(TINY_MODEL_CONFIGS))
    assert not missing, f"add a tiny config for {missing} to TINY_MODEL_CONFIGS"
    missing = sorted(set(registered_parts()) - set(TINY_PART_CASES))
    assert not missing, f"add a case for {missing} to TINY_PART_CASES"


MODEL_CASES = [
    (name, index) for name in registered_models() for index in range(len(TINY_MODEL_CONFIGS[name]))
]


def _build(name: str, index: int, seed: int = 0) -> BaseModel:
    torch.manual_seed(seed)
    return build(TINY_MODEL_CONFIGS[name][index], MODELS)


def _batch() -> dict:
    generator = torch.Generator().manual_seed(0)
    images = [torch.randint(0, 256, (3, 32, 32), dtype=torch.uint8, generator=generator) for _ in range(2)]
    return {
        "inputs": images,
        "data_samples": [DataSample(gt_label=LabelData(label=torch.tensor([i]))) for i in (0, 2)],
    }


def _batch_on(model: BaseModel) -> dict:
    return model.data_preprocessor(_batch())


@pytest.mark.parametrize(("name", "index"), MODEL_CASES)
def test_model_modes_give_finite_outputs(name, index):
    model = _build(name, index).eval()
    assert torch.isfinite(model(_batch_on(model)["inputs"], mode="tensor")).all()
    losses = model(**_batch_on(model), mode="loss")
    assert all(torch.isfinite(v).all() for v in losses.values())
    predictions = model(**_batch_on(model), mode="predict")
    assert len(predictions) == 2 and all(torch.isfinite(p.pred_label.score).all() for p in predictions)


@pytest.mark.parametrize(("name", "index"), MODEL_CASES)
def test_every_model_parameter_gets_a_gradient(name, index):
    model = _build(name, index).train()
    total, _ = model.parse_losses(model(**_batch_on(model), mode="loss"))
    total.backward()
    without = [n for n, p in model.named_parameters() if p.grad is None or not torch.isfinite(p.grad).all()]
    assert not without, f"{name}: no (finite) gradient for {without[:5]}"
    # with running statistics (eval mode) every parameter also changes the loss (see the backbone
    # contract for why some biases get exactly zero gradients under batch statistics)
    model.eval().zero_grad(set_to_none=True)
    model.parse_losses(model(**_batch_on(model), mode="loss"))[0].backward()
    zero = [n for n, p in model.named_parameters() if p.grad.abs().sum() == 0]
    assert not zero, f"{name}: zero gradient for {zero[:5]}"


@pytest.mark.parametrize(("name", "index"), MODEL_CASES)
def test_model_state_dict_round_trip(name, index):
    source, target = _build(name, index, seed=0).eval(), _build(name, index, seed=1).eval()
    target.load_state_dict(source.state_dict())
    inputs = _batch_on(source)["inputs"]
    torch.testing.assert_close(source(inputs), target(inputs), rtol=0, atol=0)


@pytest.mark.parametrize("name", registered_parts())
def test_parts_build_and_run(name):
    config, call = TINY_PART_CASES[name]
    torch.manual_seed(0)
    part = build(config, MODELS)
    out = call(part)
    assert torch.isfinite(out).all()
    if isinstance(part, torch.nn.Module) and any(True for _ in part.parameters()):
        out.float().sum().backward()
        assert all(p.grad is not None for p in part.parameters())
