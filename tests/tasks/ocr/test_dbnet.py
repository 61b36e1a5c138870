"""DBNet: the loss terms against slow references, FPNC and DBHead shapes, the model's modes, and a
tiny model overfitting one image of two rectangles."""

from __future__ import annotations

import cv2
import numpy as np
import pytest
import torch
from shapely.geometry import Polygon

from visionstack.models.backbones.resnet import ResNet
from visionstack.registry import ConfigError, build
from visionstack.structures import DataSample, InstanceData
from visionstack.tasks.ocr.models.db_head import DBHead, differentiable_binarization
from visionstack.tasks.ocr.models.db_loss import (
    DBModuleLoss,
    balanced_bce_with_logits,
    masked_dice_loss,
    masked_l1_loss,
)
from visionstack.tasks.ocr.models.dbnet import DBNet
from visionstack.tasks.ocr.models.fpnc import FPNC

RECTANGLES = [
    np.array([[12, 16], [100, 16], [100, 40], [12, 40]], dtype=np.float32),
    np.array([[30, 70], [116, 70], [116, 100], [30, 100]], dtype=np.float32),
]


def tiny_dbnet(**kwargs) -> DBNet:
    backbone = ResNet(depth=18, out_indices=(0, 1, 2, 3), base_channels=8)
    neck = FPNC(backbone.out_channels, lateral_channels=32, out_channels=8)
    return DBNet(backbone, neck, DBHead(in_channels=32), **kwargs)


def text_sample(size: int = 128, polygons=RECTANGLES, ignored=None, scale=(1.0, 1.0)) -> DataSample:
    sample = DataSample(
        metainfo=dict(img_path="toy.jpg", ori_shape=(size, size), img_shape=(size, size), scale_factor=scale)
    )
    count = len(polygons)
    sample.gt_instances = InstanceData(
        polygons=[p.copy() for p in polygons],
        bboxes=torch.tensor([[*p.min(0), *p.max(0)] for p in polygons], dtype=torch.float32).reshape(-1, 4),
        ignored=torch.zeros(count, dtype=torch.bool) if ignored is None else torch.tensor(ignored),
        texts=["word"] * count,
    )
    return sample


def rectangles_image(size: int = 128) -> torch.Tensor:
    image = np.full((size, size, 3), 200, dtype=np.uint8)
    for polygon in RECTANGLES:
        cv2.fillPoly(image, [polygon.astype(np.int32)], (30, 30, 30))
    return torch.from_numpy(image).permute(2, 0, 1).contiguous()


# ---- loss terms ---------------------------------------------------------------------------------


def slow_balanced_bce(logits, target, mask, ratio=3.0, eps=1e-6):
    """Sort the negatives' BCE in plain Python and keep the hardest ones."""
    positives, negatives = [], []
    for z, y, m in zip(logits.tolist(), target.tolist(), mask.tolist()):
        bce = -(y * np.log(1 / (1 + np.exp(-z))) + (1 - y) * np.log(1 - 1 / (1 + np.exp(-z))))
        if m and y:
            positives.append(bce)
        elif m:
            negatives.append(bce)
    keep = min(len(negatives), int(len(positives) * ratio)) if positives else 0
    hardest = sorted(negatives, reverse=True)[:keep]
    return (sum(positives) + sum(hardest)) / (len(positives) + keep + eps)


def test_balanced_bce_selects_the_hardest_negatives_like_a_slow_reference():
    generator = torch.Generator().manual_seed(0)
    for positives_share in (0.05, 0.2, 0.6):
        logits = torch.randn(400, generator=generator, dtype=torch.float64) * 3
        target = (torch.rand(400, generator=generator) < positives_share).double()
        mask = (torch.rand(400, generator=generator) < 0.9).double()
        got = balanced_bce_with_logits(logits, target, mask)
        assert got.item() == pytest.approx(slow_balanced_bce(logits, target, mask), rel=1e-10)


def test_balanced_bce_hand_case():
    # one positive (logit 0: BCE ln 2) and 4 negatives: only the 3 hardest (logits 3, 2, 1) count
    logits = torch.tensor([0.0, 3.0, 2.0, 1.0, -5.0])
    target = torch.tensor([1.0, 0, 0, 0, 0])
    softplus = [np.log(1 + np.exp(z)) for z in (3.0, 2.0, 1.0)]
    expected = (np.log(2) + sum(softplus)) / (4 + 1e-6)
    assert balanced_bce_with_logits(logits, target, torch.ones(5)).item() == pytest.approx(expected, rel=1e-6)
    # no positives: no negatives either (fallback 0), so the loss is 0
    assert balanced_bce_with_logits(logits, torch.zeros(5), torch.ones(5)).item() == 0.0


def test_l1_and_dice_hand_cases():
    pred = torch.tensor([0.5, 0.2, 0.9, 0.0])
    target = torch.tensor([0.7, 0.2, 0.3, 1.0])
    mask = torch.tensor([1.0, 1.0, 0.0, 1.0])
    assert masked_l1_loss(pred, target, mask).item() == pytest.approx((0.2 + 0 + 1.0) / 3, rel=1e-5)
    # masked: p = (0.5, 0.2, 0, 0), g = (0.7, 0.2, 0, 1): 1 - 2 (0.35 + 0.04) / (0.7 + 1.9)
    assert masked_dice_loss(pred, target, mask).item() == pytest.approx(1 - 0.78 / 2.6, rel=1e-5)


def test_module_loss_terms_are_weighted_and_zero_for_perfect_maps():
    sample = text_sample()
    module_loss = DBModuleLoss()
    shrink, shrink_mask, thr, thr_mask = module_loss.get_targets([sample], (128, 128), torch.device("cpu"))
    perfect_logits = (shrink * 2 - 1) * 40  # BCE ~ 0
    losses = module_loss(perfect_logits, thr, shrink, [sample])
    assert set(losses) == {"loss_prob", "loss_thr", "loss_db"}
    assert all(value.item() == pytest.approx(0.0, abs=1e-6) for value in losses.values())
    wrong = module_loss(torch.zeros_like(shrink), thr + 0.1 * thr_mask, torch.zeros_like(shrink), [sample])
    positives, negatives = shrink.sum(), ((1 - shrink) * shrink_mask).sum()
    assert wrong["loss_prob"].item() == pytest.approx(5 * np.log(2), rel=1e-4)  # every pixel's BCE is ln 2
    assert wrong["loss_thr"].item() == pytest.approx(10 * 0.1, rel=1e-4)
    assert wrong["loss_db"].item() == pytest.approx(1.0)
    assert negatives > 3 * positives  # OHEM has something to select


# ---- neck and head ------------------------------------------------------------------------------


def test_fpnc_concatenates_every_level_at_quarter_resolution():
    neck = FPNC([8, 16, 32, 64], lateral_channels=16, out_channels=4)
    feats = [torch.randn(2, c, 32 // 2**i, 40 // 2**i) for i, c in enumerate([8, 16, 32, 64])]
    out = neck(feats)
    assert out.shape == (2, 16, 32, 40) and neck.out_channels_total == 16
    # the top-down path carries the coarsest level into every slice of the concatenation
    changed = [f.clone() for f in feats]
    changed[3] = changed[3] + 1.0
    difference = (neck(changed) - out).abs().reshape(2, 4, 4, 32, 40).amax(dim=(0, 2, 3, 4))
    assert (difference > 0).all()
    assert [k for k in neck.state_dict() if k.startswith("lateral_convs.0")] == [
        "lateral_convs.0.conv.weight"
    ]
    with_conv = FPNC([8, 16, 32, 64], lateral_channels=16, out_channels=4, conv_after_concat=True)
    assert with_conv(feats).shape == (2, 16, 32, 40) and "out_conv.bn.weight" in with_conv.state_dict()
    with pytest.raises(ValueError, match="expected 4 feature levels"):
        neck(feats[:3])


def test_db_head_upsamples_4x_and_binarizes_with_k_50():
    head = DBHead(in_channels=16).eval()
    features = torch.randn(2, 16, 8, 10)
    prob_logits, prob_map, thr_map, binary_map = head(features)
    assert prob_logits.shape == prob_map.shape == thr_map.shape == binary_map.shape == (2, 32, 40)
    torch.testing.assert_close(prob_map, torch.sigmoid(prob_logits))
    torch.testing.assert_close(binary_map, 1 / (1 + torch.exp(-50 * (prob_map - thr_map))))
    assert ((thr_map > 0) & (thr_map < 1)).all()
    torch.testing.assert_close(head(features, with_threshold=False), prob_map)
    assert differentiable_binarization(torch.tensor(0.5), torch.tensor(0.5)).item() == 0.5
    assert head.binarize[0].bias is None and DBHead(16, with_bias=True).binarize[0].bias is not None


# ---- the model ----------------------------------------------------------------------------------


def test_builds_from_a_config_and_every_parameter_gets_a_gradient():
    model = build(
        dict(
            type="DBNet",
            backbone=dict(type="ResNet", depth=18, out_indices=(0, 1, 2, 3), base_channels=8),
            neck=dict(type="FPNC", in_channels=[8, 16, 32, 64], lateral_channels=32, out_channels=8),
            det_head=dict(type="DBHead", in_channels=32),
            module_loss=dict(type="DBModuleLoss"),
            test_cfg=dict(text_repr_type="poly", unclip_ratio=1.5),
        )
    )
    assert isinstance(model, DBNet) and model.task == "textdet"
    data = model.data_preprocessor(
        {"inputs": [rectangles_image()], "data_samples": [text_sample()]}, training=True
    )
    losses = model(**data, mode="loss")
    loss, log_vars = model.parse_losses(losses)
    loss.backward()
    assert set(log_vars) == {"loss", "loss_prob", "loss_thr", "loss_db"} and np.isfinite(log_vars["loss"])
    missing = [name for name, p in model.named_parameters() if p.grad is None or not p.grad.abs().sum() > 0]
    assert missing == []


def test_targets_follow_the_padded_batch_size():
    model = tiny_dbnet()
    image = rectangles_image()[:, :120, :100]  # padded to 128 x 128 (multiples of 32)
    data = model.data_preprocessor({"inputs": [image], "data_samples": [text_sample()]}, training=True)
    assert data["inputs"].shape[-2:] == (128, 128)
    assert all(torch.isfinite(v) for v in model(**data, mode="loss").values())


def test_predict_rescales_to_the_original_image_and_tensor_mode_is_the_prob_map():
    torch.manual_seed(0)
    model = tiny_dbnet(test_cfg=dict(mask_thr=0.0, min_text_score=0.0)).eval()
    inputs = torch.randn(2, 3, 64, 64)
    prob = model(inputs, mode="tensor")
    assert prob.shape == (2, 1, 64, 64) and ((prob >= 0) & (prob <= 1)).all()
    torch.testing.assert_close(model.export_forward(inputs), prob)
    with torch.no_grad():
        plain = model.predict(inputs, [text_sample(64, scale=(1.0, 1.0)) for _ in range(2)])
        halved = model.predict(inputs, [text_sample(64, scale=(2.0, 4.0)) for _ in range(2)])
    assert len(plain[0].pred_instances) >= 1  # the whole map is above mask_thr = 0
    for a, b in zip(plain[0].pred_instances.polygons, halved[0].pred_instances.polygons):
        np.testing.assert_allclose(b, a / np.array([2.0, 4.0], dtype=np.float32))
    scores = plain[0].pred_instances.scores
    assert scores.dtype == torch.float32 and scores.shape == (len(plain[0].pred_instances.polygons),)
    assert len(model.predict(inputs)) == 2  # without data samples


def test_unknown_test_cfg_keys_are_refused_with_a_suggestion():
    with pytest.raises(ConfigError, match="unclip_ration.*Did you mean.*unclip_ratio"):
        tiny_dbnet(test_cfg=dict(unclip_ration=2.0))


def test_tiny_model_overfits_two_rectangles():
    torch.manual_seed(0)
    model = tiny_dbnet()
    optimizer = torch.optim.Adam(model.parameters(), lr=1e-2)
    image = rectangles_image()
    for _ in range(70):
        model.train()
        batch = {"inputs": [image, image], "data_samples": [text_sample(), text_sample()]}
        data = model.data_preprocessor(batch, training=True)
        loss, _ = model.parse_losses(model(**data, mode="loss"))
        optimizer.zero_grad()
        loss.backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        sample = model.test_step({"inputs": [image], "data_samples": [text_sample()]})[0]
    predictions = [Polygon(p) for p in sample.pred_instances.polygons]
    ious = np.array(
        [
            [pred.intersection(Polygon(gt)).area / pred.union(Polygon(gt)).area for gt in RECTANGLES]
            for pred in predictions
        ]
    )
    # hmean 1.0: two predictions, each matching a different rectangle at IoU > 0.5
    assert ious.shape == (2, 2)
    assert sorted(ious.argmax(axis=1).tolist()) == [0, 1] and (ious.max(axis=1) > 0.5).all()
