"""Keypoint codecs: targets against slow loop references, seeded round trips within the published
precision of each method, target weights, shapes and errors, the PyTorch decoding against the NumPy
one, and the ONNX export of the PyTorch decoding run by onnxruntime."""

from __future__ import annotations

import io
import math
import subprocess
import sys

import cv2
import numpy as np
import pytest
import torch

from visionstack.registry import ConfigError
from visionstack.tasks.pose.codecs import KEYPOINT_CODECS, MSRAHeatmap, SimCCLabel, UDPHeatmap, build_codec
from visionstack.tasks.pose.codecs.refinement import (
    blur_kernel_size_for_sigma,
    gaussian_blur,
    opencv_gaussian_kernel,
    refine_quarter_offset,
)

INPUT_SIZE, HEATMAP_SIZE = (192, 256), (48, 64)  # (w, h) and (W, H): stride 4, SimpleBaseline / RTMPose COCO
STRIDE = 4.0


def _codec(name: str):
    return {
        "msra": MSRAHeatmap(INPUT_SIZE, HEATMAP_SIZE, sigma=2.0),
        "dark": MSRAHeatmap(INPUT_SIZE, HEATMAP_SIZE, sigma=2.0, unbiased=True),
        "udp": UDPHeatmap(INPUT_SIZE, HEATMAP_SIZE, sigma=2.0),
        "simcc": SimCCLabel(INPUT_SIZE, sigma=(4.9, 5.66), simcc_split_ratio=2.0, normalize=False),
        "simcc_dark": SimCCLabel(INPUT_SIZE, sigma=(4.9, 5.66), normalize=False, use_dark=True),
    }[name]


def _random_keypoints(seed: int, count: int, low=(0.0, 0.0), high=(191.0, 255.0)) -> np.ndarray:
    """(1, count, 2) sub-pixel keypoints, uniform in [low, high] input pixels (pixel centres at integers)."""
    return np.random.default_rng(seed).uniform(low, high, size=(1, count, 2))


# ------------------------------------------------------------------ registry and building


def test_registry_holds_the_codecs_and_build_codec_builds_or_passes_through():
    assert {"MSRAHeatmap", "UDPHeatmap", "SimCCLabel"} <= set(KEYPOINT_CODECS.keys())
    codec = build_codec(dict(type="MSRAHeatmap", input_size=(192, 256), heatmap_size=(48, 64), unbiased=True))
    assert isinstance(codec, MSRAHeatmap) and codec.unbiased
    assert codec.input_size == (192, 256) and codec.heatmap_size == (48, 64)
    assert build_codec(codec) is codec
    simcc = build_codec(dict(type="SimCCLabel", input_size=(192, 256), sigma=(4.9, 5.66), normalize=False))
    assert simcc.simcc_split_ratio == 2.0 and simcc.label_size == (384, 512)


def test_build_codec_errors_name_the_problem():
    with pytest.raises(ConfigError, match="MSRAHeatmap"):  # did-you-mean suggestion
        build_codec(dict(type="MSRAHeatmapp", input_size=(192, 256), heatmap_size=(48, 64)))
    with pytest.raises(ConfigError, match="sigmaa"):
        build_codec(dict(type="UDPHeatmap", input_size=(192, 256), heatmap_size=(48, 64), sigmaa=2))
    with pytest.raises(TypeError, match="build_codec.*int"):
        build_codec(3)
    with pytest.raises(TypeError, match="type"):
        build_codec(dict(input_size=(192, 256)))


def test_codecs_import_and_decode_without_torch():
    """The deploy runtime decodes with NumPy only: importing and using the codecs loads no PyTorch."""
    code = (
        "import sys, numpy as np\n"
        "from visionstack.tasks.pose.codecs import build_codec\n"
        "c = build_codec(dict(type='UDPHeatmap', input_size=(32, 32), heatmap_size=(8, 8)))\n"
        "c.decode(c.encode(np.full((1, 2, 2), 12.3))['heatmaps'])\n"
        "assert 'torch' not in sys.modules, 'torch was imported'\n"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_constructor_errors():
    with pytest.raises(ValueError, match="MSRAHeatmap: heatmap_size"):
        MSRAHeatmap((192, 256), (48,))
    with pytest.raises(ValueError, match="UDPHeatmap: sigma"):
        UDPHeatmap((192, 256), (48, 64), sigma=0)
    with pytest.raises(ValueError, match="blur_kernel_size"):
        MSRAHeatmap((192, 256), (48, 64), blur_kernel_size=10)
    with pytest.raises(ValueError, match="smoothing_type"):
        SimCCLabel((192, 256), smoothing_type="laplace")
    with pytest.raises(ValueError, match="label_smooth_weight"):
        SimCCLabel((192, 256), label_smooth_weight=0.1)  # only for "standard"


# ------------------------------------------------------------------ blur kernel against OpenCV


@pytest.mark.parametrize("size", [3, 5, 7, 11, 17, 29, 35])
def test_blur_kernel_and_blur_match_opencv(size):
    np.testing.assert_allclose(
        opencv_gaussian_kernel(size), cv2.getGaussianKernel(size, 0).ravel(), atol=1e-7
    )
    maps = np.random.default_rng(size).random((3, 20, 30), dtype=np.float32)
    border = size // 2
    expected = np.empty_like(maps)
    for k, heatmap in enumerate(maps):  # MMPose's recipe: zero border, cv2.GaussianBlur, back to the old max
        padded = np.pad(heatmap, border)
        blurred = cv2.GaussianBlur(padded, (size, size), 0)[border:-border, border:-border]
        expected[k] = blurred * heatmap.max() / blurred.max()
    np.testing.assert_allclose(gaussian_blur(maps, size), expected, atol=1e-6)


def test_simcc_blur_size_follows_mmpose_formula():
    assert blur_kernel_size_for_sigma(4.9) == 29  # (98 - 7) // 3 = 30, made odd downwards
    assert blur_kernel_size_for_sigma(5.66) == 35
    assert blur_kernel_size_for_sigma(6.0) == 37


# ------------------------------------------------------------------ targets against loop references


def _reference_heatmap(center, window_center, sigma, size):
    """One keypoint's target by a pixel loop: exp(-d^2 / 2 sigma^2) inside the 3-sigma window."""
    width, height = size
    half = math.floor(3 * sigma)
    heatmap = np.zeros((height, width))
    for y in range(height):
        for x in range(width):
            if window_center is not None and (
                abs(x - window_center[0]) > half or abs(y - window_center[1]) > half
            ):
                continue
            heatmap[y, x] = math.exp(-((x - center[0]) ** 2 + (y - center[1]) ** 2) / (2 * sigma**2))
    return heatmap


@pytest.mark.parametrize("name", ["msra", "dark", "udp"])
def test_heatmap_targets_match_loop_reference(name):
    codec = _codec(name)
    keypoints = np.array([[[50.3, 77.9], [3.1, 250.2], [190.0, 0.4], [100.49, 130.51]]])
    heatmaps = codec.encode(keypoints)["heatmaps"]
    assert heatmaps.shape == (4, 64, 48) and heatmaps.dtype == np.float32
    for k, (x, y) in enumerate(keypoints[0]):
        if name == "udp":
            center = (x * 47 / 191, y * 63 / 255)  # (heatmap - 1) / (input - 1)
        else:
            center = (x / STRIDE, y / STRIDE)
        rounded = (math.floor(center[0] + 0.5), math.floor(center[1] + 0.5))
        peak, window = {"msra": (rounded, rounded), "dark": (center, None), "udp": (center, rounded)}[name]
        np.testing.assert_allclose(
            heatmaps[k], _reference_heatmap(peak, window, 2.0, HEATMAP_SIZE), atol=1e-6
        )


def test_simcc_labels_match_loop_reference():
    codec = SimCCLabel(INPUT_SIZE, sigma=(4.9, 5.66), normalize=True)
    keypoints = np.array([[[50.3, 77.9], [0.1, 254.8]], [[120.26, 3.74], [191.0, 0.0]]])
    encoded = codec.encode(keypoints)
    assert encoded["keypoint_x_labels"].shape == (2, 2, 384) and encoded["keypoint_y_labels"].shape == (
        2,
        2,
        512,
    )
    for n in range(2):
        for k in range(2):
            for axis, key in enumerate(("keypoint_x_labels", "keypoint_y_labels")):
                sigma = (4.9, 5.66)[axis]
                mu = round(keypoints[n, k, axis] * 2.0)
                expected = [
                    math.exp(-((i - mu) ** 2) / (2 * sigma**2)) / (sigma * math.sqrt(2 * math.pi))
                    for i in range(codec.label_size[axis])
                ]
                np.testing.assert_allclose(encoded[key][n, k], expected, atol=1e-7)


def test_simcc_standard_labels_are_smoothed_one_hot():
    codec = SimCCLabel((10, 8), smoothing_type="standard", simcc_split_ratio=2.0, label_smooth_weight=0.2)
    encoded = codec.encode(np.array([[[3.2, 6.9], [20.0, 1.0]]]))
    x_label = encoded["keypoint_x_labels"][0, 0]
    assert x_label.shape == (20,) and x_label.argmax() == 6
    np.testing.assert_allclose(x_label[6], 0.8)
    np.testing.assert_allclose(np.delete(x_label, 6), 0.2 / 19)
    assert (
        encoded["keypoint_y_labels"].shape == (1, 2, 16) and encoded["keypoint_y_labels"][0, 0].argmax() == 14
    )
    # bin 40 of x is outside [0, 20): weight 0 and an all-zero label
    np.testing.assert_array_equal(encoded["keypoint_weights"], [[1.0, 0.0]])
    assert not encoded["keypoint_x_labels"][0, 1].any()


# ------------------------------------------------------------------ round trips


def _interior(keypoints: np.ndarray, codec, margin: float) -> np.ndarray:
    """(K,) True for keypoints at least ``margin`` heatmap pixels from every heatmap border."""
    heatmap_xy = keypoints[0] / codec.scale_factor
    limit = np.array(codec.heatmap_size) - 1
    return ((heatmap_xy >= margin) & (heatmap_xy <= limit - margin)).all(axis=-1)


def test_msra_round_trip_within_half_a_stride():
    codec = _codec("msra")
    keypoints = _random_keypoints(0, 2000)
    decoded, scores = codec.decode(codec.encode(keypoints)["heatmaps"])
    interior = _interior(keypoints, codec, 2)
    error = np.abs(decoded - keypoints)[0][interior]
    assert error.max() <= 0.5 * STRIDE + 1e-4
    # the peak sits on the rounded position, so the error is the rounding: about a quarter stride on average
    assert 0.15 * STRIDE < error.mean() < 0.35 * STRIDE
    np.testing.assert_allclose(scores[0][interior], 1.0)


@pytest.mark.parametrize("name", ["dark", "udp"])
def test_unbiased_heatmap_round_trip_within_a_tenth_pixel(name):
    codec = _codec(name)
    keypoints = _random_keypoints(1, 2000)
    decoded, _ = codec.decode(codec.encode(keypoints)["heatmaps"])
    error = np.linalg.norm(decoded - keypoints, axis=-1)[0]
    interior = _interior(keypoints, codec, 2 * codec.sigma)  # the blur's zero padding biases the border
    assert interior.sum() > 1000
    assert error[interior].max() <= 0.1
    assert np.median(error) < 0.01


@pytest.mark.parametrize("name", ["simcc", "simcc_dark"])
def test_simcc_round_trip_within_a_quarter_pixel(name):
    codec = _codec(name)
    keypoints = _random_keypoints(2, 3000)
    encoded = codec.encode(keypoints)
    decoded, scores = codec.decode(encoded["keypoint_x_labels"], encoded["keypoint_y_labels"])
    error = np.abs(decoded - keypoints)[0]
    if name == "simcc":  # plain argmax: the 0.5-pixel bins round, everywhere in the image
        assert error.max() <= 0.25 + 1e-6
        np.testing.assert_allclose(scores, 1.0)
    else:  # DARK near the ends reads the zero-padded blur; away from them it stays on the bin
        interior = ((keypoints[0] >= 10) & (keypoints[0] <= np.array(INPUT_SIZE) - 11)).all(axis=-1)
        assert error[interior].max() <= 0.25 + 0.01


def test_quarter_offset_moves_towards_the_higher_neighbour():
    heatmaps = np.zeros((3, 7, 7), dtype=np.float32)
    heatmaps[0, 3, 3], heatmaps[0, 3, 4], heatmaps[0, 2, 3] = 1.0, 0.5, 0.2  # right and up
    heatmaps[1, 3, 3], heatmaps[1, 3, 2] = 1.0, 0.5  # left; y neighbours equal
    heatmaps[2, 3, 1], heatmaps[2, 3, 2] = 1.0, 0.5  # x = 1: MMPose's bounds leave it
    locations = np.array([[3, 3], [3, 3], [1, 3]], dtype=np.float32)
    np.testing.assert_allclose(refine_quarter_offset(locations, heatmaps), [[3.25, 2.75], [2.75, 3], [1, 3]])


# ------------------------------------------------------------------ weights, shapes, errors


@pytest.mark.parametrize("name", ["msra", "dark", "udp"])
def test_heatmap_weights_for_invisible_and_out_of_range_keypoints(name):
    codec = _codec(name)
    keypoints = np.array(
        [[[50.0, 60.0], [70.0, 80.0], [-60.0, 100.0], [100.0, 400.0], [-4.0, 100.0], [np.nan, 1]]]
    )
    visible = np.array([[1.0, 0.0, 1.0, 1.0, 1.0, 1.0]])
    encoded = codec.encode(keypoints, visible)
    weights, heatmaps = encoded["keypoint_weights"], encoded["heatmaps"]
    assert weights.shape == (1, 6) and weights.dtype == np.float32
    # visible; invisible; 15 heatmap pixels left of the map; 36 below it; 1 pixel left (its 3-sigma
    # Gaussian still reaches in, as in MMPose); not finite
    np.testing.assert_array_equal(weights, [[1, 0, 0, 0, 1, 0]])
    assert heatmaps[0].max() > 0.9 and heatmaps[4].max() > 0.5
    assert not heatmaps[[1, 2, 3, 5]].any()


def test_simcc_weights_shapes_and_dtypes():
    codec = _codec("simcc")
    keypoints = np.array([[[50.0, 60.0], [70.0, 80.0]], [[-30.0, 10.0], [10.0, 300.0]]])
    encoded = codec.encode(keypoints, np.array([[1.0, 0.0], [1.0, 1.0]]))
    assert encoded["keypoint_x_labels"].shape == (2, 2, 384) and encoded["keypoint_y_labels"].shape == (
        2,
        2,
        512,
    )
    assert all(value.dtype == np.float32 for value in encoded.values())
    np.testing.assert_array_equal(encoded["keypoint_weights"], [[1, 0], [0, 0]])
    assert not encoded["keypoint_x_labels"][0, 1].any() and not encoded["keypoint_y_labels"][1].any()
    decoded, scores = codec.decode(encoded["keypoint_x_labels"][0], encoded["keypoint_y_labels"][0])  # (K, L)
    assert decoded.shape == (1, 2, 2) and scores.shape == (1, 2)
    np.testing.assert_allclose(decoded[0, 0], [50.0, 60.0])
    np.testing.assert_allclose(decoded[0, 1], [-0.5, -0.5])  # an all-zero label: bin -1
    assert scores[0, 1] == 0


@pytest.mark.parametrize("name", ["msra", "udp"])
def test_heatmap_encode_and_decode_errors_name_the_codec(name):
    codec = _codec(name)
    cls = type(codec).__name__
    with pytest.raises(ValueError, match=f"{cls}.encode: heatmaps hold one instance"):
        codec.encode(np.zeros((2, 17, 2)))
    with pytest.raises(ValueError, match=f"{cls}.encode: keypoints must be"):
        codec.encode(np.zeros((1, 17)))
    with pytest.raises(ValueError, match=f"{cls}.encode: keypoints_visible"):
        codec.encode(np.zeros((1, 17, 2)), np.ones((1, 16)))
    with pytest.raises(
        ValueError, match=rf"{cls}.decode: heatmaps must be \(K, H, W\) with \(H, W\) = \(64, 48\)"
    ):
        codec.decode(np.zeros((17, 48, 64)))
    with pytest.raises(ValueError, match=f"{cls}.decode_torch"):
        codec.decode_torch(torch.zeros(17, 64, 48))
    with pytest.raises(ValueError, match="SimCCLabel.decode"):
        _codec("simcc").decode(np.zeros((1, 17, 384)), np.zeros((1, 16, 512)))


def test_heatmap_decode_shapes_and_empty_channel():
    codec = _codec("dark")
    heatmaps = codec.encode(np.array([[[40.0, 50.0], [10.0, 20.0]]]))["heatmaps"]
    heatmaps[1] = 0  # no maximum above 0
    keypoints, scores = codec.decode(heatmaps)
    assert keypoints.shape == (1, 2, 2) and scores.shape == (1, 2)
    assert keypoints.dtype == np.float32 and scores.dtype == np.float32
    np.testing.assert_allclose(keypoints[0, 0], [40.0, 50.0], atol=0.01)
    np.testing.assert_allclose(keypoints[0, 1], [-STRIDE, -STRIDE])  # heatmap pixel (-1, -1)
    assert scores[0, 1] == 0


# ------------------------------------------------------------------ PyTorch decoding and ONNX


def _network_like_outputs(name: str, batch: int, seed: int):
    """Encoded targets of random keypoints plus noise, as a network would predict them."""
    codec = _codec(name)
    rng = np.random.default_rng(seed)
    # interior keypoints: near the ends a Newton step can divide by a tiny curvature, which magnifies
    # float32 rounding differences (identically wrong in both implementations, but not to 1e-3)
    keypoints = rng.uniform([16.0, 16.0], [175.0, 239.0], size=(batch, 17, 2))
    if isinstance(codec, SimCCLabel):
        encoded = codec.encode(keypoints)
        outputs = (encoded["keypoint_x_labels"], encoded["keypoint_y_labels"])
    else:
        outputs = (np.stack([codec.encode(keypoints[n : n + 1])["heatmaps"] for n in range(batch)]),)
    return codec, tuple((out + rng.normal(0, 0.02, out.shape)).astype(np.float32) for out in outputs)


def _numpy_decode(codec, outputs):
    if isinstance(codec, SimCCLabel):
        return codec.decode(*outputs)
    decoded = [codec.decode(heatmaps) for heatmaps in outputs[0]]
    return np.concatenate([k for k, _ in decoded]), np.concatenate([s for _, s in decoded])


@pytest.mark.parametrize("name", ["msra", "dark", "udp", "simcc", "simcc_dark"])
def test_decode_torch_matches_numpy_decode(name):
    codec, outputs = _network_like_outputs(name, batch=3, seed=10)
    expected_keypoints, expected_scores = _numpy_decode(codec, outputs)
    keypoints, scores = codec.decode_torch(*(torch.from_numpy(out) for out in outputs))
    assert keypoints.shape == (3, 17, 2) and scores.shape == (3, 17)
    np.testing.assert_allclose(keypoints.numpy(), expected_keypoints, atol=1e-3)
    np.testing.assert_allclose(scores.numpy(), expected_scores, atol=1e-6)
    # the refinement really ran: the keypoints left the grid of heatmap pixels (SimCC bins)
    grid = 1 / codec.simcc_split_ratio if isinstance(codec, SimCCLabel) else codec.scale_factor
    off_grid = np.abs(expected_keypoints / grid - np.round(expected_keypoints / grid)).max()
    assert (off_grid == 0) if name == "simcc" else (off_grid > 0.01)


class _Decoder(torch.nn.Module):
    def __init__(self, codec) -> None:
        super().__init__()
        self.codec = codec

    def forward(self, *outputs: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
        return self.codec.decode_torch(*outputs)


@pytest.mark.filterwarnings("ignore:.*TorchScript-based ONNX export", "ignore:The feature will be removed")
@pytest.mark.parametrize("name", ["msra", "dark", "udp", "simcc", "simcc_dark"])
def test_decode_torch_exports_to_onnx_and_runs_in_onnxruntime(name):
    ort = pytest.importorskip("onnxruntime")
    codec, sample = _network_like_outputs(name, batch=1, seed=20)
    names = [f"input{i}" for i in range(len(sample))]
    buffer = io.BytesIO()
    torch.onnx.export(
        _Decoder(codec),
        tuple(torch.from_numpy(out) for out in sample),
        buffer,
        dynamo=False,
        opset_version=17,
        input_names=names,
        output_names=["keypoints", "scores"],
        dynamic_axes={name: {0: "batch"} for name in names},
    )
    session = ort.InferenceSession(buffer.getvalue(), providers=["CPUExecutionProvider"])
    _, outputs = _network_like_outputs(name, batch=4, seed=21)  # another batch size than the export's
    keypoints, scores = session.run(None, dict(zip(names, outputs)))
    expected_keypoints, expected_scores = _numpy_decode(codec, outputs)
    assert keypoints.shape == (4, 17, 2)
    np.testing.assert_allclose(keypoints, expected_keypoints, atol=1e-3)
    np.testing.assert_allclose(scores, expected_scores, atol=1e-6)
