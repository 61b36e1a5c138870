"""The contract of every class registered by visionstack.tasks.segmentation.models.

Each registered head, segmentor or sampler must appear in ``SEG_CASES`` (a tiny EncoderDecoder using
it); each case is built from its config, run in the three modes on a 2x3x32x32 batch, checked for
gradients on every head parameter and for a state-dict round trip.
"""

from __future__ import annotations

import pytest
import torch

import visionstack.tasks.segmentation.models  # noqa: F401  (registers the segmentation models)
from visionstack.registry import MODELS, build
from visionstack.structures import DataSample, PixelData
from visionstack.testing import TinyConvBackbone

SCOPE = "visionstack.tasks.segmentation.models"
# TinyConvBackbone stages 1-4 on 32x32: (16, 24, 32, 48) channels at 8, 4, 2, 1 pixels
BACKBONE = dict(type=TinyConvBackbone, out_indices=(1, 2, 3, 4))
AUX = dict(
    type="FCNHead", in_channels=32, in_index=2, channels=4, num_classes=3, num_convs=1, concat_input=False
)


def segmentor(decode_head: dict, **kwargs) -> dict:
    return dict(type="EncoderDecoder", backbone=BACKBONE, decode_head=decode_head, **kwargs)


SEG_CASES = {
    "EncoderDecoder": segmentor(
        dict(type="FCNHead", in_channels=48, channels=8, num_classes=3),
        auxiliary_head=AUX,
        test_cfg=dict(mode="slide", crop_size=(24, 24), stride=(16, 16)),
    ),
    "FCNHead": segmentor(
        dict(
            type="FCNHead",
            in_channels=[16, 24],
            in_index=[0, 1],
            input_transform="resize_concat",
            channels=8,
            num_classes=3,
        )
    ),
    "SegDataPreProcessor": segmentor(
        dict(type="FCNHead", in_channels=48, channels=8, num_classes=3),
        data_preprocessor=dict(type="SegDataPreProcessor", mean=[0, 0, 0], std=[1, 1, 1], size=(32, 32)),
    ),
    "PSPHead": segmentor(dict(type="PSPHead", in_channels=48, channels=8, num_classes=3, pool_scales=(1, 2))),
    "ASPPHead": segmentor(dict(type="ASPPHead", in_channels=32, in_index=2, channels=8, num_classes=3)),
    "DepthwiseSeparableASPPHead": segmentor(
        dict(
            type="DepthwiseSeparableASPPHead",
            in_channels=32,
            in_index=2,
            channels=8,
            num_classes=3,
            dilations=(1, 2),
            c1_in_channels=16,
            c1_channels=4,
        ),
        auxiliary_head=AUX,
    ),
    "SegformerHead": segmentor(
        dict(type="SegformerHead", in_channels=[16, 24, 32, 48], channels=8, num_classes=3),
        test_cfg=dict(tta=dict(scales=(1.0, 0.75), flip=True)),
    ),
    "OHEMPixelSampler": segmentor(
        dict(
            type="FCNHead",
            in_channels=24,
            in_index=1,
            channels=8,
            num_classes=3,
            sampler=dict(type="OHEMPixelSampler", thresh=0.7, min_kept=200),
            loss_decode=[
                dict(type="CrossEntropyLoss", avg_non_ignore=False),
                dict(type="DiceLoss", use_sigmoid=False, loss_weight=0.5),
            ],
        )
    ),
}


def registered() -> list[str]:
    return sorted(name for name, cls in MODELS.items() if getattr(cls, "__module__", "").startswith(SCOPE))


def test_every_registered_segmentation_class_has_a_case():
    missing = sorted(set(registered()) - set(SEG_CASES))
    assert not missing, f"add a tiny config for {missing} to SEG_CASES"


def batch() -> tuple[torch.Tensor, list[DataSample]]:
    generator = torch.Generator().manual_seed(0)
    inputs = torch.randn(2, 3, 32, 32, generator=generator)
    labels = torch.randint(0, 3, (2, 1, 32, 32), generator=generator)
    labels[0, 0, :4] = 255
    metainfo = dict(img_shape=(32, 32), ori_shape=(40, 36))
    return inputs, [DataSample(metainfo=metainfo, gt_sem_seg=PixelData(data=labels[i])) for i in range(2)]


def build_case(name: str, seed: int = 0):
    torch.manual_seed(seed)
    return build(SEG_CASES[name], MODELS)


@pytest.mark.parametrize("name", sorted(SEG_CASES))
def test_modes_gradients_and_state_dict(name):
    model = build_case(name).train()
    inputs, samples = batch()
    losses = model(inputs, samples, mode="loss")
    assert all(torch.isfinite(v).all() for v in losses.values())
    total, _ = model.parse_losses(losses)
    total.backward()
    heads = [(n, p) for n, p in model.named_parameters() if not n.startswith("backbone.")]
    without = [n for n, p in heads if p.grad is None or not torch.isfinite(p.grad).all()]
    assert heads and not without, f"{name}: no (finite) gradient for {without[:5]}"
    model.eval()
    logits = model(inputs, mode="tensor")
    assert logits.ndim == 4 and logits.shape[:2] == (2, 3) and torch.isfinite(logits).all()
    with torch.no_grad():
        results = model(inputs, samples, mode="predict")
    assert [r.pred_sem_seg.data.shape for r in results] == [(1, 40, 36)] * 2
    assert all(torch.isfinite(r.seg_logits.data).all() for r in results)
    other = build_case(name, seed=1).eval()
    other.load_state_dict(model.state_dict())
    torch.testing.assert_close(other(inputs, mode="tensor"), logits, rtol=0, atol=0)


def test_seg_data_preprocessor_pads_images_and_maps_to_the_crop_size():
    preprocessor = build(SEG_CASES["SegDataPreProcessor"], MODELS).data_preprocessor
    images = [torch.full((3, 20, 30), 10, dtype=torch.uint8), torch.full((3, 28, 16), 20, dtype=torch.uint8)]
    samples = [
        DataSample(gt_sem_seg=PixelData(data=torch.full((1, h, w), 2))) for h, w in ((20, 30), (28, 16))
    ]
    out = preprocessor({"inputs": images, "data_samples": samples}, training=True)
    assert out["inputs"].shape == (2, 3, 32, 32)
    assert (out["inputs"][0, :, :20, :30] == 10).all() and (out["inputs"][0, :, 20:] == 0).all()
    maps = [sample.gt_sem_seg.data for sample in out["data_samples"]]
    assert maps[0].shape == maps[1].shape == (1, 32, 32)
    assert (
        (maps[0][:, :20, :30] == 2).all()
        and (maps[0][:, 20:] == 255).all()
        and (maps[0][:, :, 30:] == 255).all()
    )
    assert (maps[1][:, :28, :16] == 2).all() and (maps[1][:, :, 16:] == 255).all()
