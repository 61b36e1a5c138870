"""Priors in a smaller image's padding and empty boxes at test time, as MMDetection 3.x's dense heads.

MMDetection leaves out of assignment and loss the priors beyond ``ceil(pad / stride)`` of each image's own
padded size (``image_pad_shape`` here), so an image's loss terms do not depend on the larger images it
is batched with; and ``min_bbox_size = 0`` drops boxes of zero width or height.
"""

from __future__ import annotations

import pytest
import torch

from visionstack.models.ops import AnchorGenerator
from visionstack.structures import DataSample, InstanceData
from visionstack.tasks.detection.models.data_preprocessor import DetDataPreprocessor
from visionstack.tasks.detection.models.dense_inference import bbox_post_process, valid_prior_flags
from visionstack.tasks.detection.models.fcos_head import FCOSHead
from visionstack.tasks.detection.models.retina_head import RetinaHead
from visionstack.tasks.detection.models.rtmdet_head import RTMDetSepBNHead
from visionstack.tasks.detection.models.test_config import DetTestConfig

STRIDES = (8, 16, 32)
BIG, SMALL = 96, 64  # image B fills the batch; image A is 64 x 64 in its top-left corner


def _sample(size: int, boxes: list[list[float]], labels: list[int]) -> DataSample:
    return DataSample(
        metainfo=dict(
            img_shape=(size, size),
            ori_shape=(size, size),
            scale_factor=(1.0, 1.0),
            image_pad_shape=(size, size),
            pad_shape=(BIG, BIG),
            batch_input_shape=(BIG, BIG),
        ),
        gt_instances=InstanceData(
            bboxes=torch.tensor(boxes, dtype=torch.float32).reshape(-1, 4), labels=torch.tensor(labels).long()
        ),
    )


def _pair() -> tuple[DataSample, DataSample]:
    a = _sample(SMALL, [[6.0, 8.0, 38.0, 44.0], [36.0, 30.0, 62.0, 60.0]], [0, 2])
    b = _sample(BIG, [[10.0, 50.0, 70.0, 94.0]], [1])
    return a, b


def _crop(maps: list[torch.Tensor], index: int, size: int) -> list[torch.Tensor]:
    """Image ``index``'s maps cut to the positions of a ``size`` image (ceil(size / stride) each)."""
    return [m[index : index + 1, :, : -(-size // s), : -(-size // s)] for m, s in zip(maps, STRIDES)]


def _retina() -> RetinaHead:
    torch.manual_seed(0)
    return RetinaHead(
        3,
        8,
        stacked_convs=1,
        feat_channels=8,
        anchor_generator=AnchorGenerator(
            strides=list(STRIDES), ratios=[0.5, 1.0, 2.0], octave_base_scale=4, scales_per_octave=3
        ),
    )


def _outputs(channels: list[int]) -> list[list[torch.Tensor]]:
    generator = torch.Generator().manual_seed(3)
    return [[torch.randn(2, c, BIG // s, BIG // s, generator=generator) for s in STRIDES] for c in channels]


def test_preprocessor_records_each_images_own_padded_size():
    images = [torch.zeros(3, 40, 50, dtype=torch.uint8), torch.zeros(3, 70, 20, dtype=torch.uint8)]
    samples = [DataSample(metainfo=dict(img_shape=(40, 50))), DataSample(metainfo=dict(img_shape=(70, 20)))]
    out = DetDataPreprocessor()({"inputs": images, "data_samples": samples})
    assert [s.image_pad_shape for s in out["data_samples"]] == [(64, 64), (96, 32)]
    assert all(s.pad_shape == s.batch_input_shape == (96, 64) for s in out["data_samples"])  # unchanged


def test_valid_flags_follow_the_ceil_rule_per_level_and_prior():
    generator = AnchorGenerator(strides=[8, 16], ratios=[0.5, 1.0], octave_base_scale=4, scales_per_octave=1)
    sample = DataSample(metainfo=dict(image_pad_shape=(40, 20), pad_shape=(96, 64)))
    flags = valid_prior_flags(generator, [(12, 8), (6, 4)], sample)
    level0, level1 = flags[: 12 * 8 * 2].reshape(12, 8, 2), flags[12 * 8 * 2 :].reshape(6, 4, 2)
    expected0 = torch.zeros(12, 8, dtype=torch.bool)
    expected0[:5, :3] = True  # ceil(40 / 8) = 5 rows, ceil(20 / 8) = 3 columns
    expected1 = torch.zeros(6, 4, dtype=torch.bool)
    expected1[:3, :2] = True  # ceil(2.5) = 3, ceil(1.25) = 2
    assert torch.equal(level0, expected0[..., None].expand(-1, -1, 2))
    assert torch.equal(level1, expected1[..., None].expand(-1, -1, 2))
    # no image_pad_shape: the pad_shape; neither: every prior counts
    fallback = valid_prior_flags(generator, [(12, 8), (6, 4)], DataSample(metainfo=dict(pad_shape=(96, 64))))
    assert fallback.all()
    assert valid_prior_flags(generator, [(12, 8)], DataSample(metainfo={})) is None


def test_retina_priors_in_the_padding_get_no_target_and_no_weight():
    head = _retina()
    a, _ = _pair()
    sizes = [(BIG // s, BIG // s) for s in STRIDES]
    anchors = torch.cat(head.prior_generator.grid_priors(sizes))
    valid = valid_prior_flags(head.prior_generator, sizes, a)
    assert 0 < int(valid.sum()) < valid.numel()
    labels, label_weights, _, bbox_weights = head._image_targets(anchors, a, valid)
    assert (label_weights[~valid] == 0).all() and (bbox_weights[~valid] == 0).all()
    assert (labels[~valid] == head.num_classes).all()
    assert (label_weights[valid] > 0).any() and (bbox_weights[valid, 0] > 0).sum() >= 2


def _retina_sum(head: RetinaHead, outputs, samples) -> tuple[dict[str, torch.Tensor], float]:
    """Losses times their normaliser (the number of positives): the batch's sums."""
    head.forward = lambda feats: outputs  # the head's outputs are given; the convs are not under test
    losses = head.loss([], samples)
    sizes = [tuple(m.shape[-2:]) for m in outputs[0]]
    anchors = torch.cat(head.prior_generator.grid_priors(sizes))
    num_pos = sum(
        float(
            (
                head._image_targets(anchors, s, valid_prior_flags(head.prior_generator, sizes, s))[3][:, 0]
                > 0
            ).sum()
        )
        for s in samples
    )
    return {k: v * max(num_pos, 1.0) for k, v in losses.items()}, num_pos


def test_retina_image_contributes_the_same_alone_or_beside_a_larger_image():
    head = _retina()
    a, b = _pair()
    cls, reg = _outputs([9 * 3, 9 * 4])
    batch, _ = _retina_sum(head, (cls, reg), [a, b])
    alone_a, pos_a = _retina_sum(head, (_crop(cls, 0, SMALL), _crop(reg, 0, SMALL)), [a])
    alone_b, pos_b = _retina_sum(head, (_crop(cls, 1, BIG), _crop(reg, 1, BIG)), [b])
    assert pos_a >= 2 and pos_b >= 1
    for key in ("loss_cls", "loss_bbox"):
        torch.testing.assert_close(batch[key], alone_a[key] + alone_b[key], rtol=1e-5, atol=1e-6)


def _rtmdet() -> RTMDetSepBNHead:
    torch.manual_seed(0)
    return RTMDetSepBNHead(3, 8, feat_channels=8, stacked_convs=1)


def _rtmdet_sum(head: RTMDetSepBNHead, cls, reg, samples) -> dict[str, torch.Tensor]:
    """Losses times their normaliser (the sum of the positives' IoUs, at least 1)."""
    losses = head.loss_by_feat(cls, reg, samples)
    logits, boxes, priors, _ = head._flatten(cls, reg)
    sizes = [tuple(m.shape[-2:]) for m in cls]
    norm = sum(
        float(
            head._targets_single(
                logits[i].detach(),
                boxes[i].detach(),
                priors,
                s,
                valid_prior_flags(head.prior_generator, sizes, s),
            )[1].sum()
        )
        for i, s in enumerate(samples)
    )
    return {k: v * max(norm, 1.0) for k, v in losses.items()}


def test_rtmdet_image_contributes_the_same_alone_or_beside_a_larger_image():
    head = _rtmdet()
    a, b = _pair()
    cls, reg = _outputs([3, 4])
    reg = [r.exp() * s for r, s in zip(reg, STRIDES)]  # positive ltrb distances in pixels
    batch = _rtmdet_sum(head, cls, reg, [a, b])
    alone_a = _rtmdet_sum(head, _crop(cls, 0, SMALL), _crop(reg, 0, SMALL), [a])
    alone_b = _rtmdet_sum(head, _crop(cls, 1, BIG), _crop(reg, 1, BIG), [b])
    for key in ("loss_cls", "loss_bbox"):
        torch.testing.assert_close(batch[key], alone_a[key] + alone_b[key], rtol=1e-5, atol=1e-5)
    # and the padding priors of A are background with weight 0
    logits, boxes, priors, _ = head._flatten(cls, reg)
    sizes = [tuple(m.shape[-2:]) for m in cls]
    valid = valid_prior_flags(head.prior_generator, sizes, a)
    labels, scores, _, weights = head._targets_single(logits[0], boxes[0], priors, a, valid)
    assert (weights[~valid] == 0).all() and (labels[~valid] == head.num_classes).all()
    assert (scores[~valid] == 0).all() and (weights[valid] == 1).all() and (scores[valid] > 0).any()


def _fcos() -> FCOSHead:
    return FCOSHead(
        3,
        8,
        stacked_convs=1,
        feat_channels=8,
        strides=STRIDES,
        regress_ranges=[(-1, 64), (64, 128), (128, 1e8)],
    )


@pytest.mark.parametrize("make_head", [_retina, _fcos, _rtmdet], ids=["retinanet", "fcos", "rtmdet"])
def test_every_dense_head_drops_empty_boxes_at_min_bbox_size_zero(make_head):
    head = make_head()
    assert head.test_cfg.min_bbox_size == 0 and head.min_size() == 0.0
    head.test_cfg.min_bbox_size = -1.0
    assert head.min_size() is None


def test_retina_drops_a_box_clipped_to_nothing_and_keeps_it_when_told():
    """A confident anchor below a 40-pixel-high image (in the batch's padding) clips to zero height."""
    head = _retina()
    sample = DataSample(metainfo=dict(img_shape=(40, 64), ori_shape=(40, 64), scale_factor=(1.0, 1.0)))
    cls = [torch.full((1, 27, 64 // s, 64 // s), -10.0) for s in STRIDES]
    cls[0][0, 0::3, 7, 3] = 10.0  # class 0 of every anchor at row 7 (centre y = 56)
    reg = [torch.zeros(1, 36, 64 // s, 64 // s) for s in STRIDES]
    reg[0][0, 3::4, 7, 3] = -2.0  # dh: every box there spans less than 10 px, all of them below y = 40
    assert len(head.predict_from_outputs((cls, reg), [sample], rescale=False)[0]) == 0
    head.test_cfg.min_bbox_size = -1.0
    kept = head.predict_from_outputs((cls, reg), [sample], rescale=False)[0]
    assert len(kept) > 0 and (kept.bboxes[:, 3] - kept.bboxes[:, 1] == 0).all()


def test_bbox_post_process_drops_empty_boxes_at_zero_and_keeps_them_below():
    boxes = torch.tensor([[0.0, 0.0, 10.0, 10.0], [20.0, 5.0, 30.0, 5.0], [40.0, 0.0, 40.0, 8.0]])
    scores, labels = torch.tensor([0.9, 0.8, 0.7]), torch.tensor([0, 1, 2])
    sample = DataSample(metainfo=dict(scale_factor=(1.0, 1.0)))
    assert len(bbox_post_process(boxes, scores, labels, sample, DetTestConfig(min_bbox_size=0.0))) == 1
    assert len(bbox_post_process(boxes, scores, labels, sample, DetTestConfig(min_bbox_size=-1.0))) == 3
