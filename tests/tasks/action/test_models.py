"""Action models: the data preprocessor, view averaging, heads, R(2+1)D, and ONNX export of each
recognizer checked with onnxruntime."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from torch import nn

from visionstack.registry import ConfigError
from visionstack.structures import DataSample, LabelData
from visionstack.tasks.action.models import (
    ActionDataPreprocessor,
    Conv2plus1d,
    GCNHead,
    I3DHead,
    Recognizer3D,
    ResNet2Plus1d,
    TSMHead,
    TSNHead,
    average_clip,
    factorized_mid_channels,
)

from .conftest import onnx_and_eager_scores

# ---- data preprocessor --------------------------------------------------------------------------


def test_preprocessor_nchw_flips_and_normalises_the_channel_axis():
    frames = torch.zeros(4, 3, 2, 2, dtype=torch.uint8)
    frames[:, 0] = 10  # B
    frames[:, 2] = 250  # R
    pre = ActionDataPreprocessor(mean=[100, 50, 0], std=[10, 5, 1], bgr_to_rgb=True, format_shape="NCHW")
    out = pre({"inputs": [frames, frames], "data_samples": None})["inputs"]
    assert out.shape == (2, 4, 3, 2, 2) and out.dtype == torch.float32
    assert torch.equal(out[0, 0, :, 0, 0], torch.tensor([(250 - 100) / 10, (0 - 50) / 5, 10.0]))


def test_preprocessor_ncthw_normalises_axis_one_of_each_item():
    clip = torch.zeros(2, 3, 4, 2, 2, dtype=torch.uint8)  # (views, C, T, H, W)
    clip[:, 0] = 10
    clip[:, 2] = 250
    pre = ActionDataPreprocessor(mean=[100, 50, 0], std=[10, 5, 1], bgr_to_rgb=True, format_shape="NCTHW")
    out = pre({"inputs": [clip], "data_samples": None})["inputs"]
    assert out.shape == (1, 2, 3, 4, 2, 2) and out.is_contiguous()
    expected = torch.tensor([15.0, -10.0, 10.0]).view(3, 1, 1, 1).expand(3, 4, 2, 2)
    assert torch.equal(out[0, 1], expected)


def test_preprocessor_passes_keypoints_through_as_float():
    keypoints = [torch.randn(1, 2, 8, 17, 3) for _ in range(3)]
    out = ActionDataPreprocessor(format_shape=None)({"inputs": keypoints, "data_samples": None})["inputs"]
    assert torch.equal(out, torch.stack(keypoints))
    with pytest.raises(ValueError, match="format_shape"):
        ActionDataPreprocessor(format_shape="NTHWC")


# ---- averaging views --------------------------------------------------------------------------

LOGITS = torch.tensor([[2.0, 0.0], [0.0, 0.0], [1.0, 3.0], [1.0, 1.0]])  # 2 samples x 2 views


def softmax_rows(rows):
    exp = np.exp(np.asarray(rows, dtype=np.float64))
    return exp / exp.sum(axis=-1, keepdims=True)


def test_average_clip_by_hand():
    p = softmax_rows([[2, 0], [0, 0], [1, 3], [1, 1]])
    prob = torch.from_numpy(np.stack([(p[0] + p[1]) / 2, (p[2] + p[3]) / 2])).float()
    score = torch.from_numpy(softmax_rows([[1, 0], [1, 2]])).float()
    torch.testing.assert_close(average_clip(LOGITS, 2, "prob"), prob)
    torch.testing.assert_close(average_clip(LOGITS, 2, "score"), score)
    torch.testing.assert_close(average_clip(LOGITS, 2, None), torch.tensor([[1.0, 0.0], [1.0, 2.0]]))
    with pytest.raises(ValueError, match="average_clips"):
        average_clip(LOGITS, 2, "max")


class FixedBackbone(nn.Module):
    """Ignores the pixels: the view index's row of LOGITS becomes the 'feature'."""

    def __init__(self) -> None:
        super().__init__()
        self.unused = nn.Parameter(torch.zeros(()))

    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return LOGITS[: x.shape[0]] + 0 * self.unused


class IdentityHead(nn.Module):
    def forward(self, x: torch.Tensor) -> torch.Tensor:
        return x


@pytest.mark.parametrize("mode", ["prob", "score", None])
def test_predict_averages_views_per_test_cfg(mode):
    model = Recognizer3D(FixedBackbone(), IdentityHead(), test_cfg=dict(average_clips=mode))
    samples = model.predict(torch.zeros(2, 2, 3, 1, 1, 1))
    expected = average_clip(LOGITS, 2, mode)
    for sample, row in zip(samples, expected):
        torch.testing.assert_close(sample.pred_label.score, row)
        assert sample.pred_label.label.tolist() == [int(row.argmax())]
    torch.testing.assert_close(model.export_forward(torch.zeros(2, 2, 3, 1, 1, 1)), expected)
    assert [int(s.pred_label.label) for s in samples] == [0, 1]
    with pytest.raises(ConfigError, match="test_cfg.average_clips"):
        Recognizer3D(FixedBackbone(), IdentityHead(), test_cfg=dict(average_clips="mean"))


def test_loss_averages_training_views_as_logits():
    model = Recognizer3D(FixedBackbone(), IdentityHead())
    samples = [DataSample(gt_label=LabelData(label=torch.tensor([label]))) for label in (0, 0)]
    losses = model.loss(torch.zeros(2, 2, 3, 1, 1, 1), samples)
    mean_logits = torch.tensor([[1.0, 0.0], [1.0, 2.0]])
    torch.testing.assert_close(
        losses["loss_cls"], nn.functional.cross_entropy(mean_logits, torch.tensor([0, 0]))
    )
    assert losses["top1_acc"].item() == 0.5
    assert model.task == "action" and model.export_output_names == ("scores",)


# ---- heads --------------------------------------------------------------------------------------


def test_heads_shapes():
    assert TSNHead(5, 16)(torch.randn(12, 16, 2, 2), num_segs=6).shape == (2, 5)
    assert TSMHead(5, 16, num_segments=4)(torch.randn(16, 16, 2, 2), num_segs=16).shape == (4, 5)
    assert I3DHead(5, 16)(torch.randn(3, 16, 2, 2, 2)).shape == (3, 5)
    assert GCNHead(5, 16)(torch.randn(3, 2, 16, 4, 17)).shape == (3, 5)
    head = TSNHead(5, 16, consensus=dict(type="AvgConsensus", dim=1), dropout_ratio=0.0).eval()
    x = torch.randn(6, 16, 2, 2)
    expected = head.fc_cls(x.mean(dim=(2, 3)).reshape(2, 3, 16).mean(1))
    torch.testing.assert_close(head(x, num_segs=3), expected)


# ---- R(2+1)D ------------------------------------------------------------------------------------


def test_mid_channels_formula_by_hand():
    # t d^2 N_in N_out / (d^2 N_in + t N_out), floored
    assert factorized_mid_channels(64, 64, (3, 3, 3)) == 144  # 110592 / 768
    assert factorized_mid_channels(3, 64, (3, 7, 7)) == 83  # 28224 / 339 = 83.26
    assert factorized_mid_channels(64, 128, (3, 3, 3)) == 230  # 221184 / 960 = 230.4
    assert factorized_mid_channels(16, 32, (1, 1, 1)) == 10  # 512 / 48 = 10.67
    conv = Conv2plus1d(16, 32, 3, stride=(2, 2, 2), padding=1)
    assert conv.conv_s.out_channels == 3 * 9 * 16 * 32 // (9 * 16 + 3 * 32) == 57
    assert conv.conv_s.kernel_size == (1, 3, 3) and conv.conv_s.stride == (1, 2, 2)
    assert conv.conv_t.kernel_size == (3, 1, 1) and conv.conv_t.stride == (2, 1, 1)
    assert (
        conv(torch.randn(1, 16, 8, 8, 8)).shape
        == nn.Conv3d(16, 32, 3, 2, 1)(torch.randn(1, 16, 8, 8, 8)).shape
    )


def test_r2plus1d_shapes_and_layout():
    model = ResNet2Plus1d(depth=18, base_channels=16).eval()
    assert model.conv1[0].conv_s.kernel_size == (1, 7, 7) and model.conv1[0].conv_t.kernel_size == (3, 1, 1)
    assert model.conv1[0].conv_s.stride == (1, 2, 2)
    with torch.no_grad():
        assert model(torch.randn(1, 3, 8, 64, 64))[0].shape == (1, 128, 1, 2, 2)
        no_pool = ResNet2Plus1d(depth=18, base_channels=16, with_pool1=False).eval()
        assert no_pool(torch.randn(1, 3, 8, 64, 64))[0].shape == (1, 128, 1, 4, 4)
    # the shortcut's width uses t = 3 as MMAction2's: 3 * 16 * 32 / (16 + 96) = 13.7
    assert model.layer2[0].downsample[0].conv_s.out_channels == 13
    assert model.layer2[0].downsample[0].conv_s.stride == (1, 2, 2)
    assert model.layer2[0].downsample[0].conv_t.stride == (2, 1, 1)
    assert [len(stage) for stage in ResNet2Plus1d(depth=34, base_channels=8).stages] == [3, 4, 6, 3]
    with pytest.raises(ValueError, match="depth"):
        ResNet2Plus1d(depth=50)


def test_r2plus1d_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = Recognizer3D(ResNet2Plus1d(depth=18, base_channels=8), I3DHead(3, 64, dropout_ratio=0.0))
    samples = [DataSample(gt_label=LabelData(label=torch.tensor([label]))) for label in (0, 2)]
    model.loss(torch.randn(2, 1, 3, 8, 32, 32), samples)["loss_cls"].backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def moving_square_clips(labels: torch.Tensor, frames: int = 8, size: int = 20) -> torch.Tensor:
    """(B, 1, 3, frames, size, size): a 4 px square moving 2 px a frame, left (label 0) or right
    (label 1), from a random start, over noise."""
    generator = torch.Generator().manual_seed(0)
    clips = 0.3 * torch.randn(len(labels), 1, 3, frames, size, size, generator=generator)
    for index, label in enumerate(labels.tolist()):
        step = 2 if label == 1 else -2
        start = int(torch.randint(0, size - 4, (1,), generator=generator))
        y = int(torch.randint(0, size - 4, (1,), generator=generator))
        for t in range(frames):
            x = (start + step * t) % (size - 4)
            clips[index, 0, :, t, y : y + 4, x : x + 4] += 2.0
    return clips


def test_r2plus1d_learns_the_direction_of_motion():
    torch.manual_seed(0)
    model = Recognizer3D(ResNet2Plus1d(depth=18, base_channels=8), I3DHead(2, 64, dropout_ratio=0.0))
    labels = torch.tensor([0, 1] * 4)
    inputs = moving_square_clips(labels)
    samples = [DataSample(gt_label=LabelData(label=label.reshape(1))) for label in labels]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    history = []
    for _ in range(25):
        optimizer.zero_grad()
        losses = model.loss(inputs, samples)
        losses["loss_cls"].backward()
        optimizer.step()
        history.append((losses["loss_cls"].item(), losses["top1_acc"].item()))
    assert history[-1][0] < 0.1 * history[0][0] and history[-1][1] == 1.0, history


# ---- ONNX ---------------------------------------------------------------------------------------


def test_onnx_r2plus1d_recognizer(tmp_path):
    torch.manual_seed(0)
    model = Recognizer3D(
        ResNet2Plus1d(depth=18, base_channels=8), I3DHead(3, 64), test_cfg=dict(average_clips="score")
    )
    for onnx_scores, eager in onnx_and_eager_scores(
        model, [torch.randn(1, 2, 3, 8, 32, 32), torch.randn(2, 2, 3, 8, 32, 32)], tmp_path
    ):
        np.testing.assert_allclose(onnx_scores, eager, atol=1e-4)
        np.testing.assert_allclose(onnx_scores.sum(axis=1), 1.0, atol=1e-5)
