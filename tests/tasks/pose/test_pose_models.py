"""Top-down pose models: SimpleBaseline's heatmap head, RTMPose's SimCC head, the estimator's flip test and
crop -> image mapping, tiny overfits and ONNX equivalence (the gated attention unit: test_pose_gau.py)."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch
from torch import nn

from visionstack.models.backbones.cspnext import CSPNeXt
from visionstack.models.backbones.resnet import ResNet
from visionstack.registry import MODELS, build
from visionstack.structures import DataSample, InstanceData, PixelData
from visionstack.tasks.pose.codecs import MSRAHeatmap, SimCCLabel, UDPHeatmap
from visionstack.tasks.pose.losses import KeypointMSELoss
from visionstack.tasks.pose.metainfo import COCO_KEYPOINTS
from visionstack.tasks.pose.models import (
    HeatmapHead,
    PoseTestConfig,
    RTMCCHead,
    TopdownPoseEstimator,
    crop_to_image,
    flip_heatmaps,
    flip_simcc,
    heatmap_pck_accuracy,
    simcc_pck_accuracy,
)
from visionstack.tasks.pose.transforms import topdown_warp_matrix

COCO_FLIP = COCO_KEYPOINTS["flip_indices"]
BLOB_FLIP = [0, 2, 1]  # three blob keypoints: 1 and 2 are each other's mirror


# ---- helpers --------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module", autouse=True)
def one_thread():
    """One intra-op thread: these tiny models run 10x slower with two threads on a shared 2-core machine."""
    previous = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(previous)


def tiny_cspnext(widen: float = 0.125) -> CSPNeXt:
    return CSPNeXt(deepen_factor=0.167, widen_factor=widen, out_indices=(4,))


def samples_with_targets(codec, keypoints: np.ndarray, center=(100.0, 50.0), scale=(128.0, 128.0)) -> list:
    """One DataSample per crop with the codec's targets (heatmaps or SimCC labels) and the crop geometry."""
    samples = []
    for points in keypoints:
        encoded = codec.encode(points[None])
        labels = InstanceData(keypoint_weights=torch.from_numpy(encoded["keypoint_weights"]))
        sample = DataSample(
            metainfo=dict(
                input_size=tuple(codec.input_size),
                input_center=np.array(center, np.float32),
                input_scale=np.array(scale, np.float32),
                flip_indices=BLOB_FLIP,
                bbox=np.array([[10.0, 20.0, 30.0, 40.0]], np.float32),
                bbox_score=np.array([0.9], np.float32),
            )
        )
        if "heatmaps" in encoded:
            sample.gt_fields = PixelData(heatmaps=torch.from_numpy(encoded["heatmaps"]))
        else:
            labels.keypoint_x_labels = torch.from_numpy(encoded["keypoint_x_labels"])
            labels.keypoint_y_labels = torch.from_numpy(encoded["keypoint_y_labels"])
        sample.gt_instance_labels = labels
        samples.append(sample)
    return samples


def blob_crops(num: int = 4, size: int = 64, seed: int = 0) -> tuple[torch.Tensor, np.ndarray]:
    """``num`` crops (3, size, size) with keypoint k a Gaussian blob (sigma 3) in colour channel k."""
    rng = np.random.default_rng(seed)
    points = rng.uniform(10, size - 10, (num, 3, 2)).astype(np.float32)
    yy, xx = np.mgrid[0:size, 0:size]
    images = np.exp(-((xx - points[..., 0, None, None]) ** 2 + (yy - points[..., 1, None, None]) ** 2) / 18.0)
    return torch.from_numpy(images.astype(np.float32) * 2 - 0.5), points


def precise_batch_norm(model: nn.Module, inputs: torch.Tensor) -> None:
    """Set every batch norm's running statistics to those of ``inputs`` (batches of 4 crops leave the
    running averages behind the weights they were computed with)."""
    for module in model.modules():
        if isinstance(module, nn.BatchNorm2d):
            module.reset_running_stats()
            module.momentum = None  # cumulative average: after one batch, that batch's statistics
    model.train()
    with torch.no_grad():
        model(inputs, mode="tensor")
    model.eval()


def overfit(
    model: TopdownPoseEstimator, inputs: torch.Tensor, samples: list, iterations: int, lr: float
) -> dict:
    torch.manual_seed(0)
    optimizer = torch.optim.AdamW(model.parameters(), lr=lr, weight_decay=0.0)
    model.train()
    for _ in range(iterations):
        losses = model.loss(inputs, samples)
        optimizer.zero_grad()
        losses["loss_kpt"].backward()
        optimizer.step()
    precise_batch_norm(model, inputs)
    return {key: float(value.detach()) for key, value in losses.items()}


def predicted_keypoints(model: TopdownPoseEstimator, inputs: torch.Tensor, samples: list) -> np.ndarray:
    with torch.no_grad():
        results = model.predict(inputs, [sample.clone() for sample in samples])
    return torch.cat([result.pred_instances.keypoints for result in results]).numpy()


def to_image(points: np.ndarray, center=(100.0, 50.0), scale=(128.0, 128.0), size=64) -> np.ndarray:
    return points / size * np.array(scale) + np.array(center) - np.array(scale) / 2


@pytest.fixture(scope="module")
def trained_heatmap_model():
    """CSPNeXt (widen 0.125) + SimpleBaseline's head (3 deconvs of 32) fitted to 4 blob crops of 64x64."""
    torch.manual_seed(0)
    codec = MSRAHeatmap(input_size=(64, 64), heatmap_size=(16, 16), sigma=2.0)
    head = HeatmapHead(128, 3, deconv_out_channels=(32, 32, 32), decoder=codec)
    model = TopdownPoseEstimator(tiny_cspnext(), head, test_cfg=dict(flip_test=False))
    inputs, points = blob_crops()
    samples = samples_with_targets(codec, points)
    losses = overfit(model, inputs, samples, iterations=60, lr=2e-3)
    return model, inputs, samples, points, losses


@pytest.fixture(scope="module")
def trained_simcc_model():
    """CSPNeXt (widen 0.125) + RTMCC head (GAU 64, s 32) fitted to the same 4 blob crops."""
    torch.manual_seed(0)
    codec = SimCCLabel(input_size=(64, 64), sigma=2.0, simcc_split_ratio=2.0, normalize=False)
    head = RTMCCHead(
        128, 3, (64, 64), (2, 2), final_layer_kernel_size=7, gau_cfg=dict(hidden_dims=64, s=32), decoder=codec
    )
    model = TopdownPoseEstimator(tiny_cspnext(), head, test_cfg=dict(flip_test=False))
    inputs, points = blob_crops()
    samples = samples_with_targets(codec, points)
    losses = overfit(model, inputs, samples, iterations=60, lr=4e-3)
    return model, inputs, samples, points, losses


# ---- shapes, published sizes, key names, initialisation ---------------------------------------------------------
def test_simplebaseline_resnet18_heatmaps_are_a_quarter_of_the_crop():
    torch.manual_seed(0)
    model = TopdownPoseEstimator(
        ResNet(depth=18), HeatmapHead(512, 17), test_cfg=dict(flip_test=False)
    ).eval()
    with torch.no_grad():
        heatmaps = model(torch.randn(2, 3, 128, 96), mode="tensor")
    assert heatmaps.shape == (2, 17, 32, 24)


def test_rtmcc_head_shapes_follow_input_size_and_split_ratio():
    torch.manual_seed(0)
    head = RTMCCHead(
        32,
        5,
        input_size=(48, 64),
        in_featuremap_size=(3, 4),
        simcc_split_ratio=2.0,
        final_layer_kernel_size=7,
        gau_cfg=dict(hidden_dims=16, s=8),
    )
    simcc_x, simcc_y = head((torch.randn(2, 32, 4, 3),))
    assert simcc_x.shape == (2, 5, 96) and simcc_y.shape == (2, 5, 128)
    with pytest.raises(ValueError, match="in_featuremap_size"):
        head((torch.randn(2, 32, 8, 6),))


def test_published_parameter_counts():
    """RTMPose-t/s/m (256x192) and SimpleBaseline ResNet-50: MMPose's model-zoo sizes (3.34, 5.47, 13.59, 34.0 M)."""
    expected = {(0.167, 0.375, 384): 3.34, (0.33, 0.5, 512): 5.47, (0.67, 0.75, 768): 13.59}
    with torch.device("meta"):
        for (deepen, widen, channels), millions in expected.items():
            head = RTMCCHead(channels, 17, (192, 256), (6, 8), final_layer_kernel_size=7)
            model = TopdownPoseEstimator(
                CSPNeXt(deepen_factor=deepen, widen_factor=widen, out_indices=(4,)), head
            )
            assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(millions, abs=0.005)
        model = TopdownPoseEstimator(ResNet(depth=50), HeatmapHead(2048, 17))
        assert sum(p.numel() for p in model.parameters()) / 1e6 == pytest.approx(34.0, abs=0.05)


def test_state_dict_keys_are_mmposes():
    rtmcc = RTMCCHead(16, 3, (32, 32), (1, 1), final_layer_kernel_size=7, gau_cfg=dict(hidden_dims=8, s=4))
    assert sorted(rtmcc.state_dict()) == sorted(
        [
            "final_layer.weight",
            "final_layer.bias",
            "mlp.0.g",
            "mlp.1.weight",
            "gau.o.weight",
            "gau.uv.weight",
            "gau.gamma",
            "gau.beta",
            "gau.ln.g",
            "gau.res_scale.scale",
            "cls_x.weight",
            "cls_y.weight",
        ]
    )
    heatmap = HeatmapHead(16, 3, deconv_out_channels=(8,), deconv_kernel_sizes=(4,))
    bn = ["weight", "bias", "running_mean", "running_var", "num_batches_tracked"]
    assert sorted(heatmap.state_dict()) == sorted(
        [
            "deconv_layers.0.weight",
            *(f"deconv_layers.1.{key}" for key in bn),
            "final_layer.weight",
            "final_layer.bias",
        ]
    )


def test_heads_start_as_mmpose_initialises_them():
    torch.manual_seed(0)
    head = HeatmapHead(256, 17)
    deconv = head.deconv_layers[0].weight
    assert deconv.std().item() == pytest.approx(0.001, rel=0.05) and head.deconv_layers[0].bias is None
    assert head.final_layer.weight.std().item() == pytest.approx(0.001, rel=0.2)
    assert torch.equal(head.final_layer.bias, torch.zeros(17)) and torch.equal(
        head.deconv_layers[1].weight, torch.ones(256)
    )
    rtmcc = RTMCCHead(64, 17, (192, 256), (6, 8), final_layer_kernel_size=7)
    for linear in (rtmcc.mlp[1], rtmcc.gau.uv, rtmcc.gau.o, rtmcc.cls_x):
        assert linear.weight.std().item() == pytest.approx(0.01, rel=0.05)
    assert rtmcc.final_layer.weight.std().item() == pytest.approx(0.001, rel=0.05)


# ---- losses and accuracy --------------------------------------------------------------------------------------
def test_heatmap_loss_is_weighted_mse_and_accuracy_counts_close_peaks():
    torch.manual_seed(0)
    codec = MSRAHeatmap(input_size=(32, 32), heatmap_size=(8, 8), sigma=1.0)
    head = HeatmapHead(8, 3, deconv_out_channels=(4,), deconv_kernel_sizes=(4,), decoder=codec)
    feats = (torch.randn(2, 8, 4, 4),)
    samples = samples_with_targets(codec, np.array([[[4, 4], [20, 12], [28, 28]]] * 2, np.float32))
    samples[1].gt_instance_labels.keypoint_weights = torch.tensor([[1.0, 0.0, 1.0]])
    losses = head.loss(feats, samples)
    targets = torch.stack([sample.gt_fields.heatmaps for sample in samples])
    weights = torch.tensor([[1.0, 1.0, 1.0], [1.0, 0.0, 1.0]])
    expected = KeypointMSELoss(use_target_weight=True)(head(feats), targets, weights)
    torch.testing.assert_close(losses["loss_kpt"], expected)
    # accuracy: perfect, then one of two keypoints 3 pixels off on an 8-wide map (3/8 > 0.05)
    assert heatmap_pck_accuracy(targets, targets, weights > 0).item() == 1.0
    moved = targets.clone()
    moved[:, 0] = torch.roll(targets[:, 0], 3, dims=-1)
    mask = torch.tensor([[True, False, True], [True, False, True]])
    assert heatmap_pck_accuracy(moved, targets, mask).item() == pytest.approx(0.5)
    # MMPose normalises (x, y) offsets by (H, W): one pixel down on a 40 x 20 (H x W) map is 1/20 = 0.05, wrong
    tall = torch.zeros(1, 1, 40, 20)
    tall[0, 0, 10, 10] = 1.0
    assert (
        heatmap_pck_accuracy(torch.roll(tall, 1, dims=2), tall, torch.ones(1, 1, dtype=torch.bool)).item()
        == 0.0
    )
    assert (
        heatmap_pck_accuracy(torch.roll(tall, 1, dims=3), tall, torch.ones(1, 1, dtype=torch.bool)).item()
        == 1.0
    )


def test_simcc_accuracy_in_input_pixels():
    target_x, target_y = torch.zeros(1, 2, 40), torch.zeros(1, 2, 80)
    target_x[0, :, 10], target_y[0, :, 30] = 1.0, 1.0
    pred_x, pred_y = target_x.clone(), target_y.clone()
    pred_x[0, 1] = torch.roll(target_x[0, 1], 6)  # 3 input pixels; normaliser H = 40 -> 0.075
    mask = torch.ones(1, 2, dtype=torch.bool)
    assert simcc_pck_accuracy((pred_x, pred_y), (target_x, target_y), 2.0, mask).item() == pytest.approx(0.5)


def test_missing_targets_are_named():
    head = HeatmapHead(8, 3, deconv_out_channels=(4,), deconv_kernel_sizes=(4,))
    sample = DataSample(metainfo=dict(img_path="a.jpg"))
    sample.gt_instance_labels = InstanceData(keypoint_weights=torch.ones(1, 3))
    with pytest.raises(ValueError, match="gt_fields.heatmaps"):
        head.loss((torch.randn(1, 8, 4, 4),), [sample])
    rtmcc = RTMCCHead(8, 3, (32, 32), (1, 1), gau_cfg=dict(hidden_dims=8, s=4))
    with pytest.raises(ValueError, match=r"a\.jpg.*keypoint_x_labels"):
        rtmcc.loss((torch.randn(1, 8, 1, 1),), [sample])
    with pytest.raises(KeyError, match="expansion_factor"):
        RTMCCHead(8, 3, (32, 32), (1, 1), gau_cfg=dict(expansion_factr=2))


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    codec = MSRAHeatmap(input_size=(64, 96), heatmap_size=(16, 24), sigma=2.0)
    simcc = SimCCLabel(input_size=(64, 96), sigma=2.0, normalize=False)
    rtmcc = RTMCCHead(
        48, 3, (64, 96), (2, 3), final_layer_kernel_size=7, gau_cfg=dict(hidden_dims=32, s=16), decoder=simcc
    )
    models = [
        (
            TopdownPoseEstimator(ResNet(depth=18), HeatmapHead(512, 3, (32, 32, 32), decoder=codec)),
            codec,
        ),
        (TopdownPoseEstimator(tiny_cspnext(0.047), rtmcc), simcc),
    ]
    points = np.array([[[10, 20], [30, 40], [25, 50]], [[5, 5], [40, 60], [20, 80]]], np.float32)
    for model, model_codec in models:
        losses = model.loss(torch.randn(2, 3, 96, 64), samples_with_targets(model_codec, points))
        losses["loss_kpt"].backward()
        for name, parameter in model.named_parameters():
            assert parameter.grad is not None and torch.isfinite(parameter.grad).all(), name
        backbone_weights = [p for n, p in model.backbone.named_parameters() if n.endswith("weight")]
        assert all(p.grad.abs().sum() > 0 for p in backbone_weights)


# ---- flip test ----------------------------------------------------------------------------------------------
def mirrored_keypoints(points: np.ndarray, width: int, flip_indices) -> np.ndarray:
    """The keypoints of the mirrored crop: x -> width - 1 - x, left and right swapped."""
    mirrored = points.copy()
    mirrored[..., 0] = width - 1 - mirrored[..., 0]
    return mirrored[:, flip_indices]


POINTS = np.array([[[30.0, 40.5], [50.5, 60.0], [61.5, 84.0]]], np.float32)  # (1, 3, 2) in a 96 x 128 crop


@pytest.mark.parametrize(
    "codec, shift, x_offset",
    [
        # DARK heatmaps (unrounded Gaussians, sub-pixel decoding): without the shift the mirror lands
        # 1 - 1/4 heatmap pixel = 3 input pixels left; the shift over-corrects by 1/4 heatmap pixel
        (MSRAHeatmap((96, 128), (24, 32), sigma=2.0, unbiased=True), True, 1.0),
        (MSRAHeatmap((96, 128), (24, 32), sigma=2.0, unbiased=True), False, -3.0),
        # UDP aligns pixel centres: exact without a shift
        (UDPHeatmap((96, 128), (24, 32), sigma=2.0), False, 0.0),
    ],
)
def test_flipped_heatmaps_come_back_to_the_keypoints(codec, shift, x_offset):
    mirrored = codec.encode(mirrored_keypoints(POINTS, 96, BLOB_FLIP))["heatmaps"]
    back = flip_heatmaps(torch.from_numpy(mirrored)[None], BLOB_FLIP, shift)[0].numpy()
    decoded, _ = codec.decode(back)
    np.testing.assert_allclose(decoded[0, :, 0], POINTS[0, :, 0] + x_offset, atol=0.01)
    np.testing.assert_allclose(decoded[0, :, 1], POINTS[0, :, 1], atol=0.01)


def test_flipped_simcc_comes_back_half_a_pixel_right():
    codec = SimCCLabel((96, 128), sigma=2.0, simcc_split_ratio=2.0)
    encoded = codec.encode(mirrored_keypoints(POINTS, 96, BLOB_FLIP))
    back_x, back_y = flip_simcc(
        torch.from_numpy(encoded["keypoint_x_labels"]),
        torch.from_numpy(encoded["keypoint_y_labels"]),
        BLOB_FLIP,
    )
    decoded, _ = codec.decode(back_x.numpy(), back_y.numpy())
    np.testing.assert_allclose(decoded[0], POINTS[0] + np.array([0.5, 0.0]), atol=1e-6)


class SymmetricBackbone(nn.Module):
    """Stride-1 convs with left/right symmetric kernels: mirroring the input mirrors every feature map."""

    def __init__(self) -> None:
        super().__init__()
        self.layers = nn.Sequential(
            nn.Conv2d(3, 8, 3, padding=1), nn.ReLU(), nn.Conv2d(8, 8, 3, padding=1), nn.ReLU()
        )

    def forward(self, x: torch.Tensor) -> tuple[torch.Tensor]:
        return (self.layers(x),)


def symmetric_heatmap_model(symmetric: bool) -> TopdownPoseEstimator:
    """Heatmaps at the input resolution; with ``symmetric``, the network commutes with the flip test's mirror:
    symmetric kernels everywhere except the final conv, whose kernels of keypoints 1 and 2 mirror each other."""
    torch.manual_seed(0)
    codec = MSRAHeatmap((24, 20), (24, 20), sigma=2.0)
    head = HeatmapHead(
        8,
        3,
        deconv_out_channels=(),
        conv_out_channels=(8,),
        conv_kernel_sizes=(3,),
        final_layer_kernel_size=3,
        decoder=codec,
    )
    model = TopdownPoseEstimator(
        SymmetricBackbone(), head, test_cfg=dict(flip_indices=BLOB_FLIP, shift_heatmap=False)
    )
    with torch.no_grad():
        for module in model.modules():
            if isinstance(module, nn.Conv2d):
                nn.init.normal_(module.weight, std=0.5)
                if symmetric and module is not head.final_layer:
                    module.weight.copy_((module.weight + module.weight.flip(-1)) / 2)
        if symmetric:
            final = head.final_layer
            final.weight[0] = (final.weight[0] + final.weight[0].flip(-1)) / 2
            final.weight[2] = final.weight[1].flip(-1)
            final.bias[2] = final.bias[1]
    return model.eval()


def test_flip_test_of_a_symmetric_network_changes_nothing():
    # heatmaps at stride 1: the mirror lands exactly (1 - 1 / stride = 0 pixels off), so no shift
    torch.manual_seed(1)
    inputs = torch.randn(2, 3, 20, 24, dtype=torch.float64)
    symmetric = symmetric_heatmap_model(symmetric=True).double()
    with torch.no_grad():
        plain = symmetric(inputs, mode="tensor")
        back = symmetric.head.flip_back(
            symmetric(inputs.flip(-1), mode="tensor"), BLOB_FLIP, symmetric.test_cfg
        )
        torch.testing.assert_close(back, plain, rtol=1e-12, atol=1e-12)
        with_flip = predicted_keypoints(symmetric, inputs, symmetric.samples_for_batch(inputs))
        symmetric.test_cfg = dataclasses.replace(symmetric.test_cfg, flip_test=False)
        without_flip = predicted_keypoints(symmetric, inputs, symmetric.samples_for_batch(inputs))
    np.testing.assert_allclose(with_flip, without_flip, atol=1e-5)
    # the check can fail: a network without the symmetry does not commute with the mirror
    other = symmetric_heatmap_model(symmetric=False).double()
    with torch.no_grad():
        back = other.head.flip_back(other(inputs.flip(-1), mode="tensor"), BLOB_FLIP, other.test_cfg)
        assert (back - other(inputs, mode="tensor")).abs().max() > 0.1


def test_flip_test_averages_plain_and_flipped_back_outputs():
    torch.manual_seed(0)
    codec = SimCCLabel((64, 64), sigma=2.0, normalize=False)
    head = RTMCCHead(48, 3, (64, 64), (2, 2), gau_cfg=dict(hidden_dims=16, s=8), decoder=codec)
    model = TopdownPoseEstimator(tiny_cspnext(0.047), head, test_cfg=dict(flip_indices=[5, 5, 5])).eval()
    inputs = torch.randn(2, 3, 64, 64)
    samples = [
        DataSample(metainfo=dict(m, flip_indices=BLOB_FLIP))
        for m in (s.metainfo for s in model.samples_for_batch(inputs))
    ]
    with torch.no_grad():
        x, y = head(model.extract_feat(inputs))
        fx, fy = flip_simcc(*head(model.extract_feat(inputs.flip(-1))), BLOB_FLIP)
        expected, _ = codec.decode(((x + fx) / 2).numpy(), ((y + fy) / 2).numpy())
    # the samples' flip_indices win over test_cfg's ([5, 5, 5] would be an error)
    np.testing.assert_allclose(predicted_keypoints(model, inputs, samples), expected, atol=1e-6)
    with pytest.raises(ValueError, match="permutation"):
        model.predict(inputs, None)
    model.test_cfg = PoseTestConfig(flip_test=True)
    with pytest.raises(ValueError, match="flip_indices"):
        model.predict(inputs, None)
    with pytest.raises(ValueError, match="flip_indices"):
        model.export_forward(inputs)


def test_test_cfg_keys_are_checked():
    with pytest.raises(KeyError, match="shift_heatmap"):
        PoseTestConfig.from_value(dict(shift_heatmaps=True))
    with pytest.raises(ValueError, match="flip_mode"):
        PoseTestConfig.from_value(dict(flip_mode="offset"))
    assert PoseTestConfig.from_value(None) == PoseTestConfig(
        flip_test=True, flip_mode="heatmap", shift_heatmap=None
    )


# ---- crop -> image --------------------------------------------------------------------------------------------
def test_crop_to_image_hand_case():
    center, scale = torch.tensor([[200.0, 300.0]]), torch.tensor([[150.0, 200.0]])
    crop = torch.tensor([[[48.0, 64.0], [0.0, 0.0], [96.0, 128.0], [24.0, 96.0]]])
    image = crop_to_image(crop, (96, 128), center, scale)
    expected = torch.tensor([[[200.0, 300.0], [125.0, 200.0], [275.0, 400.0], [162.5, 350.0]]])
    torch.testing.assert_close(image, expected)


@pytest.mark.parametrize("use_udp", [False, True])
def test_crop_to_image_inverts_the_pipelines_warp(use_udp):
    center, scale, size = np.array([210.0, 145.0]), np.array([120.0, 160.0]), (48, 64)
    matrix = topdown_warp_matrix(center, scale, 0.0, size, use_udp)
    image_points = np.array([[150.0, 65.0], [210.0, 145.0], [269.0, 224.0]])
    crop_points = image_points @ matrix[:, :2].T.astype(np.float64) + matrix[:, 2]
    extent = torch.tensor(size, dtype=torch.float64) - (1 if use_udp else 0)
    back = crop_to_image(
        torch.from_numpy(crop_points)[None], extent, torch.from_numpy(center), torch.from_numpy(scale)
    )
    np.testing.assert_allclose(back[0].numpy(), image_points, atol=1e-3)
    codec = UDPHeatmap(size, (12, 16)) if use_udp else MSRAHeatmap(size, (12, 16))
    model = TopdownPoseEstimator(SymmetricBackbone(), HeatmapHead(8, 3, decoder=codec))
    assert model.crop_extent(torch.tensor([48.0, 64.0])).tolist() == (
        [47.0, 63.0] if use_udp else [48.0, 64.0]
    )
    # crops given without samples map onto themselves
    meta = model.samples_for_batch(torch.zeros(1, 3, 64, 48))[0].metainfo
    crop = torch.tensor([[[0.0, 0.0], [47.0, 63.0], [20.5, 30.0]]])
    center, scale = torch.tensor([meta["input_center"]]), torch.tensor([meta["input_scale"]])
    extent = model.crop_extent(torch.tensor([48.0, 64.0]))
    torch.testing.assert_close(crop_to_image(crop, extent, center, scale), crop)


def test_predictions_carry_the_person_box():
    model = symmetric_heatmap_model(symmetric=True)
    inputs = torch.randn(1, 3, 20, 24)
    sample = DataSample(
        metainfo=dict(
            input_size=(24, 20),
            input_center=(50.0, 60.0),
            input_scale=(48.0, 40.0),
            bbox=np.array([[30.0, 44.0, 70.0, 76.0]]),
            bbox_score=np.array([0.7]),
        )
    )
    with torch.no_grad():
        crop_points, _ = model.export_forward(inputs)
        result = model.predict(inputs, [sample])[0].pred_instances
    torch.testing.assert_close(
        result.keypoints, crop_points * 2 + torch.tensor([26.0, 40.0]), atol=1e-4, rtol=0
    )
    assert result.bboxes.tolist() == [
        [30.0, 44.0, 70.0, 76.0]
    ] and result.bbox_scores.tolist() == pytest.approx([0.7])
    bare = model.predict(
        inputs,
        [DataSample(metainfo=dict(input_size=(24, 20), input_center=(50.0, 60.0), input_scale=(48.0, 40.0)))],
    )[0].pred_instances
    assert bare.bboxes.tolist() == [[26.0, 40.0, 74.0, 80.0]] and bare.bbox_scores.tolist() == [1.0]
    with pytest.raises(ValueError, match="input_center"):
        model.predict(inputs, [DataSample(metainfo=dict(img_path="x.jpg"))])


# ---- tiny overfits ---------------------------------------------------------------------------------------------
def test_heatmap_model_fits_four_crops(trained_heatmap_model):
    model, inputs, samples, points, losses = trained_heatmap_model
    assert losses["acc_pose"] == 1.0
    predicted = predicted_keypoints(model, inputs, samples)
    # MSRA targets peak on the nearest heatmap pixel (stride 4), so the codec's own round trip is the limit:
    # the argmax is the target's pixel, and the quarter-pixel step (1 crop pixel, 2 image pixels) may go either way
    codec = model.head.decoder
    round_trip = np.concatenate([codec.decode(codec.encode(p[None])["heatmaps"])[0] for p in points])
    np.testing.assert_allclose(predicted, to_image(round_trip), atol=2.0 + 1e-4, rtol=0)
    assert np.abs(predicted - to_image(points)).max() <= 2 * 3.0 + 1e-3  # 3/4 of a heatmap pixel at most


def test_simcc_model_fits_four_crops(trained_simcc_model):
    model, inputs, samples, points, losses = trained_simcc_model
    assert losses["acc_pose"] == 1.0
    predicted = predicted_keypoints(model, inputs, samples)
    assert np.abs(predicted - to_image(points)).max() < 2 * 1.0  # within one crop pixel
    # the head alone predicts the same keypoints in crop pixels
    with torch.no_grad():
        instances = model.head.predict(model.extract_feat(inputs), samples)
    np.testing.assert_allclose(
        to_image(torch.cat([i.keypoints for i in instances]).numpy()), predicted, atol=1e-4
    )


# ---- ONNX ------------------------------------------------------------------------------------------------------
def run_onnx(model, args, input_names, tmp_path):
    pytest.importorskip("onnxscript")
    ort = pytest.importorskip("onnxruntime")
    from visionstack.export import ExportForward, export_onnx

    path = export_onnx(
        ExportForward(model), args, tmp_path / "pose.onnx", input_names, list(model.export_output_names)
    )
    session = ort.InferenceSession(str(path), providers=["CPUExecutionProvider"])
    return session.run(None, {name: value.numpy() for name, value in zip(input_names, args)})


def test_onnx_heatmap_model_with_flip_test(trained_heatmap_model, tmp_path):
    model, inputs, samples, _, _ = trained_heatmap_model
    model.test_cfg = PoseTestConfig(flip_test=True, shift_heatmap=True, flip_indices=tuple(BLOB_FLIP))
    try:
        with torch.no_grad():
            eager_points, eager_scores = model.export_forward(inputs)
            predicted = predicted_keypoints(model, inputs, samples)
        onnx_points, onnx_scores = run_onnx(model, [inputs], ["input"], tmp_path)
    finally:
        model.test_cfg = PoseTestConfig(flip_test=False)
    np.testing.assert_allclose(onnx_points, eager_points.numpy(), atol=1e-3, rtol=0)
    np.testing.assert_allclose(onnx_scores, eager_scores.numpy(), atol=1e-5, rtol=1e-4)
    np.testing.assert_allclose(
        to_image(onnx_points), predicted, atol=1e-3, rtol=0
    )  # the NumPy decoding of predict


def test_onnx_simcc_model_maps_to_the_image(trained_simcc_model, tmp_path):
    model, inputs, samples, _, _ = trained_simcc_model
    model.test_cfg = PoseTestConfig(flip_test=True, flip_indices=tuple(BLOB_FLIP))
    center = torch.from_numpy(np.stack([s.metainfo["input_center"] for s in samples]))
    scale = torch.from_numpy(np.stack([s.metainfo["input_scale"] for s in samples]))
    try:
        with torch.no_grad():
            predicted = predicted_keypoints(model, inputs, samples)
            eager_points, eager_scores = model.export_forward(inputs, center, scale)
        onnx_points, onnx_scores = run_onnx(
            model, [inputs, center, scale], ["input", "input_center", "input_scale"], tmp_path
        )
    finally:
        model.test_cfg = PoseTestConfig(flip_test=False)
    np.testing.assert_allclose(eager_points.numpy(), predicted, atol=1e-3, rtol=0)
    np.testing.assert_allclose(onnx_points, predicted, atol=1e-3, rtol=0)
    np.testing.assert_allclose(onnx_scores, eager_scores.numpy(), atol=1e-5, rtol=1e-4)


# ---- building from a config, and loading weights ----------------------------------------------------------------
def test_builds_from_a_config_dict_and_loads_backbone_weights(tmp_path):
    torch.manual_seed(0)
    cfg = dict(
        type="TopdownPoseEstimator",
        backbone=dict(type="CSPNeXt", deepen_factor=0.167, widen_factor=0.125, out_indices=(4,)),
        head=dict(
            type="RTMCCHead",
            in_channels=128,
            out_channels=17,
            input_size=(96, 128),
            in_featuremap_size=(3, 4),
            final_layer_kernel_size=7,
            loss=dict(type="KLDiscretLoss", beta=10.0, label_softmax=True),
        ),
        test_cfg=dict(flip_test=True, flip_indices=COCO_FLIP),
    )
    model = build(cfg, MODELS)
    assert (
        isinstance(model, TopdownPoseEstimator)
        and model.task == "pose"
        and model.head.loss_module.beta == 10.0
    )
    path = tmp_path / "backbone.pth"
    torch.save({"state_dict": {f"backbone.{k}": v + 1 for k, v in model.backbone.state_dict().items()}}, path)
    loaded = build(dict(cfg, init_cfg=dict(checkpoint=str(path), prefix="backbone.")), MODELS)
    for key, value in model.backbone.state_dict().items():
        torch.testing.assert_close(loaded.backbone.state_dict()[key], value + 1)
    with pytest.raises(KeyError, match="prefix"):
        build(dict(cfg, init_cfg=dict(checkpoint=str(path), prefix="neck.")), MODELS)
