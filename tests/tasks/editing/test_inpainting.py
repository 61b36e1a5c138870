"""Inpainting: gated convolutions, the encoder-decoder, the masked losses and the Inpaintor's modes."""

from __future__ import annotations

import time

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visionstack.engine import OptimWrapper
from visionstack.structures import DataSample, PixelData
from visionstack.tasks.editing.models.inpainting import (
    GatedConv2d,
    GatedConvEncoderDecoder,
    GatedConvUNet,
    Inpaintor,
    MaskedTVLoss,
    masked_input,
)
from visionstack.tasks.editing.models.losses import L1Loss


@pytest.fixture(autouse=True)
def one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _image(height: int, width: int, seed: int = 0) -> torch.Tensor:
    """A smooth uint8 (3, H, W) BGR image (gradients + a sine), different per channel."""
    y, x = np.mgrid[0:height, 0:width].astype(np.float64)
    rng = np.random.default_rng(seed)
    channels = [
        127 + 100 * np.sin(x / (3 + c) + rng.uniform(0, 3)) * np.cos(y / (4 + c)) + 20 * (x / width - 0.5)
        for c in range(3)
    ]
    return torch.from_numpy(np.clip(np.round(np.stack(channels)), 0, 255).astype(np.uint8))


def _mask(height: int, width: int, box: tuple[int, int, int, int]) -> torch.Tensor:
    """uint8 (1, H, W) with a hole (1) in the box (y0, y1, x0, x1)."""
    mask = torch.zeros(1, height, width, dtype=torch.uint8)
    y0, y1, x0, x1 = box
    mask[:, y0:y1, x0:x1] = 1
    return mask


def _batch(images, masks, with_gt: bool = False) -> dict:
    samples = []
    for index, (image, mask) in enumerate(zip(images, masks)):
        sample = DataSample(metainfo={"img_path": f"img{index}.png", "sample_idx": index})
        sample.mask = PixelData(data=mask)
        if with_gt:
            sample.gt_img = PixelData(data=image.clone())
        samples.append(sample)
    return {"inputs": list(images), "data_samples": samples}


def _model(base_channels: int = 4, **kwargs) -> Inpaintor:
    torch.manual_seed(0)
    return Inpaintor(GatedConvEncoderDecoder(base_channels=base_channels), **kwargs)


class ConstantGenerator(nn.Module):
    """Outputs one RGB colour everywhere (in [-1, 1] units), with a parameter so losses have a graph."""

    def __init__(self, rgb: tuple[float, float, float]) -> None:
        super().__init__()
        self.rgb = nn.Parameter(torch.tensor(rgb).view(1, 3, 1, 1))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return self.rgb.expand(x.shape[0], 3, *x.shape[-2:])


# ---- the layers -----------------------------------------------------------------------------------


def test_gated_conv_is_elu_feature_times_sigmoid_gate():
    torch.manual_seed(1)
    layer = GatedConv2d(3, 5, kernel_size=3, dilation=2)
    x = torch.randn(2, 3, 9, 11, dtype=torch.float64)
    layer = layer.double()
    weight, bias = layer.conv.weight, layer.conv.bias
    feature = F.conv2d(x, weight[:5], bias[:5], padding=2, dilation=2)
    gate = F.conv2d(x, weight[5:], bias[5:], padding=2, dilation=2)
    expected = F.elu(feature) * torch.sigmoid(gate)
    torch.testing.assert_close(layer(x), expected, rtol=0, atol=1e-12)
    plain = GatedConv2d(3, 5, activation=None).double()
    f, g = plain.conv(x).chunk(2, dim=1)
    torch.testing.assert_close(plain(x), f * torch.sigmoid(g))
    assert GatedConv2d(3, 4, stride=2)(torch.randn(1, 3, 9, 10)).shape == (1, 4, 5, 5)
    with pytest.raises(ValueError, match="activation"):
        GatedConv2d(3, 4, activation="relu")


def _gated_params(i: int, o: int, k: int = 3) -> int:
    return i * 2 * o * k * k + 2 * o


@pytest.mark.parametrize("c", [4, 32])
def test_encoder_decoder_parameter_count(c):
    # encoder: 5x5 (4->c), c->2c s2, 2c->2c, 2c->4c s2, 4c->4c x2; neck: 4 dilated 4c->4c;
    # decoder: 4c->4c x2, up 4c->2c, 2c->2c, up 2c->c, c->c/2, plain conv c/2->3
    expected = (
        _gated_params(4, c, 5)
        + _gated_params(c, 2 * c)
        + _gated_params(2 * c, 2 * c)
        + _gated_params(2 * c, 4 * c)
        + 2 * _gated_params(4 * c, 4 * c)
        + 4 * _gated_params(4 * c, 4 * c)
        + 2 * _gated_params(4 * c, 4 * c)
        + _gated_params(4 * c, 2 * c)
        + _gated_params(2 * c, 2 * c)
        + _gated_params(2 * c, c)
        + _gated_params(c, c // 2)
        + (c // 2) * 3 * 9
        + 3
    )
    net = GatedConvEncoderDecoder(base_channels=c)
    assert sum(p.numel() for p in net.parameters()) == expected
    if c == 32:
        assert expected == 2_894_419


@pytest.mark.parametrize("size", [(16, 16), (13, 21), (7, 9)])
def test_encoder_decoder_any_size_range_and_gradients(size):
    torch.manual_seed(0)
    net = GatedConvEncoderDecoder(base_channels=4)
    x = masked_input(torch.randn(2, 3, *size), (torch.rand(2, 1, *size) > 0.5).float())
    out = net(x)
    assert out.shape == (2, 3, *size)
    assert out.abs().max() <= 1.0
    out.square().mean().backward()
    missing = [name for name, p in net.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_padding_inside_the_net_does_not_shift_the_image():
    """A size that needs padding gives, on the common pixels, the same values as the padded input does
    (the pad is at the bottom and right; nothing moves)."""
    torch.manual_seed(0)
    net = GatedConvEncoderDecoder(base_channels=4).eval()
    x = torch.randn(1, 4, 13, 18)
    padded = F.pad(x, (0, 2, 0, 3), mode="replicate")
    torch.testing.assert_close(net(x), net(padded)[..., :13, :18])


def test_masked_input_zeroes_the_hole_and_appends_the_mask():
    image = torch.randn(2, 3, 5, 6)
    mask = (torch.rand(2, 1, 5, 6) > 0.5).float()
    x = masked_input(image, mask)
    assert x.shape == (2, 4, 5, 6)
    assert torch.equal(x[:, 3:], mask)
    assert torch.equal(x[:, :3][mask.expand(-1, 3, -1, -1) == 1], torch.zeros(int(mask.sum()) * 3))
    assert torch.equal(x[:, :3][mask.expand(-1, 3, -1, -1) == 0], image[mask.expand(-1, 3, -1, -1) == 0])


# ---- losses ---------------------------------------------------------------------------------------


def _tv_reference(pred: np.ndarray, region: np.ndarray, weight: float) -> float:
    """Mean |horizontal| + mean |vertical| differences over pairs with both pixels in the region."""
    n, c, h, w = pred.shape
    dx, dy = [], []
    for b in range(n):
        for ch in range(c):
            for i in range(h):
                for j in range(w):
                    if j + 1 < w and region[b, 0, i, j] and region[b, 0, i, j + 1]:
                        dx.append(abs(pred[b, ch, i, j + 1] - pred[b, ch, i, j]))
                    if i + 1 < h and region[b, 0, i, j] and region[b, 0, i + 1, j]:
                        dy.append(abs(pred[b, ch, i + 1, j] - pred[b, ch, i, j]))
    return weight * (np.mean(dx) + np.mean(dy))


def test_masked_tv_loss_equals_a_loop_and_its_gradient_stays_in_the_region():
    torch.manual_seed(0)
    pred = torch.randn(2, 3, 7, 8, dtype=torch.float64, requires_grad=True)
    region = torch.zeros(2, 1, 7, 8, dtype=torch.float64)
    region[0, :, 1:5, 2:6] = 1
    region[1, :, 3:7, 0:3] = 1
    loss = MaskedTVLoss(loss_weight=0.1)(pred, region)
    assert loss.item() == pytest.approx(_tv_reference(pred.detach().numpy(), region.numpy(), 0.1), rel=1e-12)
    loss.backward()
    outside = region.expand_as(pred) == 0
    assert torch.all(pred.grad[outside] == 0)
    assert (pred.grad[~outside] != 0).float().mean() > 0.9  # a few may cancel exactly (|a - b| = |b - c|)
    empty = MaskedTVLoss()(pred, torch.zeros_like(region))
    assert empty.item() == 0.0 and empty.requires_grad


def _loss_inputs():
    torch.manual_seed(0)
    output = torch.rand(2, 3, 10, 12, dtype=torch.float64) * 2 - 1
    target = torch.rand(2, 3, 10, 12, dtype=torch.float64) * 2 - 1
    mask = torch.zeros(2, 1, 10, 12, dtype=torch.float64)
    mask[0, :, 2:6, 3:8] = 1
    mask[1, :, 5:9, 1:4] = 1
    inside = torch.ones_like(mask)
    inside[1, :, :, 10:] = 0  # sample 1 is 10 x 10, padded to 12 wide
    mask[1, :, :, 10:] = 1  # padding counts as hole in the net's input, but never in a loss
    return output.requires_grad_(True), target, mask, inside


def test_masked_losses_equal_hand_formulas():
    model = _model()
    output, target, mask, inside = _loss_inputs()
    composite = output * mask + target * (1 - mask)
    losses = model.masked_losses(output, composite, target, mask, inside)
    assert set(losses) == {"loss_hole", "loss_valid", "loss_tv"}
    err = (output - target).abs().detach().numpy()
    hole = np.broadcast_to((mask * inside).numpy() == 1, err.shape)
    known = np.broadcast_to(((1 - mask) * inside).numpy() == 1, err.shape)
    assert losses["loss_hole"].item() == pytest.approx(6.0 * err[hole].mean(), rel=1e-12)
    assert losses["loss_valid"].item() == pytest.approx(1.0 * err[known].mean(), rel=1e-12)
    # the TV region: the hole (inside the image) grown by one pixel in 8 directions, inside the image
    hole_map = (mask * inside).numpy()[:, 0]
    region = np.zeros_like(hole_map)
    for b, i, j in zip(*np.nonzero(hole_map)):
        region[b, max(i - 1, 0) : i + 2, max(j - 1, 0) : j + 2] = 1
    region = region[:, None] * inside.numpy()
    expected_tv = _tv_reference(composite.detach().numpy(), region, 0.1)
    assert losses["loss_tv"].item() == pytest.approx(expected_tv, rel=1e-12)


@pytest.mark.parametrize("term", ["loss_hole", "loss_valid"])
def test_each_loss_sees_only_its_region(term):
    model = _model()
    output, target, mask, inside = _loss_inputs()
    composite = output * mask + target * (1 - mask)
    model.masked_losses(output, composite, target, mask, inside)[term].backward()
    region = (mask if term == "loss_hole" else 1 - mask) * inside
    region = region.expand_as(output) == 1
    assert torch.all(output.grad[~region] == 0)  # other pixels and the batch padding: no gradient
    assert torch.all(output.grad[region] != 0)


def test_tv_gradient_reaches_only_hole_pixels_of_the_output():
    model = _model(loss_hole=None)
    output, target, mask, inside = _loss_inputs()
    composite = output * mask + target * (1 - mask)
    model.masked_losses(output, composite, target, mask, inside)["loss_tv"].backward()
    hole = (mask * inside).expand_as(output) == 1
    assert torch.all(output.grad[~hole] == 0)
    assert output.grad[hole].abs().sum() > 0


def test_no_hole_gives_zero_hole_loss_not_nan():
    model = _model()
    data = model.data_preprocessor(_batch([_image(8, 8)], [torch.zeros(1, 8, 8, dtype=torch.uint8)]))
    losses = model(**data, mode="loss")
    assert losses["loss_hole"].item() == 0.0 and losses["loss_tv"].item() == 0.0
    assert torch.isfinite(losses["loss_valid"])


def test_loss_terms_are_optional_and_configurable():
    model = _model(loss_tv=None, loss_valid=dict(loss_weight=2.0))
    data = model.data_preprocessor(_batch([_image(8, 8)], [_mask(8, 8, (2, 5, 2, 5))]))
    losses = model(**data, mode="loss")
    assert set(losses) == {"loss_hole", "loss_valid"}
    assert model.loss_valid.loss_weight == 2.0 and isinstance(model.loss_valid, L1Loss)
    with pytest.raises(ValueError, match="nothing would be trained"):
        _model(loss_hole=None, loss_valid=None)
    assert _model(test_cfg=dict(tile=64)).test_cfg == {"tile": 64}
    with pytest.raises(ValueError, match=r"test_cfg takes tile and approximate only \(got \['flip'\]\)"):
        _model(test_cfg=dict(flip=True))


# ---- the model's modes ----------------------------------------------------------------------------


def test_predict_keeps_known_pixels_exactly_and_fills_holes_in_bgr():
    # red in RGB [-1, 1] units: R = 1, G = B = -1 -> BGR bytes (0, 0, 255) in the hole
    model = Inpaintor(ConstantGenerator((1.0, -1.0, -1.0)))
    images = [_image(12, 16, seed=1), _image(9, 11, seed=2)]
    masks = [_mask(12, 16, (3, 8, 4, 10)), _mask(9, 11, (0, 4, 6, 11))]
    data = model.data_preprocessor(_batch(images, masks))
    samples = model(**data, mode="predict")
    for image, mask, sample in zip(images, masks, samples):
        pred = sample.pred_img.data
        assert pred.dtype == torch.uint8 and pred.shape == image.shape  # cropped back from the padded batch
        known = mask.expand_as(image) == 0
        assert torch.equal(pred[known], image[known])
        hole = mask[0] == 1
        assert torch.equal(
            pred[:, hole], torch.tensor([0, 0, 255], dtype=torch.uint8)[:, None].expand(3, int(hole.sum()))
        )
        assert torch.equal(sample.gt_img.data, image)  # the original image, as the ground truth
        assert torch.equal(sample.mask.data, mask)


def test_predict_keeps_a_given_gt_img():
    model = _model()
    image, other = _image(8, 8, seed=0), _image(8, 8, seed=5)
    batch = _batch([image], [_mask(8, 8, (2, 5, 2, 5))])
    batch["data_samples"][0].gt_img = PixelData(data=other)
    samples = model(**model.data_preprocessor(batch), mode="predict")
    assert torch.equal(samples[0].gt_img.data, other)


def test_the_hole_content_never_reaches_the_network():
    model = _model().eval()
    image = _image(16, 20)
    mask = _mask(16, 20, (4, 12, 5, 15))
    scrambled = image.clone()
    scrambled[:, 4:12, 5:15] = torch.randint(0, 256, (3, 8, 10), dtype=torch.uint8)
    outputs = []
    for img in (image, scrambled):
        data = model.data_preprocessor(_batch([img], [mask]))
        outputs.append(model(**data, mode="tensor"))
    hole = mask.bool().expand(1, 3, 16, 20)
    torch.testing.assert_close(outputs[0][hole], outputs[1][hole], rtol=0, atol=0)


def test_export_forward_equals_tensor_mode_and_composites():
    model = _model().eval()
    image, mask = _image(12, 12), _mask(12, 12, (2, 7, 3, 9))
    data = model.data_preprocessor(_batch([image], [mask]))
    tensor = model(**data, mode="tensor")
    exported = model.export_forward(data["inputs"], mask[None].float())
    torch.testing.assert_close(tensor, exported, rtol=0, atol=0)
    known = (mask[None] == 0).expand_as(tensor)
    assert torch.equal(exported[known], data["inputs"][known])


def test_loss_targets_use_the_gt_img_when_present():
    model = Inpaintor(ConstantGenerator((0.0, 0.0, 0.0)), loss_tv=None)
    image = torch.full((3, 4, 4), 255, dtype=torch.uint8)
    mask = _mask(4, 4, (0, 2, 0, 4))
    losses_input = model(**model.data_preprocessor(_batch([image], [mask])), mode="loss")
    assert losses_input["loss_valid"].item() == pytest.approx(1.0)  # |0 - 1| on the known half
    gt_batch = _batch([image], [mask], with_gt=True)
    gt_batch["data_samples"][0].gt_img = PixelData(data=torch.full((3, 4, 4), 127, dtype=torch.uint8))
    losses_gt = model(**model.data_preprocessor(gt_batch), mode="loss")
    assert losses_gt["loss_valid"].item() == pytest.approx(0.5 / 127.5)
    assert losses_gt["loss_hole"].item() == pytest.approx(6.0 * 0.5 / 127.5)


def test_errors_name_the_image():
    model = _model()
    batch = _batch([_image(8, 8)], [_mask(8, 8, (0, 2, 0, 2))])
    del batch["data_samples"][0].mask
    with pytest.raises(ValueError, match=r"img0\.png: no `mask`"):
        model(**model.data_preprocessor(batch), mode="predict")
    big = _batch([_image(8, 8)], [_mask(9, 8, (0, 2, 0, 2))])
    with pytest.raises(ValueError, match=r"img0\.png: mask of size \(9, 8\)"):
        model(**model.data_preprocessor(big), mode="loss")


def test_builds_from_a_config_and_refuses_the_box_l1_loss():
    from visionstack.registry import MODELS

    cfg = dict(
        type="Inpaintor",
        generator=dict(type="GatedConvEncoderDecoder", base_channels=4),
        loss_hole=dict(type="PixelL1Loss", loss_weight=6.0),
        loss_tv=dict(type="MaskedTVLoss", loss_weight=0.05),
    )
    model = MODELS.build(cfg)
    assert isinstance(model.loss_hole, L1Loss) and model.loss_tv.loss_weight == 0.05
    assert model.task == "inpainting"
    with pytest.raises(TypeError, match="PixelL1Loss"):
        MODELS.build({**cfg, "loss_hole": dict(type="L1Loss", loss_weight=6.0)})


def test_train_step_overfits_one_image():
    """A short overfit on one image and one mask: the hole loss falls a lot (< 15 s)."""
    model = _model(base_channels=8)
    image = _image(32, 32, seed=3)
    batch = _batch([image], [_mask(32, 32, (8, 20, 10, 24))])
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=2e-3))
    first = model.train_step(batch, wrapper)
    start = time.perf_counter()
    while time.perf_counter() - start < 12:
        for _ in range(10):
            last = model.train_step(batch, wrapper)
        if last["loss_hole"] < 0.1 * first["loss_hole"] and last["loss_valid"] < 0.5 * first["loss_valid"]:
            break
    assert set(first) == {"loss", "loss_hole", "loss_valid", "loss_tv"}
    assert last["loss_hole"] < 0.1 * first["loss_hole"], (first, last)
    assert last["loss_valid"] < 0.5 * first["loss_valid"]


def test_pull_push_keeps_known_pixels_and_fills_holes_from_their_surroundings():
    from visionstack.tasks.editing.models.inpainting import pull_push_fill

    generator = torch.Generator().manual_seed(0)
    image = torch.rand(2, 3, 37, 45, generator=generator)
    known = (torch.rand(2, 1, 37, 45, generator=generator) > 0.4).float()
    filled = pull_push_fill(image, known, levels=6)
    assert filled.shape == image.shape
    torch.testing.assert_close(filled * known, image * known)  # known pixels exact
    constant = torch.full((1, 3, 33, 40), 0.7)
    hole = torch.ones(1, 1, 33, 40)
    hole[..., 10:25, 8:30] = 0
    torch.testing.assert_close(pull_push_fill(constant, hole, levels=6), constant)  # a flat image stays flat
    # a left/right split: the hole's left part takes the left colour, its right part the right colour
    split = torch.zeros(1, 1, 32, 64)
    split[..., 32:] = 1.0
    gap = torch.ones(1, 1, 32, 64)
    gap[..., 28:36] = 0
    out = pull_push_fill(split, gap, levels=5)[0, 0]
    assert float(out[:, 28].mean()) < 0.5 < float(out[:, 35].mean())
    assert float(out.min()) >= 0 and float(out.max()) <= 1  # a convex combination of known values


def test_fill_then_refine_starts_from_the_fill_and_keeps_the_generator_weights():
    from visionstack.tasks.editing.models.inpainting import FillThenRefine, pull_push_fill

    class Zero(nn.Module):
        def forward(self, x):
            return torch.zeros_like(x[:, :3])

    image = torch.rand(1, 3, 20, 24) * 2 - 1
    mask = torch.zeros(1, 1, 20, 24)
    mask[..., 5:12, 6:18] = 1
    net = FillThenRefine(Zero(), levels=4)
    out = net(masked_input(image, mask))
    torch.testing.assert_close(out, pull_push_fill(image, 1 - mask, 4))
    model = Inpaintor(GatedConvUNet(base_channels=4, depth=2), fill_levels=4)
    assert all(key.startswith(("generator.", "data_preprocessor.")) for key in model.state_dict())
    assert isinstance(model.network(), FillThenRefine) and model.network().generator is model.generator
