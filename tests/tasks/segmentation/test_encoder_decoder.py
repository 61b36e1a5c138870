"""EncoderDecoder: losses, whole/slide inference, TTA, mapping back to the original image, a tiny fit."""

from __future__ import annotations

import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visionstack.registry import MODELS
from visionstack.structures import DataSample, PixelData
from visionstack.tasks.segmentation.models import EncoderDecoder, FCNHead, SegformerHead, SegTestConfig
from visionstack.testing import TinyConvBackbone


class PointwiseBackbone(nn.Module):
    """1x1 convs only: every output pixel depends on its input pixel alone (translation-equivariant
    with no context), so any window layout must reproduce whole-image inference."""

    def __init__(self, channels: int = 6) -> None:
        super().__init__()
        self.conv = nn.Conv2d(3, channels, 1)

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor, ...]:
        return (torch.tanh(self.conv(x)),)


def pointwise_model(test_cfg: dict | None = None) -> EncoderDecoder:
    torch.manual_seed(0)
    head = FCNHead(in_channels=6, channels=5, num_classes=3, kernel_size=1, num_convs=2, concat_input=True)
    return EncoderDecoder(backbone=PointwiseBackbone(), decode_head=head, test_cfg=test_cfg).double().eval()


def tiny_model(test_cfg: dict | None = None, **head_kwargs) -> EncoderDecoder:
    torch.manual_seed(0)
    head = FCNHead(in_channels=24, in_index=0, channels=8, num_classes=3, num_convs=1, **head_kwargs)
    return EncoderDecoder(
        backbone=TinyConvBackbone(out_indices=(2,)), decode_head=head, test_cfg=test_cfg
    ).eval()


def image(height: int, width: int, dtype: torch.dtype = torch.float64) -> torch.Tensor:
    return torch.randn(
        1, 3, height, width, generator=torch.Generator().manual_seed(height * width), dtype=dtype
    )


# ---- slide inference --------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("size", "crop", "stride"),
    [((12, 16), (8, 6), (8, 6)), ((13, 17), (8, 6), (5, 4)), ((9, 7), (4, 4), (1, 3))],
    ids=["exact_tiling", "overlapping", "dense_overlap"],
)
def test_slide_equals_whole_for_a_pointwise_model(size, crop, stride):
    inputs = image(*size).repeat(2, 1, 1, 1)
    inputs[1] = inputs[1].flip(-1)
    whole = pointwise_model().inference(inputs)
    slide = pointwise_model(dict(mode="slide", crop_size=crop, stride=stride)).inference(inputs)
    assert slide.shape == whole.shape == (2, 3, *size)
    torch.testing.assert_close(slide, whole, rtol=0, atol=1e-12)


def test_no_seams_across_window_borders():
    """Constant regions keep one logit vector across every window border of overlapping windows."""
    inputs = torch.zeros(1, 3, 14, 20, dtype=torch.float64)
    inputs[:, :, :, 10:] = torch.tensor([0.5, -1.0, 2.0], dtype=torch.float64).view(1, 3, 1, 1)
    inputs[:, :, 7:, :] += 0.7
    logits = pointwise_model(dict(mode="slide", crop_size=(6, 5), stride=(4, 3))).inference(inputs)[0]
    for rows, cols in [
        (slice(0, 7), slice(0, 10)),
        (slice(0, 7), slice(10, 20)),
        (slice(7, 14), slice(0, 10)),
    ]:
        region = logits[:, rows, cols]
        torch.testing.assert_close(region, region[:, :1, :1].expand_as(region), rtol=0, atol=1e-12)


class WindowSpy(EncoderDecoder):
    """Records each window's top-left pixel (read from coordinate channels) and size."""

    def __init__(self, **kwargs) -> None:
        super().__init__(**kwargs)
        self.windows: list[tuple[int, int, int, int]] = []

    def encode_decode(self, inputs: torch.Tensor) -> torch.Tensor:
        y1, x1 = int(inputs[0, 0, 0, 0]), int(inputs[0, 1, 0, 0])
        self.windows.append((x1, y1, inputs.shape[-1], inputs.shape[-2]))
        return inputs.new_ones(inputs.shape[0], 3, *inputs.shape[-2:])


def coordinate_image(height: int, width: int) -> torch.Tensor:
    ys, xs = torch.meshgrid(torch.arange(height), torch.arange(width), indexing="ij")
    return torch.stack([ys, xs, torch.zeros_like(ys)])[None].double()


def test_window_grid_is_mmsegmentations():
    """H=10, W=13, crop (w=6, h=4), stride (w=4, h=3): rows start 0, 3, 6; columns 0, 4 and 13-6=7."""
    spy = WindowSpy(
        backbone=PointwiseBackbone(),
        decode_head=FCNHead(in_channels=6, channels=6, num_classes=3, num_convs=0, concat_input=False),
        test_cfg=dict(mode="slide", crop_size=(6, 4), stride=(4, 3)),
    )
    logits = spy.slide_inference(coordinate_image(10, 13))
    expected = [(x, y, 6, 4) for y in (0, 3, 6) for x in (0, 4, 7)]
    assert spy.windows == expected
    torch.testing.assert_close(logits, torch.ones(1, 3, 10, 13, dtype=torch.float64))  # sum / count
    spy.windows.clear()
    small = spy.slide_inference(coordinate_image(3, 5))  # smaller than the crop: padded, one full window
    assert spy.windows == [(0, 0, 6, 4)] and small.shape == (1, 3, 3, 5)


def test_slide_on_an_image_of_crop_size_equals_whole():
    inputs = image(32, 48, torch.float32)
    whole = tiny_model().inference(inputs)
    slide = tiny_model(dict(mode="slide", crop_size=(48, 32), stride=(16, 16))).inference(inputs)
    torch.testing.assert_close(slide, whole)
    bigger = tiny_model(dict(mode="slide", crop_size=(32, 32), stride=(24, 20))).inference(
        image(50, 70, torch.float32)
    )
    assert bigger.shape == (1, 3, 50, 70) and torch.isfinite(bigger).all()


# ---- test-time augmentation ---------------------------------------------------------------------
def test_tta_equals_the_manual_average_of_softmax_over_scales_and_flips():
    inputs = image(32, 40, torch.float32)
    model = tiny_model(dict(tta=dict(scales=(1.0, 0.5, 1.5), flip=True)))
    manual = torch.zeros(1, 3, 32, 40)
    for scale in (1.0, 0.5, 1.5):
        size = (int(32 * scale + 0.5), int(40 * scale + 0.5))
        scaled = (
            F.interpolate(inputs, size=size, mode="bilinear", align_corners=False) if scale != 1 else inputs
        )
        for flip in (False, True):
            logits = model.encode_decode(scaled.flip(-1) if flip else scaled)
            logits = logits.flip(-1) if flip else logits
            manual += F.interpolate(logits, size=(32, 40), mode="bilinear", align_corners=False).softmax(1)
    torch.testing.assert_close(model.inference(inputs), manual / 6)
    plain = tiny_model().inference(inputs).softmax(1)
    assert (model.inference(inputs) - plain).abs().max() > 1e-4  # the extra views change the result


def test_flip_tta_of_a_pointwise_model_is_the_plain_softmax():
    """Un-flipping puts every view's logits back in place: a pointwise model's views agree exactly."""
    inputs = image(9, 14)
    flipped = pointwise_model(dict(tta=dict(flip=True))).inference(inputs)
    torch.testing.assert_close(flipped, pointwise_model().inference(inputs).softmax(1), rtol=0, atol=1e-12)


# ---- predict ---------------------------------------------------------------------------------
def test_predict_maps_back_to_the_original_image():
    """Image 0 was resized 20x30 -> 10x15 and padded to 16x16; image 1 was flipped and padded."""
    model = pointwise_model()
    inputs = torch.randn(2, 3, 16, 16, dtype=torch.float64)
    gt = PixelData(data=torch.zeros(1, 16, 16, dtype=torch.long))
    samples = [
        DataSample(
            metainfo=dict(ori_shape=(20, 30), img_shape=(10, 15), scale_factor=(0.5, 0.5)), gt_sem_seg=gt
        ),
        DataSample(
            metainfo=dict(ori_shape=(16, 12), img_shape=(16, 12), flip=True, flip_direction="horizontal")
        ),
    ]
    logits = model.encode_decode(inputs)
    expected0 = F.interpolate(logits[:1, :, :10, :15], size=(20, 30), mode="bilinear", align_corners=False)[0]
    expected1 = logits[1, :, :16, :12].flip(-1)
    results = model(inputs, samples, mode="predict")
    torch.testing.assert_close(results[0].seg_logits.data, expected0)
    torch.testing.assert_close(results[1].seg_logits.data, expected1)
    assert (
        results[0].pred_sem_seg.data.shape == (1, 20, 30) and results[0].pred_sem_seg.data.dtype == torch.long
    )
    torch.testing.assert_close(results[1].pred_sem_seg.data, expected1.argmax(0, keepdim=True))
    assert results[0].gt_sem_seg.data.shape == (1, 16, 16)  # the packed label stays for the metric
    plain = model.predict(inputs)
    assert plain[0].seg_logits.shape == (16, 16) and plain[0].pred_sem_seg.data.shape == (1, 16, 16)


def test_vertical_flip_is_undone():
    model = pointwise_model()
    inputs = image(6, 8)
    sample = DataSample(
        metainfo=dict(ori_shape=(6, 8), img_shape=(6, 8), flip=True, flip_direction="vertical")
    )
    result = model.predict(inputs, [sample])[0]
    torch.testing.assert_close(result.seg_logits.data, model.encode_decode(inputs)[0].flip(-2))


# ---- losses, tensor mode, config --------------------------------------------------------------
def label_samples(labels: torch.Tensor) -> list[DataSample]:
    return [DataSample(gt_sem_seg=PixelData(data=labels[i : i + 1])) for i in range(len(labels))]


def test_loss_keys_with_auxiliary_heads_and_tensor_mode():
    torch.manual_seed(0)
    aux = FCNHead(in_channels=16, in_index=0, channels=4, num_classes=3, num_convs=1, concat_input=False)
    head = SegformerHead(in_channels=(16, 24), in_index=(0, 1), channels=8, num_classes=3)
    model = EncoderDecoder(
        backbone=TinyConvBackbone(out_indices=(1, 2)), decode_head=head, auxiliary_head=aux
    )
    inputs, labels = torch.randn(2, 3, 32, 32), torch.randint(0, 3, (2, 32, 32))
    losses = model(inputs, label_samples(labels), mode="loss")
    assert set(losses) == {"decode.loss_ce", "decode.acc_seg", "aux.loss_ce", "aux.acc_seg"}
    total, log_vars = model.parse_losses(losses)
    torch.testing.assert_close(total, losses["decode.loss_ce"] + losses["aux.loss_ce"])
    assert 0 <= log_vars["decode.acc_seg"] <= 100
    assert model(inputs, mode="tensor").shape == (2, 3, 8, 8)  # the head's own resolution (stride 4)
    two_aux = EncoderDecoder(
        backbone=TinyConvBackbone(out_indices=(1, 2)), decode_head=head, auxiliary_head=[aux, aux]
    )
    assert {"aux_0.loss_ce", "aux_1.loss_ce"} <= set(two_aux.loss(inputs, label_samples(labels)))


def test_builds_from_a_config_with_slide_test_cfg():
    model = MODELS.build(
        dict(
            type="EncoderDecoder",
            backbone=dict(type=TinyConvBackbone, out_indices=(2,)),
            decode_head=dict(type="FCNHead", in_channels=24, in_index=0, channels=8, num_classes=4),
            test_cfg=dict(mode="slide", crop_size=(32, 24), stride=(16, 16)),
        )
    ).eval()
    assert model.test_cfg == SegTestConfig(mode="slide", crop_size=(32, 24), stride=(16, 16))
    results = model.predict(torch.randn(1, 3, 40, 50))
    assert results[0].pred_sem_seg.data.shape == (1, 40, 50)


def test_test_cfg_errors_name_the_key():
    with pytest.raises(ValueError, match="unknown test_cfg keys \\['crop'\\]"):
        SegTestConfig.from_value(dict(mode="slide", crop=(4, 4)), "EncoderDecoder")
    with pytest.raises(ValueError, match="mode='slide' needs crop_size"):
        SegTestConfig.from_value(dict(mode="slide"), "EncoderDecoder")
    with pytest.raises(ValueError, match="stride \\(8, 4\\) exceeds crop_size"):
        SegTestConfig.from_value(dict(mode="slide", crop_size=(6, 6), stride=(8, 4)), "EncoderDecoder")
    with pytest.raises(ValueError, match="unknown test_cfg.tta keys"):
        SegTestConfig.from_value(dict(tta=dict(scale=(1.0,))), "EncoderDecoder")
    with pytest.raises(TypeError, match="backbone must be an nn.Module"):
        EncoderDecoder(backbone=3, decode_head=FCNHead(in_channels=4, channels=4, num_classes=2))


# ---- a tiny end-to-end fit ----------------------------------------------------------------------
def block_dataset(num: int = 4, size: int = 32, num_classes: int = 4) -> tuple[torch.Tensor, torch.Tensor]:
    """Random 4x4 grids of classes (8x8 blocks); each class has its own colour plus noise."""
    generator = torch.Generator().manual_seed(5)
    grid = torch.randint(0, num_classes, (num, 4, 4), generator=generator)
    labels = grid.repeat_interleave(size // 4, 1).repeat_interleave(size // 4, 2)
    palette = torch.tensor([[1.0, -1.0, 0.0], [-1.0, 1.0, 0.5], [0.0, 0.0, -1.5], [1.0, 1.0, 1.0]])
    images = palette[labels].permute(0, 3, 1, 2) + 0.2 * torch.randn(num, 3, size, size, generator=generator)
    return images, labels


def test_a_tiny_segmentor_overfits_random_block_maps():
    images, labels = block_dataset()
    torch.manual_seed(0)
    head = SegformerHead(in_channels=(16, 16), in_index=(0, 1), channels=16, num_classes=4, dropout_ratio=0.0)
    model = EncoderDecoder(backbone=TinyConvBackbone(out_indices=(0, 1)), decode_head=head)
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    samples = label_samples(labels)
    model.train()
    history = []
    for _ in range(30):
        total, log_vars = model.parse_losses(model(images, samples, mode="loss"))
        optimizer.zero_grad()
        total.backward()
        optimizer.step()
        history.append(log_vars["loss"])
    assert history[-1] < 0.25 * history[0]
    model.eval()
    with torch.no_grad():
        metainfo = dict(img_shape=(32, 32), ori_shape=(32, 32))
        results = model(images, [DataSample(metainfo=metainfo) for _ in range(4)], mode="predict")
    predicted = torch.cat([r.pred_sem_seg.data for r in results])
    accuracy = (predicted == labels).float().mean().item()
    assert accuracy > 0.9, f"pixel accuracy {accuracy:.3f} after 30 steps"
