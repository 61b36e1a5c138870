"""Tiling: measured receptive fields against a 1-D dependency reference, tiled == whole-image output."""

from __future__ import annotations

import importlib
import math
import sys
from fractions import Fraction

import numpy as np
import pytest
import torch
import torch.nn.functional as F
from torch import nn

from visionstack.tasks.editing.tiling import (
    ReceptiveField,
    measure_receptive_field,
    plan_tiles,
    tiled_apply,
    tiled_forward,
)


@pytest.fixture(autouse=True)
def _one_thread():
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(threads)


# ---- a slow 1-D reference: which input indices each output index depends on ---------------------------
# The test nets use square kernels, so their 2-D dependency sets are products of these 1-D sets.
def ref_conv(deps, k, stride=1, dilation=1):
    pad = dilation * (k - 1) // 2
    n_out = (len(deps) + 2 * pad - dilation * (k - 1) - 1) // stride + 1
    out = []
    for o in range(n_out):
        taps = [o * stride - pad + t * dilation for t in range(k)]
        out.append(frozenset().union(*(deps[i] for i in taps if 0 <= i < len(deps))))
    return out


def ref_conv_transpose(deps, k, stride, pad=0):
    n_out = (len(deps) - 1) * stride - 2 * pad + k
    out = [set() for _ in range(n_out)]
    for i, dep in enumerate(deps):
        for t in range(k):
            j = i * stride - pad + t
            if 0 <= j < n_out:
                out[j] |= dep
    return [frozenset(s) for s in out]


def ref_repeat(deps, r):  # PixelShuffle and nearest up-sampling: output j reads input j // r
    return [deps[j // r] for j in range(len(deps) * r)]


def ref_bilinear(deps, r):  # align_corners=False; PyTorch clamps negative source positions to 0
    n, out = len(deps), []
    for j in range(n * r):
        src = max((j + 0.5) / r - 0.5, 0.0)
        i0 = math.floor(src)
        lam = src - i0
        used = [i0] + ([min(i0 + 1, n - 1)] if lam != 0 else [])
        out.append(frozenset().union(*(deps[i] for i in used)))
    return out


def ref_bicubic(deps, r):  # PyTorch's bicubic: taps floor(src) - 1 .. + 2, clamped; integer src uses 1 tap
    n, out = len(deps), []
    for j in range(n * r):
        src = Fraction(2 * j + 1, 2 * r) - Fraction(1, 2)
        i0 = math.floor(src)
        taps = [i0] if src == i0 else [i0 - 1, i0, i0 + 1, i0 + 2]
        out.append(frozenset().union(*(deps[min(max(i, 0), n - 1)] for i in taps)))
    return out


def ref_union(a, b):
    return [x | y for x, y in zip(a, b)]


def ref_radius(net_deps, n=64, scale=1):
    """The impulse radius the reference predicts: positions around the centre, extents rounded outward."""
    deps = net_deps([frozenset([i]) for i in range(n)])
    scale = Fraction(scale)
    radius = 0
    for x in range(n // 2 - 8, n // 2 + 8):
        hits = [j for j, dep in enumerate(deps) if x in dep]
        low = math.floor(hits[0] / scale)
        high = math.ceil((hits[-1] + 1) / scale) - 1
        radius = max(radius, x - low, high - x)
    return radius


# ---- test nets -----------------------------------------------------------------------------------------
def _conv(cin, cout, k=3, stride=1, dilation=1):
    return nn.Conv2d(cin, cout, k, stride=stride, padding=dilation * (k - 1) // 2, dilation=dilation)


class ConvStack(nn.Module):
    def __init__(self, dilations=(1, 1, 1, 1), channels=6):
        super().__init__()
        chans = [3] + [channels] * (len(dilations) - 1) + [3]
        self.convs = nn.ModuleList(_conv(a, b, dilation=d) for a, b, d in zip(chans, chans[1:], dilations))

    def forward(self, x):
        for index, conv in enumerate(self.convs):
            x = conv(x) if index == 0 else conv(F.relu(x))
        return x

    @staticmethod
    def reference(dilations):
        def deps(d):
            for dilation in dilations:
                d = ref_conv(d, 3, dilation=dilation)
            return d

        return deps


class DownUpNet(nn.Module):
    """A U-Net with two stride-2 levels (period 4): skips added and concatenated, two kinds of up-sampling.

    ``pad``: ``None`` (sizes must be multiples of 4), ``"end"`` (reflect-pad bottom/right, as BasicSR),
    ``"both"`` (reflect-pad half on each side: tiles exactly only for sizes that are multiples of 4).
    """

    def __init__(self, pad=None, channels=6, up="transpose"):
        super().__init__()
        c = channels
        self.pad, self.up = pad, up
        self.e0, self.d1, self.e1 = _conv(3, c), _conv(c, c, stride=2), _conv(c, c)
        self.d2, self.mid = _conv(c, c, stride=2), _conv(c, c)
        self.u1 = nn.ConvTranspose2d(c, c, 4, stride=2, padding=1) if up == "transpose" else _conv(c, c)
        self.f1 = _conv(c, c)
        self.u0 = nn.ConvTranspose2d(c, c, 2, stride=2) if up == "transpose" else _conv(c, c)
        self.last = _conv(2 * c, 3)

    def _up(self, layer, x):
        if self.up == "transpose":
            return layer(x)
        return layer(F.interpolate(x, scale_factor=2, mode="bilinear", align_corners=False))

    def forward(self, x):
        height, width = x.shape[-2:]
        ph, pw = -height % 4, -width % 4
        top, left = (ph // 2, pw // 2) if self.pad == "both" else (0, 0)
        if self.pad is not None:
            x = F.pad(x, (left, pw - left, top, ph - top), mode="reflect")
        e0 = F.relu(self.e0(x))
        e1 = F.relu(self.e1(F.relu(self.d1(e0))))
        mid = F.relu(self.mid(F.relu(self.d2(e1))))
        f1 = F.relu(self.f1(self._up(self.u1, mid) + e1))
        out = self.last(torch.cat([self._up(self.u0, f1), e0], dim=1))
        return out[..., top : top + height, left : left + width]

    @staticmethod
    def reference(up="transpose"):
        def deps(d):
            e0 = ref_conv(d, 3)
            e1 = ref_conv(ref_conv(e0, 3, stride=2), 3)
            mid = ref_conv(ref_conv(e1, 3, stride=2), 3)
            if up == "transpose":
                u1, upsample0 = ref_conv_transpose(mid, 4, 2, 1), lambda f: ref_conv_transpose(f, 2, 2)
            else:
                u1, upsample0 = ref_conv(ref_bilinear(mid, 2), 3), lambda f: ref_conv(ref_bilinear(f, 2), 3)
            f1 = ref_conv(ref_union(u1, e1), 3)
            return ref_conv(ref_union(upsample0(f1), e0), 3)

        return deps


class TinyEDSR(nn.Module):
    """EDSR's layout: conv_first, residual blocks, long skip, conv + PixelShuffle stages, conv_last."""

    def __init__(self, scale=2, blocks=2, channels=6):
        super().__init__()
        c = channels
        self.first = _conv(3, c)
        self.blocks = nn.ModuleList(nn.Sequential(_conv(c, c), nn.ReLU(), _conv(c, c)) for _ in range(blocks))
        self.after = _conv(c, c)
        stages = [2, 2] if scale == 4 else [scale]
        self.up = nn.Sequential(*(nn.Sequential(_conv(c, c * r * r), nn.PixelShuffle(r)) for r in stages))
        self.last = _conv(c, 3)
        self.stages, self.num_blocks = stages, blocks

    def forward(self, x):
        feat = self.first(x)
        body = feat
        for block in self.blocks:
            body = body + 0.5 * block(body)
        return self.last(self.up(feat + self.after(body)))

    @staticmethod
    def reference(scale=2, blocks=2):
        def deps(d):
            feat = ref_conv(d, 3)
            body = feat
            for _ in range(blocks):
                body = ref_union(body, ref_conv(ref_conv(body, 3), 3))
            d = ref_union(feat, ref_conv(body, 3))
            for r in [2, 2] if scale == 4 else [scale]:
                d = ref_repeat(ref_conv(d, 3), r)
            return ref_conv(d, 3)

        return deps


class TinySRCNN(nn.Module):
    """SRCNN's layout: PyTorch bicubic up-sampling inside, then 9-1-5 convolutions."""

    def __init__(self, scale=2, channels=6):
        super().__init__()
        self.scale = scale
        self.convs = nn.Sequential(
            _conv(3, channels, 9), nn.ReLU(), _conv(channels, channels, 1), nn.ReLU(), _conv(channels, 3, 5)
        )

    def forward(self, x):
        return self.convs(F.interpolate(x, scale_factor=self.scale, mode="bicubic", align_corners=False))

    @staticmethod
    def reference(scale=2):
        return lambda d: ref_conv(ref_conv(ref_conv(ref_bicubic(d, scale), 9), 1), 5)


class GlobalAttentionNet(nn.Module):
    """A conv net with squeeze-and-excitation-style global pooling: every output depends on every input."""

    def __init__(self):
        super().__init__()
        self.conv, self.gate, self.out = _conv(3, 6), nn.Conv2d(6, 6, 1), _conv(6, 3)

    def forward(self, x):
        feat = F.relu(self.conv(x))
        return self.out(feat * torch.sigmoid(self.gate(feat.mean(dim=(2, 3), keepdim=True))))


# (name, net factory, 1-D reference, scale, period, image size (h, w), tile)
CASES = [
    ("conv_stack", lambda: ConvStack(), ConvStack.reference((1, 1, 1, 1)), 1, 1, (37, 45), 16),
    ("dilated", lambda: ConvStack((1, 2, 4)), ConvStack.reference((1, 2, 4)), 1, 1, (41, 35), 12),
    ("down_up", lambda: DownUpNet(pad="end"), DownUpNet.reference(), 1, 4, (39, 45), 16),
    (
        "down_up_bilinear",
        lambda: DownUpNet(pad="end", up="bilinear"),
        DownUpNet.reference("bilinear"),
        1,
        4,
        (38, 29),
        (12, 20),
    ),
    ("edsr_x2", lambda: TinyEDSR(2), TinyEDSR.reference(2), 2, 1, (23, 19), 8),
    ("edsr_x3", lambda: TinyEDSR(3), TinyEDSR.reference(3), 3, 1, (17, 22), 7),
    ("edsr_x4", lambda: TinyEDSR(4, blocks=1), TinyEDSR.reference(4, blocks=1), 4, 1, (13, 15), 6),
    ("srcnn_x2", lambda: TinySRCNN(2), TinySRCNN.reference(2), 2, 1, (21, 25), 9),
    ("srcnn_x3", lambda: TinySRCNN(3), TinySRCNN.reference(3), 3, 1, (16, 19), 7),
]
IDS = [case[0] for case in CASES]


def _build(factory, seed=0):
    torch.manual_seed(seed)
    return factory().eval()


@pytest.fixture(scope="module")
def fields():
    """Each case's net and measured field, measured once for the module."""
    threads = torch.get_num_threads()
    torch.set_num_threads(1)
    try:
        return {
            name: (net, measure_receptive_field(net)) for name, net in ((c[0], _build(c[1])) for c in CASES)
        }
    finally:
        torch.set_num_threads(threads)


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_measured_field_equals_the_dependency_reference(case, fields):
    name, _, reference, scale, period, _, _ = case
    _, field = fields[name]
    assert field.radius == ref_radius(reference, scale=scale)
    assert (field.period, field.scale, field.global_) == (period, scale, False)


def test_reference_radii_match_the_textbook_values():
    # k 3x3 convs: k; dilations d_i: sum d_i; EDSR x2 with 2 blocks: 1 + 4 + 1 + 1 (low-res) + 1/2 (high-res)
    assert ref_radius(ConvStack.reference((1,) * 5)) == 5
    assert ref_radius(ConvStack.reference((1, 2, 4))) == 7
    assert ref_radius(TinyEDSR.reference(2), scale=2) == 8


@pytest.mark.parametrize("case", CASES, ids=IDS)
def test_tiled_output_equals_whole_image_output(case, fields):
    name, _, _, scale, _, (height, width), tile = case
    net, field = fields[name]
    inputs = torch.rand(2, 3, height, width, generator=torch.Generator().manual_seed(1))
    with torch.no_grad():
        whole = net(inputs)
        tiled = tiled_forward(net, inputs, tile, field)
    assert len(plan_tiles(height, width, tile, field)) > 4  # really tiled
    assert tiled.shape == whole.shape == (2, 3, height * scale, width * scale)
    torch.testing.assert_close(tiled, whole, atol=1e-5, rtol=0)


def test_too_small_a_margin_shows_seams(fields):
    net, field = fields["conv_stack"]
    inputs = torch.rand(1, 3, 37, 45, generator=torch.Generator().manual_seed(1))
    short = ReceptiveField(radius=field.radius - 1, period=field.period, scale=field.scale)
    with torch.no_grad():
        error = (tiled_forward(net, inputs, 16, short) - net(inputs)).abs().max()
    assert error > 1e-3


def test_numpy_path_equals_torch_path(fields):
    net, field = fields["down_up"]
    inputs = torch.rand(1, 3, 39, 45, generator=torch.Generator().manual_seed(2))
    with torch.no_grad():
        expected = tiled_forward(net, inputs, 16, field).numpy()
        got = tiled_apply(lambda batch: net(torch.from_numpy(batch)).numpy(), inputs.numpy(), 16, field)
    assert got.dtype == np.float32
    np.testing.assert_array_equal(got, expected)


def test_tiling_module_imports_without_torch():
    code = (
        "import sys; import visionstack.tasks.editing.tiling as t; "
        "assert 'torch' not in sys.modules, 'tiling imported torch'"
    )
    import subprocess

    subprocess.run([sys.executable, "-c", code], check=True)


def test_pad_on_both_sides_is_exact_only_for_sizes_on_the_grid():
    net = _build(lambda: DownUpNet(pad="both"))
    field = measure_receptive_field(net)
    assert field.period == 4
    on_grid = torch.rand(1, 3, 40, 36, generator=torch.Generator().manual_seed(3))
    off_grid = torch.rand(1, 3, 38, 35, generator=torch.Generator().manual_seed(3))
    with torch.no_grad():
        torch.testing.assert_close(tiled_forward(net, on_grid, 12, field), net(on_grid), atol=1e-5, rtol=0)
        # the documented limit: padding at the top/left moves the net's grid with the image size
        assert (tiled_forward(net, off_grid, 12, field) - net(off_grid)).abs().max() > 1e-3


# ---- planning ------------------------------------------------------------------------------------------
@pytest.mark.parametrize(
    ("height", "width", "tile", "field"),
    [
        (37, 45, 16, ReceptiveField(radius=5, period=4)),
        (100, 7, (24, 6), ReceptiveField(radius=0, period=2)),
        (13, 64, 13, ReceptiveField(radius=9, period=1, scale=3)),
        (8, 8, 64, ReceptiveField(radius=2, period=8, scale=2)),
    ],
)
def test_plan_partitions_the_image_on_the_grid(height, width, tile, field):
    tiles = plan_tiles(height, width, tile, field)
    tile_h, tile_w = (tile, tile) if isinstance(tile, int) else tile
    cover = np.zeros((height, width), dtype=int)
    scale = int(field.scale)
    out_cover = np.zeros((height * scale, width * scale), dtype=int)
    for t in tiles:
        y0, x0, y1, x1 = t.core
        cover[y0:y1, x0:x1] += 1
        assert y1 - y0 <= tile_h and x1 - x0 <= tile_w
        assert y0 % field.period == 0 and x0 % field.period == 0
        wy0, wx0, wy1, wx1 = t.window
        assert wy0 % field.period == 0 and wx0 % field.period == 0
        # the window holds the core grown by the radius (clipped to the image)
        assert wy0 <= max(0, y0 - field.radius) and wx0 <= max(0, x0 - field.radius)
        assert wy1 >= min(height, y1 + field.radius) and wx1 >= min(width, x1 + field.radius)
        # interior window sizes are multiples of the period (no divisor padding inside the net)
        assert wy1 == height or (wy1 - wy0) % field.period == 0
        assert t.out == tuple(v * scale for v in t.core)
        assert t.crop == ((y0 - wy0) * scale, (x0 - wx0) * scale, (y1 - wy0) * scale, (x1 - wx0) * scale)
        out_cover[t.out[0] : t.out[2], t.out[1] : t.out[3]] += 1
    assert (cover == 1).all() and (out_cover == 1).all()


def test_plan_balances_the_cores():
    tiles = plan_tiles(100, 10, (30, 10), ReceptiveField(radius=1, period=1))
    assert [t.core[2] - t.core[0] for t in tiles] == [25, 25, 25, 25]


def test_plan_errors():
    with pytest.raises(ValueError, match="smaller than the network's period 8"):
        plan_tiles(64, 64, 4, ReceptiveField(radius=3, period=8))
    with pytest.raises(ValueError, match="whole number"):
        plan_tiles(15, 16, 8, ReceptiveField(radius=3, period=2, scale=0.5))
    with pytest.raises(ValueError, match="radius >= 0"):
        ReceptiveField(radius=-1)


def test_field_margin_rounds_up_to_the_period():
    assert ReceptiveField(radius=5, period=4).margin == 8
    assert ReceptiveField(radius=8, period=4).margin == 8
    assert ReceptiveField(radius=0, period=4).margin == 0


def test_window_output_of_the_wrong_size_is_an_error():
    field = ReceptiveField(radius=0, period=1, scale=2)
    with pytest.raises(ValueError, match="not 16 x 16"):
        tiled_apply(lambda batch: batch, np.zeros((1, 1, 8, 8), np.float32), 8, field)


# ---- global fields -------------------------------------------------------------------------------------
def test_global_pooling_is_detected_and_refused():
    net = _build(GlobalAttentionNet)
    field = measure_receptive_field(net)
    assert field.global_
    inputs = torch.rand(1, 3, 40, 40, generator=torch.Generator().manual_seed(4))
    with pytest.raises(ValueError, match="global"):
        tiled_forward(net, inputs, 16, field)
    with torch.no_grad(), pytest.warns(UserWarning, match="differs"):
        approximate = tiled_forward(net, inputs, 16, field, approximate=True, overlap=8)
        whole = net(inputs)
    assert approximate.shape == whole.shape
    assert 0 < (approximate - whole).abs().max() < 1.0


def test_scale_mismatch_is_an_error():
    with pytest.raises(ValueError, match="expected scale 4"):
        measure_receptive_field(_build(lambda: TinyEDSR(2)), scale=4)


def test_measuring_leaves_the_net_unchanged():
    net = _build(lambda: TinyEDSR(2)).train()
    before = {k: v.clone() for k, v in net.state_dict().items()}
    measure_receptive_field(net)
    assert net.training and all(v.dtype == torch.float32 for v in net.state_dict().values())
    assert all(torch.equal(before[k], v) for k, v in net.state_dict().items())


def test_a_field_larger_than_the_probe_grows_the_probe():
    field = measure_receptive_field(_build(lambda: ConvStack((1, 8, 16, 16))), probe_size=32)
    assert field.radius == ref_radius(ConvStack.reference((1, 8, 16, 16)), n=128) == 41


# ---- the project's networks (E3 writes them in parallel) ----------------------------------------------
def _module(name):
    try:
        return importlib.import_module(f"visionstack.tasks.editing.models.{name}")
    except ImportError:
        return None


sr, denoise = _module("sr"), _module("denoise")
PROJECT_NETS = []
if sr is not None:
    PROJECT_NETS += [
        ("EDSRNet_x2", lambda: sr.EDSRNet(mid_channels=8, num_blocks=2, upscale_factor=2), 2, (19, 23), 8),
        ("EDSRNet_x3", lambda: sr.EDSRNet(mid_channels=8, num_blocks=1, upscale_factor=3), 3, (14, 17), 6),
        ("SRCNNNet_x2", lambda: sr.SRCNNNet(channels=(3, 8, 4, 3), upscale_factor=2), 2, (21, 18), 8),
        ("ESPCNNet_x3", lambda: sr.ESPCNNet(mid_channels=8, upscale_factor=3), 3, (17, 13), 6),
    ]
if denoise is not None:
    PROJECT_NETS += [
        ("UNetDenoiser", lambda: denoise.UNetDenoiser(base_channels=4, depth=2), 1, (37, 43), 16)
    ]


@pytest.mark.skipif(not PROJECT_NETS, reason="the editing networks have not landed yet")
@pytest.mark.parametrize("case", PROJECT_NETS, ids=[c[0] for c in PROJECT_NETS])
def test_project_networks_tile_exactly(case):
    _, factory, scale, (height, width), tile = case
    net = _build(factory)
    field = measure_receptive_field(net)
    assert field.scale == scale and not field.global_
    inputs = torch.rand(1, 3, height, width, generator=torch.Generator().manual_seed(5))
    with torch.no_grad():
        torch.testing.assert_close(tiled_forward(net, inputs, tile, field), net(inputs), atol=1e-5, rtol=0)


@pytest.mark.skipif(denoise is None, reason="the editing networks have not landed yet")
def test_nafnet_is_global_once_its_blocks_are_not_identities():
    net = _build(lambda: denoise.NAFNet(mid_channels=4, enc_blk_nums=(1, 1), dec_blk_nums=(1, 1)))
    # freshly built, beta = gamma = 0: every block is the identity and the net is local (period 4)
    fresh = measure_receptive_field(net)
    assert not fresh.global_ and fresh.period == 4
    with torch.no_grad():  # as after training: the channel attention now reaches the output
        for name, parameter in net.named_parameters():
            if name.endswith(("beta", "gamma")):
                parameter.fill_(0.5)
    assert measure_receptive_field(net).global_


def test_padding_reach_beyond_the_input_influence_is_measured():
    # the first layer barely passes its input on (as in a weak, freshly initialised deep net), so an
    # impulse changes nothing visible, but the later layers' zero padding at a window's inner edge
    # replaces bias-driven features: the field must cover that reach (3 layers), or tiles show seams
    net = _build(lambda: ConvStack((1, 1, 1, 1)))
    with torch.no_grad():
        net.convs[0].weight.mul_(1e-13)
        net.convs[0].bias.copy_(torch.linspace(-0.5, 1.0, 6))
    field = measure_receptive_field(net)
    assert field.radius == 3
    inputs = torch.rand(1, 3, 37, 45, generator=torch.Generator().manual_seed(6))
    with torch.no_grad():
        torch.testing.assert_close(tiled_forward(net, inputs, 16, field), net(inputs), atol=1e-5, rtol=0)
