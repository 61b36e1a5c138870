"""ResNet-TSM: the temporal shift against a slow loop, the zero shift against the plain ResNet,
the num_segments checks, gradients, and a tiny overfit on direction of motion."""

from __future__ import annotations

import numpy as np
import pytest
import torch

from visionstack.models.backbones.resnet import ResNet
from visionstack.registry import ConfigError
from visionstack.structures import DataSample, LabelData
from visionstack.tasks.action.models import Recognizer2D, ResNetTSM, TSMHead, TSNHead, temporal_shift

from .conftest import onnx_and_eager_scores


def slow_shift(x: torch.Tensor, num_segments: int, shift_div: int) -> torch.Tensor:
    """Loop over clips, frames and channels: channels [0, fold) take the next frame, [fold, 2 fold)
    the previous one, zeros past the ends."""
    frames, channels = x.shape[:2]
    fold = channels // shift_div
    out = torch.zeros_like(x)
    for clip in range(frames // num_segments):
        for t in range(num_segments):
            row = clip * num_segments + t
            for c in range(channels):
                if c < fold:
                    if t + 1 < num_segments:
                        out[row, c] = x[row + 1, c]
                elif c < 2 * fold:
                    if t >= 1:
                        out[row, c] = x[row - 1, c]
                else:
                    out[row, c] = x[row, c]
    return out


@pytest.mark.parametrize(("channels", "shift_div", "segments"), [(16, 8, 4), (10, 4, 3), (12, 3, 5)])
def test_temporal_shift_matches_the_slow_loop(channels, shift_div, segments):
    x = torch.randn(2 * segments, channels, 3, 2, dtype=torch.float64)
    assert torch.equal(temporal_shift(x, segments, shift_div), slow_shift(x, segments, shift_div))


def test_zero_shift_equals_the_plain_resnet_on_each_frame():
    torch.manual_seed(0)
    tsm = ResNetTSM(depth=18, num_segments=4, shift_div=1000).eval()  # fold = 64 // 1000 = 0
    plain = ResNet(depth=18).eval()
    plain.load_state_dict(tsm.state_dict())  # the shift keeps torchvision's parameter names
    frames = torch.randn(8, 3, 64, 64)
    with torch.no_grad():
        assert torch.equal(tsm(frames)[0], plain(frames)[0])
        # with the shift on, the same weights give other outputs
        shifted = ResNetTSM(depth=18, num_segments=4).eval()
        shifted.load_state_dict(tsm.state_dict())
        assert not torch.allclose(shifted(frames)[0], plain(frames)[0])


def test_shift_mixes_neighbouring_frames_only_within_a_clip():
    torch.manual_seed(0)
    model = ResNetTSM(depth=18, base_channels=16, num_segments=4).eval()
    frames = torch.randn(8, 3, 64, 64)
    changed = frames.clone()
    changed[1] += 1.0  # frame 1 of clip 0
    with torch.no_grad():
        delta = (model(frames)[0] - model(changed)[0]).abs().flatten(1).amax(1)
    assert (delta[:4] > 0).all()  # every frame of the first clip sees it (8 stacked shifts)
    assert (delta[4:] == 0).all()  # the second clip does not


def test_narrow_variant_shapes_and_temporal_pool():
    model = ResNetTSM(depth=18, base_channels=16, num_segments=8).eval()
    assert model.out_channels == (128,)
    with torch.no_grad():
        assert model(torch.randn(8, 3, 64, 64))[0].shape == (8, 128, 2, 2)
        pooled = ResNetTSM(depth=18, base_channels=16, num_segments=8, temporal_pool=True).eval()
        assert pooled(torch.randn(16, 3, 64, 64))[0].shape == (8, 128, 2, 2)
        head = TSMHead(num_classes=3, in_channels=128, num_segments=8, temporal_pool=True)
        recognizer = Recognizer2D(pooled, head).eval()
        assert recognizer.export_forward(torch.randn(2, 8, 3, 64, 64)).shape == (2, 3)
    assert ResNetTSM(depth=50, base_channels=16).out_channels == (512,)
    with pytest.raises(ValueError, match="shift_place"):
        ResNetTSM(depth=18, shift_place="inplace")


def test_block_shift_place_shifts_the_shortcut_too():
    torch.manual_seed(0)
    block = ResNetTSM(depth=18, base_channels=16, num_segments=4, shift_place="block").eval()
    blockres = ResNetTSM(depth=18, base_channels=16, num_segments=4).eval()
    state = {key.replace(".block.", "."): value for key, value in block.state_dict().items()}
    blockres.load_state_dict(state)
    frames = torch.randn(4, 3, 64, 64)
    with torch.no_grad():
        assert block(frames)[0].shape == blockres(frames)[0].shape
        assert not torch.allclose(block(frames)[0], blockres(frames)[0])


def sample(label: int, num_clips: int = 8, clip_len: int = 1) -> DataSample:
    data = DataSample(gt_label=LabelData(label=torch.tensor([label])))
    data.set_metainfo({"num_clips": num_clips, "clip_len": clip_len, "img_path": f"video{label}.mp4"})
    return data


def test_num_segments_mismatches_are_config_errors():
    backbone = ResNetTSM(depth=18, base_channels=8, num_segments=8)
    with pytest.raises(ConfigError, match=r"model.cls_head.num_segments=4 .*model.backbone.num_segments=8"):
        Recognizer2D(backbone, TSMHead(num_classes=2, in_channels=64, num_segments=4))
    model = Recognizer2D(backbone, TSMHead(num_classes=2, in_channels=64, num_segments=8)).eval()
    inputs = torch.randn(1, 16, 3, 32, 32)
    with pytest.raises(
        ConfigError, match=r"num_segments=8 .*num_clips x clip_len = 16 x 1 = 16.*SampleFrames num_clips"
    ):
        model.predict(inputs, [sample(0, num_clips=16)])
    with pytest.raises(ConfigError, match="train_pipeline"):
        model.loss(torch.randn(1, 4, 3, 32, 32), [sample(0, num_clips=4)])
    with pytest.raises(ConfigError, match="not a multiple"):
        model.predict(torch.randn(1, 12, 3, 32, 32))
    # views x num_segments frames with the right metainfo are fine: one row per view, averaged
    samples = model.predict(inputs, [sample(1)])
    assert samples[0].pred_label.score.shape == (2,)


def test_gradients_reach_every_parameter():
    torch.manual_seed(0)
    model = Recognizer2D(
        ResNetTSM(depth=18, base_channels=8, num_segments=4),
        TSMHead(num_classes=3, in_channels=64, num_segments=4),
    )
    losses = model.loss(torch.randn(2, 4, 3, 32, 32), [sample(0, 4), sample(2, 4)])
    losses["loss_cls"].backward()
    for name, parameter in model.named_parameters():
        assert parameter.grad is not None and parameter.grad.abs().sum() > 0, name


def test_tsn_head_averages_all_frames_into_one_row():
    torch.manual_seed(0)
    model = Recognizer2D(ResNet(depth=18), TSNHead(num_classes=4, in_channels=512, dropout_ratio=0.0)).eval()
    with torch.no_grad():
        logits = model(torch.randn(2, 6, 3, 32, 32), mode="tensor")
    assert logits.shape == (2, 4)


def moving_square_clips(labels: torch.Tensor, frames: int = 8, size: int = 32, seed: int = 0) -> torch.Tensor:
    """(B, frames, 3, size, size): a bright square moving 3 px a frame, left for label 0, right for
    label 1, from a random start, over noise. One frame alone cannot tell the classes apart."""
    generator = torch.Generator().manual_seed(seed)
    clips = 0.3 * torch.randn(len(labels), frames, 3, size, size, generator=generator)
    for index, label in enumerate(labels.tolist()):
        step = 3 if label == 1 else -3
        start = int(torch.randint(4, size - 10, (1,), generator=generator))
        y = int(torch.randint(0, size - 6, (1,), generator=generator))
        for t in range(frames):
            x = (start + step * (t - frames // 2)) % (size - 6)
            clips[index, t, :, y : y + 6, x : x + 6] += 2.0
    return clips


def test_tsm_learns_the_direction_of_motion():
    torch.manual_seed(0)
    model = Recognizer2D(
        ResNetTSM(depth=18, base_channels=8, num_segments=8),
        TSMHead(num_classes=2, in_channels=64, num_segments=8, dropout_ratio=0.0, init_std=0.01),
    )
    labels = torch.tensor([0, 1] * 8)
    inputs = moving_square_clips(labels)
    samples = [sample(int(label)) for label in labels]
    optimizer = torch.optim.Adam(model.parameters(), lr=3e-3)
    model.train()
    for _ in range(40):
        optimizer.zero_grad()
        losses = model.loss(inputs, samples)
        losses["loss_cls"].backward()
        optimizer.step()
    model.eval()
    with torch.no_grad():
        predicted = torch.cat(
            [s.pred_label.label for s in model.predict(inputs, [sample(int(x)) for x in labels])]
        )
    assert (predicted == labels).float().mean() == 1.0, losses


def test_onnx_tsm_recognizer(tmp_path):
    torch.manual_seed(0)
    model = Recognizer2D(ResNetTSM(depth=18, base_channels=8, num_segments=4), TSMHead(3, 64, num_segments=4))
    for onnx_scores, eager in onnx_and_eager_scores(
        model, [torch.randn(1, 8, 3, 32, 32), torch.randn(3, 8, 3, 32, 32)], tmp_path
    ):
        np.testing.assert_allclose(onnx_scores, eager, atol=1e-4)
