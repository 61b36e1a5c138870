"""The Restorer, its data preprocessor and the pixel losses."""

from __future__ import annotations

import importlib.util

import numpy as np
import pytest
import torch
from torch import nn

from visionstack.engine import OptimWrapper
from visionstack.structures import DataSample, PixelData
from visionstack.tasks.editing.models.data_preprocessor import EditDataPreprocessor
from visionstack.tasks.editing.models.losses import CharbonnierLoss, L1Loss, MSELoss, mask_reduce_loss
from visionstack.tasks.editing.models.restorer import Restorer
from visionstack.tasks.editing.models.sr import EDSRNet

HAS_TILING = importlib.util.find_spec("visionstack.tasks.editing.tiling") is not None


@pytest.fixture
def one_thread():
    """One intra-op thread: deterministic sums, and no oversubscription of the shared cores."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


def _images(num: int, height: int, width: int, seed: int = 0) -> list[torch.Tensor]:
    rng = np.random.default_rng(seed)
    return [torch.from_numpy(rng.integers(0, 256, (3, height, width), dtype=np.uint8)) for _ in range(num)]


def _samples(gts: list[torch.Tensor] | None, num: int, img_shape: tuple[int, int]) -> list[DataSample]:
    samples = []
    for index in range(num):
        sample = DataSample(
            metainfo=dict(img_path=f"lq_{index}.png", gt_path=f"gt_{index}.png", img_shape=img_shape)
        )
        if gts is not None:
            sample.gt_img = PixelData(data=gts[index])
        samples.append(sample)
    return samples


class _SwapRG(nn.Module):
    """Zeroes the first (red, after BGR -> RGB) channel: shows which channel ends where."""

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return torch.cat([torch.zeros_like(x[:, :1]), x[:, 1:]], 1)


# ---- losses ---------------------------------------------------------------------------------------


def test_losses_without_weight_equal_the_formulas():
    torch.manual_seed(0)
    pred, target = torch.randn(2, 3, 4, 5), torch.randn(2, 3, 4, 5)
    diff = pred - target
    torch.testing.assert_close(L1Loss(loss_weight=2.0)(pred, target), 2.0 * diff.abs().mean())
    torch.testing.assert_close(MSELoss()(pred, target), (diff**2).mean())
    torch.testing.assert_close(MSELoss(reduction="sum")(pred, target), (diff**2).sum())
    torch.testing.assert_close(CharbonnierLoss(eps=1e-3)(pred, target), torch.sqrt(diff**2 + 1e-3).mean())
    torch.testing.assert_close(L1Loss(reduction="none")(pred, target), diff.abs())


def test_masked_mean_is_over_the_weighted_pixels():
    pred = torch.zeros(2, 3, 2, 2)
    target = torch.arange(24.0).view(2, 3, 2, 2)
    mask = torch.zeros(2, 1, 2, 2)
    mask[0, 0, 0, 0] = 1  # image 0: one hole pixel
    mask[1, 0, :, 1] = 1  # image 1: two hole pixels
    # hand values: image 0's hole holds 0, 4, 8; image 1's holds 13, 15, 17, 19, 21, 23
    assert L1Loss()(pred, target, mask).item() == pytest.approx((0 + 4 + 8 + 13 + 15 + 17 + 19 + 21 + 23) / 9)
    sample_wise = L1Loss(sample_wise=True)(pred, target, mask).item()
    assert sample_wise == pytest.approx(((0 + 4 + 8) / 3 + (13 + 15 + 17 + 19 + 21 + 23) / 6) / 2)
    assert L1Loss(reduction="sum")(pred, target, mask).item() == pytest.approx(120.0)
    assert L1Loss()(pred, target, torch.zeros(2, 1, 2, 2)).item() == 0.0  # an empty mask is 0, not NaN


def test_masked_loss_ignores_pixels_outside_the_mask():
    pred = torch.randn(1, 3, 4, 4, requires_grad=True)
    mask = torch.zeros(1, 1, 4, 4)
    mask[..., 1:3, 1:3] = 1
    CharbonnierLoss()(pred, torch.zeros(1, 3, 4, 4), mask).backward()
    assert (pred.grad[..., 0, :] == 0).all() and (pred.grad[..., 1:3, 1:3] != 0).all()


def test_loss_errors_name_the_shapes():
    with pytest.raises(ValueError, match=r"\(1, 3, 2, 2\).*\(1, 3, 2, 3\)"):
        L1Loss()(torch.zeros(1, 3, 2, 2), torch.zeros(1, 3, 2, 3))
    with pytest.raises(ValueError, match="weight"):
        mask_reduce_loss(torch.zeros(1, 3, 2, 2), torch.ones(1, 2, 2, 2))
    with pytest.raises(ValueError, match="reduction"):
        MSELoss(reduction="avg")


# ---- the data preprocessor ------------------------------------------------------------------------


@pytest.mark.parametrize(("mean", "std"), [((0.0,) * 3, (255.0,) * 3), ((127.5,) * 3, (127.5,) * 3)])
def test_to_image_inverts_normalize_gt(mean, std):
    preprocessor = EditDataPreprocessor(mean=mean, std=std)
    gt = torch.stack(_images(2, 5, 7))
    normalised = preprocessor.normalize_gt(gt)
    assert normalised.dtype == torch.float32
    assert normalised.min() >= (0 - mean[0]) / std[0] and normalised.max() <= (255 - mean[0]) / std[0]
    assert torch.equal(preprocessor.to_image(normalised), gt)


def test_channel_order_and_rounding():
    preprocessor = EditDataPreprocessor()
    gt = torch.zeros(1, 3, 1, 1, dtype=torch.uint8)
    gt[0, 0] = 255  # blue in BGR
    torch.testing.assert_close(preprocessor.normalize_gt(gt).flatten(), torch.tensor([0.0, 0.0, 1.0]))
    # RGB outputs -> BGR bytes; round half to even (np.round as the deploy runtime); clamp
    out = torch.tensor([2.5, 3.5, 300.0]).view(1, 3, 1, 1) / 255
    out[0, 2] = -0.1
    assert preprocessor.to_image(out).flatten().tolist() == [0, 4, 2]


def test_float_inputs_pass_unclipped():
    preprocessor = EditDataPreprocessor()
    noisy = torch.tensor([-20.0, 100.0, 300.0]).view(3, 1, 1)  # BGR, 0..255 units, out of range
    inputs = preprocessor({"inputs": [noisy], "data_samples": None})["inputs"]
    torch.testing.assert_close(inputs.flatten(), torch.tensor([300.0, 100.0, -20.0]) / 255)


def test_grayscale_preprocessor():
    preprocessor = EditDataPreprocessor(mean=(127.5,), std=(127.5,), bgr_to_rgb=False)
    gt = torch.tensor([0, 128, 255], dtype=torch.uint8).view(1, 1, 1, 3)
    torch.testing.assert_close(
        preprocessor.normalize_gt(gt).flatten(), torch.tensor([-1.0, 0.5 / 127.5, 1.0])
    )
    assert torch.equal(preprocessor.to_image(preprocessor.normalize_gt(gt)), gt)


def test_stack_gt_names_a_sample_without_ground_truth():
    with pytest.raises(ValueError, match="lq_0.png.*gt_img"):
        EditDataPreprocessor().stack_gt(_samples(None, 1, (4, 4)))


# ---- the Restorer ---------------------------------------------------------------------------------


def test_identity_generator_predicts_the_input_bytes():
    model = Restorer(nn.Identity(), data_preprocessor=EditDataPreprocessor()).eval()
    images = _images(2, 6, 9)
    data = {"inputs": images, "data_samples": _samples(images, 2, (6, 9))}
    with torch.no_grad():
        samples = model.test_step(data)
    for sample, image in zip(samples, images):
        assert sample.pred_img.data.dtype == torch.uint8
        assert torch.equal(sample.pred_img.data, image)
        assert torch.equal(sample.gt_img.data, image)  # kept from the input sample


def test_prediction_is_bgr():
    model = Restorer(_SwapRG()).eval()
    images = _images(1, 4, 4)
    with torch.no_grad():
        pred = model.test_step({"inputs": images, "data_samples": None})[0].pred_img.data
    assert (pred[2] == 0).all()  # red is BGR's last channel
    assert torch.equal(pred[:2], images[0][:2])


def test_predict_sizes_and_non_mod_cropped_ground_truth():
    torch.manual_seed(0)
    model = Restorer(EDSRNet(mid_channels=8, num_blocks=1, upscale_factor=3)).eval()
    lq = _images(1, 5, 6)
    gt = _images(1, 14, 17)  # imresize(gt, 1/3) is 5 x 6: the output 15 x 18 is cropped to the GT
    with torch.no_grad():
        pred = model.test_step({"inputs": lq, "data_samples": _samples(gt, 1, (5, 6))})[0].pred_img.data
        assert pred.shape == (3, 14, 17) and pred.dtype == torch.uint8
        no_gt = model.test_step({"inputs": lq, "data_samples": None})[0].pred_img.data
        assert no_gt.shape == (3, 15, 18)
        assert torch.equal(no_gt[:, :14, :17], pred)
        with pytest.raises(ValueError, match=r"lq_0.png.*\(15, 18\).*gt_0.png.*\(10, 12\)"):
            model.test_step({"inputs": lq, "data_samples": _samples(_images(1, 10, 12), 1, (5, 6))})


def test_batch_padding_is_cropped_per_image():
    model = Restorer(nn.Identity()).eval()
    small, large = _images(1, 4, 5)[0], _images(1, 6, 7, seed=1)[0]
    samples = _samples(None, 2, (0, 0))
    samples[0].set_metainfo({"img_shape": (4, 5)})
    samples[1].set_metainfo({"img_shape": (6, 7)})
    with torch.no_grad():
        preds = model.test_step({"inputs": [small, large], "data_samples": samples})
    assert torch.equal(preds[0].pred_img.data, small) and torch.equal(preds[1].pred_img.data, large)


def test_tensor_mode_and_export_forward_return_the_normalised_output():
    torch.manual_seed(0)
    net = EDSRNet(mid_channels=8, num_blocks=1, upscale_factor=2)
    model = Restorer(net).eval()
    x = torch.rand(1, 3, 5, 4)
    with torch.no_grad():
        torch.testing.assert_close(model(x, None, mode="tensor"), net(x))
        torch.testing.assert_close(model.export_forward(x), net(x))


def test_loss_decreases_in_a_few_steps(one_thread):
    torch.manual_seed(0)
    model = Restorer(EDSRNet(mid_channels=8, num_blocks=1, upscale_factor=2), pixel_loss=L1Loss())
    gts = _images(2, 12, 12)
    lqs = [gt[:, ::2, ::2].contiguous() for gt in gts]
    wrapper = OptimWrapper(torch.optim.Adam(model.parameters(), lr=1e-2))
    logs = [
        model.train_step({"inputs": lqs, "data_samples": _samples(gts, 2, (6, 6))}, wrapper)
        for _ in range(15)
    ]
    assert set(logs[0]) == {"loss", "loss_pix"}
    assert logs[-1]["loss_pix"] < 0.8 * logs[0]["loss_pix"]


def test_loss_with_mismatched_scale_names_the_images():
    model = Restorer(EDSRNet(mid_channels=8, num_blocks=1, upscale_factor=2))
    data = model.data_preprocessor(
        {"inputs": _images(1, 4, 4), "data_samples": _samples(_images(1, 12, 12), 1, (4, 4))}
    )
    with pytest.raises(ValueError, match=r"lq_0.png.*upscale_factor"):
        model(**data, mode="loss")


def test_init_cfg_loads_an_mmagic_style_checkpoint():
    torch.manual_seed(0)
    source = EDSRNet(mid_channels=8, num_blocks=1, upscale_factor=2)
    state = {f"generator.{key}": value for key, value in source.state_dict().items()}
    state["data_preprocessor.mean"] = torch.zeros(3)
    model = Restorer(EDSRNet(mid_channels=8, num_blocks=1, upscale_factor=2), init_cfg=dict(checkpoint=state))
    assert torch.equal(model.generator.conv_last.weight, source.conv_last.weight)
    basicsr = Restorer(
        EDSRNet(mid_channels=8, num_blocks=1, upscale_factor=2),
        init_cfg=dict(checkpoint={"params": source.state_dict()}),
    )
    assert torch.equal(basicsr.generator.conv_first.bias, source.conv_first.bias)
    with pytest.raises(RuntimeError):
        Restorer(EDSRNet(mid_channels=4, num_blocks=1, upscale_factor=2), init_cfg=dict(checkpoint=state))


def test_config_errors():
    with pytest.raises(KeyError, match="tile_pad"):
        Restorer(nn.Identity(), test_cfg=dict(tile_pad=10))
    with pytest.raises(ValueError, match="tile"):
        Restorer(nn.Identity(), test_cfg=dict(tile=0))


@pytest.mark.skipif(not HAS_TILING, reason="visionstack.tasks.editing.tiling (helper E6) is not there yet")
def test_tiled_prediction_equals_whole_image_prediction(one_thread):
    torch.manual_seed(0)
    net = EDSRNet(mid_channels=8, num_blocks=1, upscale_factor=2)
    whole = Restorer(net).eval()
    tiled = Restorer(net, test_cfg=dict(tile=8)).eval()
    x = torch.rand(1, 3, 19, 23)
    with torch.no_grad():
        torch.testing.assert_close(tiled.restore(x), whole.restore(x), atol=1e-5, rtol=0)
        field = tiled.receptive_field()
        assert tiled.receptive_field() is field  # measured once
        assert field.radius >= 4  # conv_first, two block convs, conv_after_body, the up-sampling conv (at 1x)
        images = _images(1, 19, 23)
        pred_tiled = tiled.test_step({"inputs": images, "data_samples": None})[0].pred_img.data
        pred_whole = whole.test_step({"inputs": images, "data_samples": None})[0].pred_img.data
    assert pred_tiled.shape == (3, 38, 46)
    assert (pred_tiled.int() - pred_whole.int()).abs().max() <= 1  # float rounding at a .5 boundary at most
