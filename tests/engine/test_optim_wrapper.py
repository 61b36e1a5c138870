"""OptimWrapper / AmpOptimWrapper: accumulation equals a big batch, clipping, AMP, state."""

from __future__ import annotations

import contextlib
import copy

import pytest
import torch
from torch import nn

from visionstack.engine import AmpOptimWrapper, OptimWrapper
from visionstack.registry import ConfigError


def _regression(n: int = 12, seed: int = 0) -> tuple[nn.Module, torch.Tensor, torch.Tensor]:
    generator = torch.Generator().manual_seed(seed)
    model = nn.Sequential(nn.Linear(5, 7), nn.Tanh(), nn.Linear(7, 1)).double()
    for param in model.parameters():
        nn.init.normal_(param, generator=generator)
    inputs = torch.randn(n, 5, generator=generator, dtype=torch.float64)
    targets = torch.randn(n, 1, generator=generator, dtype=torch.float64)
    return model, inputs, targets


def _loss(model: nn.Module, inputs: torch.Tensor, targets: torch.Tensor) -> torch.Tensor:
    return ((model(inputs) - targets) ** 2).mean()


def _params(model: nn.Module) -> list[torch.Tensor]:
    return [p.detach().clone() for p in model.parameters()]


def test_accumulating_small_batches_equals_one_big_batch():
    model, inputs, targets = _regression()
    big = copy.deepcopy(model)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1, momentum=0.9), accumulative_counts=4)
    reference = torch.optim.SGD(big.parameters(), lr=0.1, momentum=0.9)
    for _ in range(2):  # two updates of 4 micro-batches of 3 samples
        before = _params(model)
        for micro in range(4):
            rows = slice(micro * 3, micro * 3 + 3)
            wrapper.update_params(_loss(model, inputs[rows], targets[rows]))
            if micro < 3:  # no update until the group is complete
                assert all(torch.equal(a, b) for a, b in zip(before, _params(model)))
        reference.zero_grad()
        _loss(big, inputs, targets).backward()
        reference.step()
        for a, b in zip(model.parameters(), big.parameters()):
            torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_last_short_group_is_averaged_over_its_own_size():
    model, inputs, targets = _regression(n=10)
    big = copy.deepcopy(model)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.05), accumulative_counts=4)
    wrapper.initialize_count_status(model, init_counts=0, max_counts=6)  # groups of 4 and 2
    reference = torch.optim.SGD(big.parameters(), lr=0.05)
    for index in range(6):
        wrapper.update_params(_loss(model, inputs[index : index + 1], targets[index : index + 1]))
    for rows in (slice(0, 4), slice(4, 6)):
        reference.zero_grad()
        _loss(big, inputs[rows], targets[rows]).backward()
        reference.step()
    for a, b in zip(model.parameters(), big.parameters()):
        torch.testing.assert_close(a, b, rtol=1e-12, atol=1e-12)


def test_state_inside_an_accumulation_group_carries_the_gradients():
    model, inputs, targets = _regression()
    twin = copy.deepcopy(model)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), accumulative_counts=3)
    wrapper.update_params(_loss(model, inputs[:3], targets[:3]))
    state = wrapper.state_dict()
    assert "accumulated_grads" in state
    resumed = OptimWrapper(torch.optim.SGD(twin.parameters(), lr=0.1), accumulative_counts=3)
    resumed.load_state_dict(state)
    resumed.initialize_count_status(twin, init_counts=1, max_counts=3)
    for wrap, net in ((wrapper, model), (resumed, twin)):
        wrap.update_params(_loss(net, inputs[3:6], targets[3:6]))
        wrap.update_params(_loss(net, inputs[6:9], targets[6:9]))
    for a, b in zip(model.parameters(), twin.parameters()):
        assert torch.equal(a, b)
    assert "accumulated_grads" not in wrapper.state_dict()


def test_clip_grad_norm_clips_to_max_norm_and_reports_the_norm_before_clipping():
    model, inputs, targets = _regression()
    wrapper = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.0), clip_grad=dict(max_norm=0.5, norm_type=2)
    )
    loss = 100 * _loss(model, inputs, targets)
    grads = torch.autograd.grad(loss, list(model.parameters()), retain_graph=True)
    expected_norm = torch.linalg.vector_norm(torch.cat([g.flatten() for g in grads])).item()
    wrapper.backward(loss)
    wrapper.step()
    clipped = torch.cat([p.grad.flatten() for p in model.parameters()])
    assert torch.linalg.vector_norm(clipped).item() == pytest.approx(0.5, rel=1e-6)
    assert wrapper.pop_grad_norm() == pytest.approx(expected_norm, rel=1e-9)
    assert wrapper.pop_grad_norm() is None  # the window was consumed


def test_clip_grad_value_bounds_every_element():
    model, inputs, targets = _regression()
    wrapper = OptimWrapper(
        torch.optim.SGD(model.parameters(), lr=0.0), clip_grad=dict(type="value", clip_value=0.01)
    )
    wrapper.backward(100 * _loss(model, inputs, targets))
    wrapper.step()
    assert max(p.grad.abs().max().item() for p in model.parameters()) == pytest.approx(0.01)


@pytest.mark.parametrize(
    "clip_grad, message",
    [
        (dict(max_norm=1, typo=2), "unknown keys \\['typo'\\]"),
        (dict(type="value"), "needs 'clip_value'"),
        (dict(type="l2", max_norm=1), "must be 'norm' or 'value'"),
    ],
)
def test_bad_clip_grad_is_a_config_error(clip_grad, message):
    with pytest.raises(ConfigError, match=message):
        OptimWrapper(torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), clip_grad=clip_grad)


def test_optim_context_skips_gradient_sync_on_accumulating_iterations():
    entered = []

    class FakeDDP(nn.Linear):
        @contextlib.contextmanager
        def no_sync(self):
            entered.append(True)
            yield

    model = FakeDDP(2, 1)
    wrapper = OptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), accumulative_counts=3)
    synced = []
    for _ in range(6):
        before = len(entered)
        with wrapper.optim_context(model):
            loss = model(torch.ones(1, 2)).sum()
        wrapper.update_params(loss)
        synced.append(len(entered) == before)
    assert synced == [False, False, True, False, False, True]


def test_amp_bfloat16_on_cpu_autocasts_and_keeps_float32_parameters():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Linear(16, 32), nn.ReLU(), nn.Linear(32, 4))
    wrapper = AmpOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), dtype="bfloat16")
    assert wrapper.loss_scaler is None
    inputs, targets = torch.randn(64, 16), torch.randint(0, 4, (64,))
    losses = []
    for _ in range(20):
        with wrapper.optim_context(model):
            logits = model(inputs)
            loss = nn.functional.cross_entropy(logits, targets)
        assert logits.dtype == torch.bfloat16
        wrapper.update_params(loss)
        losses.append(loss.item())
    assert all(p.dtype == torch.float32 for p in model.parameters())
    assert losses[-1] < losses[0]


def test_amp_float16_scaler_skips_overflowing_steps_and_saves_its_state():
    model = nn.Linear(3, 1)
    wrapper = AmpOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), dtype="float16")
    assert wrapper.state_dict()["loss_scaler"]["scale"] == 65536.0
    before = _params(model)
    wrapper.update_params(model(torch.ones(1, 3)).sum() * 1e35)  # scaled gradients overflow
    assert all(torch.equal(a, b) for a, b in zip(before, _params(model)))
    state = wrapper.state_dict()
    assert state["loss_scaler"]["scale"] == 32768.0
    other = AmpOptimWrapper(torch.optim.SGD(nn.Linear(3, 1).parameters(), lr=0.1), dtype="float16")
    other.load_state_dict(state)
    assert other.loss_scaler.get_scale() == 32768.0
    wrapper.update_params(model(torch.ones(1, 3)).sum())
    assert not torch.equal(before[0], model.weight)


def test_amp_rejects_an_unknown_dtype():
    with pytest.raises(ConfigError, match="dtype must be 'float16' or 'bfloat16'"):
        AmpOptimWrapper(torch.optim.SGD(nn.Linear(2, 2).parameters(), lr=0.1), dtype="float8")


def test_get_lr_reports_group_zero_and_differing_groups():
    model = nn.Sequential(nn.Linear(2, 2), nn.Linear(2, 2))
    optimizer = torch.optim.SGD(
        [{"params": model[0].parameters()}, {"params": model[1].parameters(), "lr": 0.5}],
        lr=0.1,
        momentum=0.9,
    )
    wrapper = OptimWrapper(optimizer)
    assert wrapper.get_lr() == {"lr": 0.1, "lr/group1": 0.5}
    assert wrapper.get_momentum() == {"momentum": 0.9, "momentum/group1": 0.9}


@pytest.mark.parametrize("native", [True, False])
def test_amp_default_dtype_falls_back_to_float32_on_cpus_without_native_bfloat16(native, monkeypatch):
    """dtype=None: bfloat16 autocast where oneDNN runs it natively, float32 elsewhere (emulated bfloat16
    is 5-25x slower); an explicit dtype='bfloat16' is always honoured."""
    from visionstack.engine import optim_wrapper as module

    monkeypatch.setattr(module, "native_cpu_bfloat16", lambda: native)
    model = nn.Linear(4, 3)
    for dtype, expected in (
        (None, torch.bfloat16 if native else torch.float32),
        ("bfloat16", torch.bfloat16),
    ):
        wrapper = AmpOptimWrapper(torch.optim.SGD(model.parameters(), lr=0.1), dtype=dtype)
        with wrapper.optim_context(model):
            assert model(torch.randn(2, 4)).dtype == expected
