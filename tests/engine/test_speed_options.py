"""The config's speed options: channels_last and compile change the layout, not the results."""

from __future__ import annotations

import pytest
import torch
from torch import nn

from visionstack.engine.speed_options import apply_speed_options
from visionstack.models.base_model import BaseModel
from visionstack.registry import ConfigError


class TwoConv(BaseModel):
    def __init__(self) -> None:
        super().__init__()
        self.backbone = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.BatchNorm2d(8), nn.ReLU(), nn.Conv2d(8, 4, 3)
        )
        self.head = nn.Linear(4, 2)

    def forward_tensor(self, inputs, data_samples=None):
        return self.head(self.backbone(inputs).mean((2, 3)))

    def loss(self, inputs, data_samples):
        return {"loss": self.forward_tensor(inputs).square().mean()}


def batch() -> dict:
    images = torch.randint(
        0, 256, (2, 3, 12, 10), generator=torch.Generator().manual_seed(0), dtype=torch.uint8
    )
    return {"inputs": list(images), "data_samples": None}


def outputs_and_grads(model: BaseModel) -> tuple[torch.Tensor, list[torch.Tensor]]:
    data = model.data_preprocessor(batch(), training=True)
    out = model.forward_tensor(data["inputs"])
    out.square().sum().backward()
    return out.detach(), [p.grad.clone() for p in model.parameters()]


def test_channels_last_stores_weights_and_batches_nhwc_and_computes_the_same():
    torch.manual_seed(0)
    plain = TwoConv()
    fast = TwoConv()
    fast.load_state_dict(plain.state_dict())
    apply_speed_options(fast, channels_last=True)
    assert fast.backbone[0].weight.is_contiguous(memory_format=torch.channels_last)
    inputs = fast.data_preprocessor(batch())["inputs"]
    assert inputs.is_contiguous(memory_format=torch.channels_last) and not inputs.is_contiguous()
    assert plain.data_preprocessor(batch())["inputs"].is_contiguous()
    (out_plain, grads_plain), (out_fast, grads_fast) = outputs_and_grads(plain), outputs_and_grads(fast)
    torch.testing.assert_close(out_fast, out_plain, rtol=1e-5, atol=1e-5)
    for fast_grad, plain_grad in zip(grads_fast, grads_plain):
        torch.testing.assert_close(fast_grad, plain_grad, rtol=1e-4, atol=1e-5)


def test_compile_compiles_the_children_in_place_and_keeps_the_checkpoint_keys():
    torch.manual_seed(0)
    plain = TwoConv()
    compiled = TwoConv()
    compiled.load_state_dict(plain.state_dict())
    keys = list(compiled.state_dict())
    apply_speed_options(compiled, compile=dict(backend="eager"))  # the wiring, without Inductor's C++ build
    assert compiled.backbone._compiled_call_impl is not None and compiled.head._compiled_call_impl is not None
    assert compiled.data_preprocessor._compiled_call_impl is None  # its batches change size
    assert list(compiled.state_dict()) == keys
    torch.testing.assert_close(outputs_and_grads(compiled)[0], outputs_and_grads(plain)[0])
    only = apply_speed_options(TwoConv(), compile=dict(backend="eager", modules=["backbone"]))
    assert only.backbone._compiled_call_impl is not None and only.head._compiled_call_impl is None


def test_compile_options_are_checked():
    with pytest.raises(ConfigError, match="unknown key.*'mdoe'"):
        apply_speed_options(TwoConv(), compile=dict(mdoe="max-autotune"))
    with pytest.raises(ConfigError, match="no \\['neck'\\]"):
        apply_speed_options(TwoConv(), compile=dict(modules=["neck"]))


def test_runner_takes_the_options_from_the_config(tmp_path):
    from visionstack.engine import Runner

    runner = Runner.from_cfg(
        dict(
            model=dict(type=TwoConv),
            work_dir=str(tmp_path),
            channels_last=True,
            compile=dict(backend="eager"),
        )
    )
    assert runner.model.data_preprocessor.channels_last
    assert runner.model.backbone[0].weight.is_contiguous(memory_format=torch.channels_last)
    assert runner.model.backbone._compiled_call_impl is not None


def test_channels_last_inference_applies_to_test_runs_and_the_inferencer_only(tmp_path):
    from visionstack.engine import Runner

    def nhwc(model) -> bool:
        return model.backbone[0].weight.is_contiguous(memory_format=torch.channels_last)

    model = TwoConv()
    assert not nhwc(apply_speed_options(model, channels_last="inference"))
    assert not model.data_preprocessor.channels_last
    assert nhwc(apply_speed_options(model, channels_last="inference", inference=True))
    assert model.data_preprocessor.channels_last
    with pytest.raises(ConfigError, match="channels_last: expected one of .*'infer'"):
        apply_speed_options(TwoConv(), channels_last="infer")

    runner = Runner.from_cfg(
        dict(model=dict(type=TwoConv), work_dir=str(tmp_path), channels_last="inference")
    )
    assert not nhwc(runner.model)  # training keeps the default layout
    runner.test_loop = type("NoLoop", (), {"dataloader": None, "run": lambda self: {"ran": 1}})()
    assert runner.test() == {"ran": 1}
    assert nhwc(runner.model) and runner.model.data_preprocessor.channels_last
