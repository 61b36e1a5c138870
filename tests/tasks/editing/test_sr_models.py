"""Super-resolution networks: shapes, published parameter counts, layouts, gradients, a short overfit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from visionstack.tasks.editing.models.sr import EDSRNet, ESPCNNet, RRDBNet, SRCNNNet


def _num_params(net: torch.nn.Module) -> int:
    return sum(p.numel() for p in net.parameters())


def _conv(cin: int, cout: int, k: int = 3) -> int:
    return cin * cout * k * k + cout


def _small_nets(scale: int) -> list[torch.nn.Module]:
    nets = [
        SRCNNNet(channels=(3, 8, 4, 3), kernel_sizes=(5, 1, 3), upscale_factor=scale),
        ESPCNNet(3, 3, mid_channels=8, upscale_factor=scale),
        EDSRNet(mid_channels=8, num_blocks=2, upscale_factor=scale),
    ]
    if scale in (2, 4):
        nets.append(RRDBNet(mid_channels=8, num_blocks=1, growth_channels=4, upscale_factor=scale))
    return nets


@pytest.mark.parametrize("scale", [2, 3, 4])
@pytest.mark.parametrize("size", [(7, 9), (8, 8), (5, 11)])
def test_output_is_scale_times_the_input_for_any_size(scale, size):
    torch.manual_seed(0)
    x = torch.rand(2, 3, *size)
    for net in _small_nets(scale):
        out = net(x)
        assert out.shape == (2, 3, size[0] * scale, size[1] * scale), type(net).__name__
        assert torch.isfinite(out).all()


def test_rrdbnet_x1_folds_by_four_and_crops_back():
    net = RRDBNet(mid_channels=8, num_blocks=1, growth_channels=4, upscale_factor=1)
    assert net.conv_first.in_channels == 48  # pixel_unshuffle(4) of 3 channels
    assert net(torch.rand(1, 3, 9, 6)).shape == (1, 3, 9, 6)
    with pytest.raises(ValueError, match="1, 2 or 4"):
        RRDBNet(upscale_factor=3)


def test_edsr_parameter_counts_equal_the_architecture_arithmetic():
    # conv_first 3->64, 16 blocks of two 64->64 convs, conv_after_body, the up-sampler, conv_last 64->3
    # (EDSR baseline, Lim et al. 2017: "1.5M" parameters for x4; 1,369,859 for x2 with 3-channel I/O)
    trunk = _conv(3, 64) + 16 * 2 * _conv(64, 64) + _conv(64, 64) + _conv(64, 3)
    expected = {2: trunk + _conv(64, 256), 3: trunk + _conv(64, 576), 4: trunk + 2 * _conv(64, 256)}
    assert expected[2] == 1_369_859
    for scale, count in expected.items():
        assert _num_params(EDSRNet(upscale_factor=scale)) == count


def test_rrdbnet_has_esrgan_parameter_count_and_mmagic_keys():
    net = RRDBNet()  # ESRGAN x4: 64 channels, 23 RRDB, growth 32
    assert _num_params(net) == 16_697_987
    keys = set(net.state_dict())
    assert {
        "conv_first.weight",
        "conv_body.bias",
        "conv_up1.weight",
        "conv_up2.weight",
        "conv_hr.weight",
    } <= keys
    assert "body.22.rdb3.conv5.weight" in keys and "body.23.rdb1.conv1.weight" not in keys
    assert net.body[0].rdb1.conv5.weight.shape == (64, 64 + 4 * 32, 3, 3)
    assert len(keys) == 2 * (2 + 23 * 3 * 5 + 4)


def test_edsr_state_dict_layout_and_mean_shift():
    net = EDSRNet(mid_channels=8, num_blocks=2, upscale_factor=4)
    keys = set(net.state_dict())
    assert {"body.1.conv2.weight", "upsample.0.upsample_conv.weight", "upsample.1.upsample_conv.bias"} <= keys
    assert not any(key.startswith(("mean", "std")) for key in keys)  # constants, as in MMagic checkpoints
    with torch.no_grad():
        net.conv_last.weight.zero_()
        net.conv_last.bias.zero_()
    out = net(torch.rand(1, 3, 4, 5))
    expected = torch.tensor([0.4488, 0.4371, 0.4040]).view(1, 3, 1, 1).expand(1, 3, 16, 20)
    torch.testing.assert_close(out, expected)


def test_srcnn_upsamples_with_pytorch_bicubic():
    net = SRCNNNet(channels=(3, 3, 3, 3), kernel_sizes=(1, 1, 1), upscale_factor=3)
    with torch.no_grad():
        for conv in (net.conv1, net.conv2, net.conv3):
            conv.weight.copy_(torch.eye(3).view(3, 3, 1, 1))
            conv.bias.fill_(10.0)  # keeps every value positive through the ReLUs
    x = torch.rand(1, 3, 5, 6)
    expected = F.interpolate(x, scale_factor=3, mode="bicubic", align_corners=False) + 30.0
    torch.testing.assert_close(net(x), expected)


def test_espcn_matches_a_hand_written_reference():
    torch.manual_seed(1)
    net = ESPCNNet(3, 3, mid_channels=6, upscale_factor=2)
    x = torch.rand(1, 3, 4, 5)
    y = torch.tanh(F.conv2d(x, net.conv1.weight, net.conv1.bias, padding=2))
    y = torch.tanh(F.conv2d(y, net.conv2.weight, net.conv2.bias, padding=1))
    y = F.conv2d(y, net.conv3.weight, net.conv3.bias, padding=1)  # (1, 3 * 4, 4, 5)
    # sub-pixel shuffle: channel c * 4 + i * 2 + j goes to output pixel (2 y + i, 2 x + j) of channel c
    expected = y.view(1, 3, 2, 2, 4, 5).permute(0, 1, 4, 2, 5, 3).reshape(1, 3, 8, 10)
    torch.testing.assert_close(net(x), expected)


@pytest.mark.parametrize("scale", [2, 3])
def test_gradients_reach_every_parameter(scale):
    torch.manual_seed(0)
    for net in _small_nets(scale):
        net(torch.rand(1, 3, 6, 7)).square().mean().backward()
        for name, param in net.named_parameters():
            assert param.grad is not None and param.grad.abs().sum() > 0, f"{type(net).__name__}.{name}"


def test_edsr_overfits_one_patch():
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net = EDSRNet(mid_channels=16, num_blocks=2, upscale_factor=2)
        yy, xx = torch.meshgrid(torch.arange(32.0), torch.arange(32.0), indexing="ij")
        gt = torch.stack([torch.sin(xx / 3), torch.cos(yy / 4), torch.sin((xx + yy) / 5)])[None] * 0.4 + 0.5
        lq = F.avg_pool2d(gt, 2)
        optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
        first = None
        for _ in range(150):
            loss = (net(lq) - gt).abs().mean()
            first = first if first is not None else loss.item()
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
        bilinear = (F.interpolate(lq, scale_factor=2, mode="bilinear", align_corners=False) - gt).abs().mean()
    finally:
        torch.set_num_threads(threads)
    assert loss.item() < 0.25 * first
    assert loss.item() < bilinear.item()
