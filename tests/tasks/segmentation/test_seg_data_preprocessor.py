"""SegDataPreProcessor: label maps are padded with the ignore value together with their image."""

from __future__ import annotations

import torch

from visionstack.structures import DataSample, PixelData
from visionstack.tasks.segmentation.models import EncoderDecoder, FCNHead, SegDataPreProcessor
from visionstack.testing import TinyConvBackbone


def test_gt_sem_seg_is_padded_with_the_ignore_value_to_the_batch_size():
    small, large = DataSample(), DataSample()
    small.gt_sem_seg = PixelData(data=torch.ones(1, 3, 4, dtype=torch.long))
    large.gt_sem_seg = PixelData(data=torch.full((1, 5, 6), 2, dtype=torch.long))
    preprocessor = SegDataPreProcessor(size_divisor=4)
    images = [torch.zeros(3, 3, 4, dtype=torch.uint8), torch.zeros(3, 5, 6, dtype=torch.uint8)]
    out = preprocessor({"inputs": images, "data_samples": [small, large]})
    assert out["inputs"].shape == (2, 3, 8, 8)
    for sample, (height, width), value in zip(out["data_samples"], ((3, 4), (5, 6)), (1, 2)):
        seg = sample.gt_sem_seg.data
        assert seg.shape == (1, 8, 8)
        assert (seg[:, :height, :width] == value).all()
        assert (seg[:, height:] == 255).all() and (seg[:, :, width:] == 255).all()
    assert SegDataPreProcessor(seg_pad_val=0).seg_pad_value == 0


def test_size_is_the_minimum_padded_size_and_the_default_of_encoder_decoder():
    preprocessor = SegDataPreProcessor(size=(20, 12), size_divisor=8)
    assert preprocessor.size == preprocessor.pad_min_size == (20, 12)
    out = preprocessor({"inputs": [torch.zeros(3, 5, 6, dtype=torch.uint8)]})
    assert out["inputs"].shape == (1, 3, 16, 24)
    model = EncoderDecoder(
        backbone=TinyConvBackbone(out_indices=(3,)),
        decode_head=FCNHead(in_channels=32, channels=8, num_classes=3, num_convs=1),
    )
    assert (
        type(model.data_preprocessor) is SegDataPreProcessor and model.data_preprocessor.seg_pad_value == 255
    )
