"""The lifters: VideoPose3D's published sizes, its strided and dilated forms agreeing (one frame per window),
causality, the simple-baseline MLP and its max-norm constraint, PoseLifter's modes, gradients, flips and
state dicts."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.registry import MODELS, build
from visionstack.structures import DataSample, InstanceData
from visionstack.tasks.pose.lifting.lifter import PoseLifter
from visionstack.tasks.pose.lifting.sequences import pad_edges, window_padding
from visionstack.tasks.pose.lifting.simple_baseline import SimpleBaselineMLP
from visionstack.tasks.pose.lifting.temporal_conv import TemporalConvNet


def _count(module: torch.nn.Module) -> int:
    return sum(p.numel() for p in module.parameters())


def test_published_sizes():
    # Pavllo et al. 2019, Table 5: 8.56M parameters (27 frames), 16.95M (243 frames); Martinez et al. 2017: 4-5M
    assert TemporalConvNet(filter_widths=(3, 3, 3), channels=1024).receptive_field == 27
    assert _count(TemporalConvNet(filter_widths=(3, 3, 3), channels=1024)) == 8_555_571
    assert TemporalConvNet(filter_widths=(3, 3, 3, 3, 3), channels=1024).receptive_field == 243
    assert _count(TemporalConvNet(filter_widths=(3, 3, 3, 3, 3), channels=1024)) == 16_952_371
    assert _count(SimpleBaselineMLP(channels=1024)) == 4_293_680
    assert TemporalConvNet(filter_widths=(3, 3, 3)).dilations == [3, 9]


@pytest.mark.parametrize("causal", [False, True])
@pytest.mark.parametrize("widths", [(3, 3, 3), (3, 5), (3, 3, 3, 3, 3)])
def test_dense_form_gives_the_strided_window_of_every_frame(widths, causal):
    torch.manual_seed(0)
    net = TemporalConvNet(filter_widths=widths, channels=16, causal=causal).eval()
    for bn in (m for m in net.modules() if isinstance(m, torch.nn.BatchNorm1d)):  # non-trivial statistics
        bn.running_mean.uniform_(-0.2, 0.2)
        bn.running_var.uniform_(0.5, 1.5)
    rf = net.receptive_field
    x = torch.randn(2, rf + 4, 17, 2, dtype=torch.float64)
    net = net.double()
    dense = net(x)
    assert dense.shape == (2, 5, 17, 3)
    windows = torch.stack([net(x[:, t : t + rf], dense=False)[:, 0] for t in range(5)], dim=1)
    torch.testing.assert_close(dense, windows, rtol=1e-10, atol=1e-10)


def test_causal_lifter_with_its_padding_never_sees_the_future():
    for causal in (True, False):
        model = _lifter(dict(type="TemporalConvNet", filter_widths=(3, 3), channels=8, causal=causal)).eval()
        before, after = window_padding(model.receptive_field, causal)
        sequence = np.random.default_rng(4).normal(size=(30, 17, 2)).astype(np.float32)
        changed = sequence.copy()
        changed[20:] += 1.0  # the future from frame 20 on
        out, out_changed = (
            model(torch.from_numpy(pad_edges(s, before, after))[None]) for s in (sequence, changed)
        )
        assert out.shape[1] == 30
        first_affected = 20 if causal else 20 - 4  # a centred 9-frame window sees 4 frames ahead
        torch.testing.assert_close(out[:, :first_affected], out_changed[:, :first_affected])
        assert not torch.allclose(out[:, first_affected], out_changed[:, first_affected])
    assert TemporalConvNet(filter_widths=(3, 3), causal=True).causal_shift == [3]


def test_mlp_is_per_frame_and_max_norm_holds_after_training_steps():
    torch.manual_seed(2)
    net = SimpleBaselineMLP(channels=32, max_norm=1.0)
    optimizer = torch.optim.SGD(net.parameters(), lr=5.0)
    for _ in range(3):
        optimizer.zero_grad()
        net(torch.randn(8, 1, 17, 2)).square().mean().backward()
        optimizer.step()
    net.train()(torch.randn(4, 1, 17, 2))  # the constraint is applied at the start of a training forward
    for module in net.modules():
        if isinstance(module, torch.nn.Linear):
            assert module.weight.norm(dim=1).max() <= 1.0 + 1e-6
    net.eval()
    x = torch.randn(2, 5, 17, 2)
    torch.testing.assert_close(net(x)[:, 3], net(x[:, 3:4])[:, 0])


def _lifter(backbone: dict, **kwargs) -> PoseLifter:
    torch.manual_seed(3)
    return build(dict(type="PoseLifter", backbone=backbone, **kwargs), MODELS)


def _samples(frames: int, count: int = 2) -> list[DataSample]:
    samples = []
    for index in range(count):
        sample = DataSample(metainfo={"img_path": f"seq{index}.npz", "num_frames": frames})
        joints = torch.randn(frames, 17, 3) * 300
        sample.gt_instances = InstanceData(keypoints=joints - joints[:, :1])
        samples.append(sample)
    return samples


@pytest.mark.parametrize(
    "backbone",
    [
        dict(type="TemporalConvNet", filter_widths=(3, 3), channels=16),
        dict(type="SimpleBaselineMLP", channels=16),
    ],
)
def test_lifter_modes_and_every_parameter_gets_a_gradient(backbone):
    model = _lifter(backbone).train()
    rf = model.receptive_field
    losses = model(torch.randn(2, rf, 17, 2), _samples(1), mode="loss")
    assert set(losses) == {"loss", "mpjpe_mm"} and losses["mpjpe_mm"] > 50
    losses["loss"].backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())
    model.eval()
    inputs = torch.randn(2, rf + 6, 17, 2)
    predicted = model(inputs, _samples(5), mode="predict")
    keypoints = predicted[0].pred_instances.keypoints
    assert keypoints.shape == (5, 17, 3) and torch.all(
        keypoints[:, 0] == 0
    )  # root-relative, 5 of 7 frames kept
    assert model(inputs, mode="tensor").shape == (2, 7, 17, 3)
    torch.testing.assert_close(model.export_forward(inputs), model(inputs, mode="tensor"))


def test_test_time_flip_makes_predictions_mirror_equivariant():
    model = _lifter(dict(type="TemporalConvNet", filter_widths=(3, 3), channels=16), test_flip=True).eval()
    x = torch.randn(1, 12, 17, 2)
    mirrored_input = model._flip(x)
    torch.testing.assert_close(model._flip(model(x)), model(mirrored_input), rtol=1e-5, atol=1e-4)
    plain = _lifter(dict(type="TemporalConvNet", filter_widths=(3, 3), channels=16)).eval()
    assert not torch.allclose(plain._flip(plain(x)), plain(mirrored_input), atol=1e-3)


def test_state_dict_round_trip_and_the_papers_key_names():
    model = _lifter(dict(type="TemporalConvNet", filter_widths=(3, 3, 3), channels=16))
    keys = set(model.backbone.state_dict())
    assert {
        "expand_conv.weight",
        "expand_bn.running_mean",
        "layers_conv.3.weight",
        "layers_bn.3.bias",
        "shrink.bias",
    } <= keys
    other = _lifter(dict(type="TemporalConvNet", filter_widths=(3, 3, 3), channels=16))
    for parameter in other.parameters():
        parameter.data.normal_()
    other.load_state_dict(model.state_dict())
    x = torch.randn(1, 30, 17, 2)
    torch.testing.assert_close(other.eval()(x), model.eval()(x))


def test_lifter_errors_name_the_receptive_field():
    model = _lifter(dict(type="TemporalConvNet", filter_widths=(3, 3, 3), channels=8))
    with pytest.raises(ValueError, match="receptive field 27"):
        model(torch.randn(1, 10, 17, 2), mode="tensor")
    with pytest.raises(ValueError, match="target frames"):
        model(torch.randn(2, 29, 17, 2), _samples(1), mode="loss")
    with pytest.raises(ValueError, match="odd"):
        TemporalConvNet(filter_widths=(2, 3))
