"""Denoising networks: shapes on odd sizes, the padding rule, layer norm, parameter counts, gradients, overfit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F

from visionstack.tasks.editing.models.denoise import LayerNorm2d, NAFNet, UNetDenoiser, pad_to_multiple


def _small_unet(**kwargs) -> UNetDenoiser:
    return UNetDenoiser(in_channels=3, base_channels=8, depth=2, **kwargs)


def _small_nafnet() -> NAFNet:
    return NAFNet(img_channels=3, mid_channels=8, middle_blk_num=1, enc_blk_nums=(1, 1), dec_blk_nums=(1, 1))


@pytest.mark.parametrize("size", [(7, 9), (16, 12), (3, 5), (1, 2)])
def test_output_keeps_the_input_size(size):
    torch.manual_seed(0)
    x = torch.rand(2, 3, *size)
    for net in (_small_unet(), _small_nafnet(), UNetDenoiser(base_channels=4, depth=3)):
        out = net(x)
        assert out.shape == x.shape, type(net).__name__
        assert torch.isfinite(out).all()


def test_pad_to_multiple_reflects_and_falls_back_to_replicate():
    x = torch.arange(12.0).view(1, 1, 3, 4)
    padded = pad_to_multiple(x, 4)
    assert padded.shape == (1, 1, 4, 4)
    torch.testing.assert_close(padded[0, 0, 3], x[0, 0, 1])  # reflect: row 3 mirrors row 1
    tiny = pad_to_multiple(x, 8)  # 5 rows of padding do not fit a 3-row reflection
    assert tiny.shape == (1, 1, 8, 8)
    torch.testing.assert_close(tiny[0, 0, 7, :4], x[0, 0, 2])
    assert pad_to_multiple(x, 1) is x


def test_unet_output_equals_its_run_on_the_image_padded_by_its_rule():
    # the contract tiling relies on: the net pads bottom/right to 2 ** depth (reflect) and crops back
    torch.manual_seed(0)
    net = _small_unet()
    x = torch.rand(1, 3, 10, 13)
    padded = F.pad(x, (0, 3, 0, 2), mode="reflect")
    torch.testing.assert_close(net(x), net(padded)[..., :10, :13])


def test_residual_unet_predicts_the_noise():
    net = _small_unet()
    with torch.no_grad():
        net.conv_last.weight.zero_()
        net.conv_last.bias.fill_(0.25)  # a constant noise estimate
    x = torch.rand(1, 3, 9, 7)
    torch.testing.assert_close(net(x), x - 0.25)
    plain = _small_unet(residual=False)
    with torch.no_grad():
        plain.conv_last.weight.zero_()
        plain.conv_last.bias.fill_(0.25)
    torch.testing.assert_close(plain(x), torch.full_like(x, 0.25))


def test_layer_norm_2d_equals_layer_norm_over_channels():
    torch.manual_seed(0)
    norm = LayerNorm2d(5)
    with torch.no_grad():
        norm.weight.uniform_(0.5, 1.5)
        norm.bias.uniform_(-1, 1)
    x = torch.randn(2, 5, 4, 3) * 3 + 1
    expected = F.layer_norm(x.permute(0, 2, 3, 1), (5,), norm.weight, norm.bias, eps=1e-6).permute(0, 3, 1, 2)
    torch.testing.assert_close(norm(x), expected)


def test_nafnet_parameter_count_and_names():
    def block(c: int) -> int:
        # conv1 c->2c, depthwise 3x3 on 2c, conv3 c->c, sca c->c, conv4 c->2c, conv5 c->c, two norms, beta, gamma
        return (
            (2 * c * c + 2 * c) + (2 * c * 9 + 2 * c) + (c * c + c) * 3 + (2 * c * c + 2 * c) + 4 * c + 2 * c
        )

    width, levels = 16, 4
    expected = 2 * (3 * width * 9) + width + 3  # intro and ending
    for level in range(levels):
        c = width * 2**level
        expected += 2 * block(c) + (c * 2 * c * 4 + 2 * c) + (2 * c * 4 * c)  # enc + dec block, down, up
    expected += block(width * 2**levels)
    net = NAFNet()
    assert sum(p.numel() for p in net.parameters()) == expected == 1_137_203
    keys = set(net.state_dict())
    assert {
        "intro.weight",
        "ending.bias",
        "encoders.0.0.sca.1.weight",
        "ups.3.0.weight",
        "middle_blks.0.beta",
    } <= keys
    assert "downs.3.weight" in keys and "ups.0.0.bias" not in keys


def test_nafnet_rejects_unbalanced_levels():
    with pytest.raises(ValueError, match="as many levels"):
        NAFNet(enc_blk_nums=(1, 1), dec_blk_nums=(1,))


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    for net in (_small_unet(), _small_nafnet()):
        for name, param in net.named_parameters():
            if name.endswith(
                ("beta", "gamma")
            ):  # zero at start: they would block the gradient of their branch
                param.data.fill_(0.1)
        net(torch.rand(2, 3, 9, 11)).square().mean().backward()
        for name, param in net.named_parameters():
            assert param.grad is not None and param.grad.abs().sum() > 0, f"{type(net).__name__}.{name}"


@pytest.mark.parametrize(("make_net", "steps"), [(_small_unet, 250), (_small_nafnet, 120)])
def test_denoiser_overfits_one_noisy_image(make_net, steps):
    torch.manual_seed(0)
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        net = make_net()
        yy, xx = torch.meshgrid(torch.arange(24.0), torch.arange(24.0), indexing="ij")
        clean = (torch.stack([xx / 24, yy / 24, ((xx // 6 + yy // 6) % 2) * 0.6 + 0.2])[None]).clamp(0, 1)
        noisy = clean + torch.randn(clean.shape, generator=torch.Generator().manual_seed(1)) * 0.1
        optimizer = torch.optim.Adam(net.parameters(), lr=2e-3)
        noise_mse = F.mse_loss(noisy, clean).item()
        for _ in range(steps):
            loss = F.mse_loss(net(noisy), clean)
            optimizer.zero_grad()
            loss.backward()
            optimizer.step()
    finally:
        torch.set_num_threads(threads)
    assert loss.item() < 0.3 * noise_mse
