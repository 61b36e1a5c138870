"""BaseModel: mode dispatch, parse_losses, train/val/test steps."""

from __future__ import annotations

import contextlib

import pytest
import torch
from torch import nn

from visionstack.models import BaseModel, DataPreprocessor


class LinearRegressor(BaseModel):
    """y = w . mean(x) with a squared loss; targets travel as plain tensors in data_samples."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.weight = nn.Parameter(torch.zeros(3))

    def forward_tensor(self, inputs, data_samples=None):
        return inputs.mean(dim=(2, 3)) @ self.weight

    def loss(self, inputs, data_samples):
        target = torch.stack(list(data_samples))
        return {
            "loss_mse": ((self.forward_tensor(inputs) - target) ** 2).mean(),
            "mean_output": inputs.mean(),
        }

    def predict(self, inputs, data_samples=None):
        return list(self.forward_tensor(inputs))


class RecordingOptimWrapper:
    """The two methods train_step needs, recording what it was given."""

    def __init__(self, optimizer: torch.optim.Optimizer) -> None:
        self.optimizer = optimizer
        self.contexts = 0

    @contextlib.contextmanager
    def optim_context(self, model):
        self.contexts += 1
        yield

    def update_params(self, loss):
        loss.backward()
        self.optimizer.step()
        self.optimizer.zero_grad()


def batch() -> dict:
    inputs = [torch.full((3, 2, 2), float(v)) for v in (1, 2)]
    return {"inputs": inputs, "data_samples": [torch.tensor(1.0), torch.tensor(2.0)]}


def test_modes_dispatch_and_unknown_mode_is_a_clear_error():
    model = LinearRegressor()
    inputs = torch.ones(2, 3, 2, 2)
    assert model(inputs).shape == (2,)
    assert set(model(inputs, [torch.tensor(0.0)] * 2, mode="loss")) == {"loss_mse", "mean_output"}
    assert len(model(inputs, mode="predict")) == 2
    with pytest.raises(ValueError, match=r"unknown mode 'train'; use one of 'loss', 'predict', 'tensor'"):
        model(inputs, mode="train")


def test_missing_mode_method_is_named():
    class OnlyTensor(BaseModel):
        def forward_tensor(self, inputs, data_samples=None):
            return inputs

    with pytest.raises(TypeError, match="OnlyTensor does not support mode 'loss'.*loss"):
        OnlyTensor()(torch.ones(1), mode="loss")


def test_parse_losses_sums_loss_keys_and_logs_the_rest():
    losses = {
        "loss_cls": torch.tensor([1.0, 3.0]),
        "loss_bbox": [torch.tensor(0.5), torch.tensor(0.25)],
        "accuracy": torch.tensor(90.0),
    }
    total, log_vars = BaseModel.parse_losses(losses)
    assert total.item() == pytest.approx(2.0 + 0.75)
    assert list(log_vars) == ["loss", "loss_cls", "loss_bbox", "accuracy"]
    assert log_vars == pytest.approx({"loss": 2.75, "loss_cls": 2.0, "loss_bbox": 0.75, "accuracy": 90.0})
    assert all(isinstance(v, float) for v in log_vars.values())
    total, log_vars = BaseModel.parse_losses({"loss": torch.tensor(1.5)})
    assert log_vars == {"loss": 1.5}


def test_parse_losses_errors():
    with pytest.raises(ValueError, match="no entry name contains 'loss'"):
        BaseModel.parse_losses({"accuracy": torch.tensor(1.0)})
    with pytest.raises(TypeError, match="'loss_x' must be a tensor"):
        BaseModel.parse_losses({"loss_x": 1.0})


def test_train_step_preprocesses_optimises_and_returns_floats():
    model = LinearRegressor()
    wrapper = RecordingOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1))
    first = model.train_step(batch(), wrapper)
    for _ in range(20):
        last = model.train_step(batch(), wrapper)
    assert wrapper.contexts == 21
    assert set(first) == {"loss", "loss_mse", "mean_output"}
    assert last["loss"] < first["loss"] * 0.01  # w -> (1/3, 1/3, 1/3) fits both samples exactly
    torch.testing.assert_close(model.weight.detach(), torch.full((3,), 1 / 3), atol=1e-2, rtol=0)


def test_val_and_test_step_predict_on_preprocessed_batches():
    model = LinearRegressor(data_preprocessor={"mean": [1.0] * 3, "std": [2.0] * 3})
    assert isinstance(model.data_preprocessor, DataPreprocessor)
    with torch.no_grad():
        model.weight.fill_(1.0)
    torch.testing.assert_close(torch.stack(model.val_step(batch())), torch.tensor([0.0, 1.5]))
    torch.testing.assert_close(torch.stack(model.test_step(batch())), torch.tensor([0.0, 1.5]))


def test_default_and_invalid_preprocessor():
    assert isinstance(LinearRegressor().data_preprocessor, DataPreprocessor)
    assert not LinearRegressor().data_preprocessor.normalize
    with pytest.raises(TypeError, match="data_preprocessor must be"):
        LinearRegressor(data_preprocessor=3)
