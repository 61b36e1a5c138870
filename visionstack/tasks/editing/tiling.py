"""Tiling that knows the model: tiled output equal to whole-image output, no tile padding to guess.

A restoration network is measured once (:func:`measure_receptive_field`) and the tiles follow:

- **radius**: how far (in input pixels) an input pixel can change the output. An impulse probe runs the
  network (an eval-mode float64 copy, no gradient) on random images with and without a one-pixel
  impulse and takes the extent of the output change, converted to input pixels (output extent / scale,
  rounded outward), the union over trials and over the impulse's phases (positions ``c + k`` for
  ``k < period``: a strided network's field depends on where a pixel falls on its grid). The probe
  grows (64, 128, ... pixels) until the change stays clear of the probe's border. The radius is
  also at least the reach of a cut: a window cut out of the probe is run and compared with the probe's
  output, since the padding at a window's inner edge can reach further than an input pixel's
  influence (input-independent features, biases, in a weak network).
- **period**: the alignment the network needs, the smallest ``p`` such that shifting the input by ``p``
  shifts the output by ``p * scale`` exactly (checked at the probe's centre), i.e. the product of the
  strides (4 for two stride-2 stages).
- **scale**: output size / input size (measured; e.g. 4 for x4 super-resolution).
- **global_**: the change reaches every output pixel at two probe sizes (global pooling, NAFNet's
  channel attention, instance normalisation): no finite overlap makes tiles exact.

:func:`plan_tiles` (pure NumPy-free arithmetic: the torch-free deploy runtime uses it) cuts the image
into core regions (sizes <= ``tile``, origins multiples of ``period``) that partition it; each tile's
input window is its core grown by the radius rounded up to ``period`` and clipped to the image, and
only the core's output is kept. :func:`tiled_forward` (torch) and :func:`tiled_apply` (NumPy,
``run(batch) -> out``) assemble the output.

Why the result equals whole-image inference (within float32 rounding), and what it requires:

1. Every kept output pixel's inputs lie inside its window (the radius), and windows start on the
   network's grid (multiples of ``period``), so the strided layers see the same sampling phase.
2. Windows clipped by the image keep the image's border: the network pads there (zeros, reflection,
   interpolation's clamping) exactly as it does on the whole image. Padding a window's inner edge
   only corrupts outputs within the radius of that edge, which are thrown away.
3. Interior windows have sizes that are multiples of ``period``, so a network that pads its input to
   a divisor (a U-Net) does not pad them; the bottom/right windows end at the image's end, start on
   the grid and so need the same padding as the whole image, provided the network pads at the
   **bottom/right** (as BasicSR's and MMagic's ``check_image_size`` do). A network that pads at the
   top/left or on both sides shifts its grid with the amount of padding: it tiles exactly only when
   the image's height and width are multiples of ``period`` (pad the image once first, by the
   network's own rule, otherwise).
4. The network maps an ``h x w`` input to ``(h * scale) x (w * scale)`` (checked per window), and
   ``height * scale`` and ``width * scale`` are whole numbers.

A ``global_`` field refuses tiling unless ``approximate=True``, which uses a fixed overlap and warns
that the output differs from whole-image inference.
"""

from __future__ import annotations

import copy
import math
import warnings
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from fractions import Fraction
from typing import Any

import numpy as np

__all__ = [
    "ReceptiveField",
    "Tile",
    "measure_receptive_field",
    "weights_fingerprint",
    "plan_tiles",
    "tiled_apply",
    "tiled_forward",
]

# Shifts tried for the period: products of stride-2 and stride-3 stages up to 32.
PERIOD_CANDIDATES = (1, 2, 3, 4, 6, 8, 12, 16, 24, 32)
DEFAULT_PROBE_SIZE = 64
DEFAULT_MAX_PROBE_SIZE = 512
APPROXIMATE_OVERLAP = 32  # input pixels around each core when a global field is tiled approximately
IMPULSE = 1.0
# A float64 output change below this (relative to the output's magnitude) counts as no influence: well
# above float64 rounding (~1e-14 here) and far below float32's resolution (1.2e-7), so the influence
# beyond the measured radius (trained or not, conv nets' influence decays gradually) is invisible in
# float32. A network's field depends on its weights: measure the network you run, after training.
CHANGE_TOLERANCE = 1e-10
_PERIOD_BLOCK = 8  # input pixels compared at the probe's centre when testing a shift


@dataclass(frozen=True)
class ReceptiveField:
    """What tiling needs to know about a network.

    Attributes:
        radius: input pixels: an output pixel depends on inputs within ``radius`` of it (per axis).
        period: the alignment of the network's grid (the product of its strides), in input pixels.
        scale: output size / input size.
        global_: the output depends on the whole image (no finite radius).
    """

    radius: int
    period: int = 1
    scale: float = 1.0
    global_: bool = False

    def __post_init__(self) -> None:
        if self.radius < 0 or self.period < 1 or self.scale <= 0:
            raise ValueError(f"ReceptiveField: needs radius >= 0, period >= 1, scale > 0; got {self}")

    @property
    def margin(self) -> int:
        """The radius rounded up to a multiple of the period: the context a window adds to its core."""
        return -(-self.radius // self.period) * self.period

    @property
    def scale_fraction(self) -> Fraction:
        return Fraction(self.scale).limit_denominator(1000)


@dataclass(frozen=True)
class Tile:
    """One tile, boxes ``(y0, x0, y1, x1)`` (end exclusive).

    Attributes:
        window: the input region the network runs on.
        core: the input region this tile answers for (the cores partition the image).
        crop: the core's output inside the window's output.
        out: the core's output inside the whole output.
    """

    window: tuple[int, int, int, int]
    core: tuple[int, int, int, int]
    crop: tuple[int, int, int, int]
    out: tuple[int, int, int, int]


# ---- planning (no torch) -----------------------------------------------------------------------------
def _pair(tile: int | Sequence[int]) -> tuple[int, int]:
    if isinstance(tile, (int, np.integer)):
        return int(tile), int(tile)
    height, width = tile
    return int(height), int(width)


def _axis_spans(length: int, tile: int, period: int, margin: int) -> list[tuple[int, int, int, int]]:
    """``(core0, core1, window0, window1)`` along one axis: cores of whole periods, as even as possible."""
    blocks = -(-length // period)
    per_core = tile // period
    count = -(-blocks // per_core)
    bounds = [min(length, (index * blocks // count) * period) for index in range(count + 1)]
    return [
        (start, end, max(0, start - margin), min(length, end + margin))
        for start, end in zip(bounds[:-1], bounds[1:])
    ]


def _scaled(value: int, scale: Fraction, what: str) -> int:
    product = value * scale
    if product.denominator != 1:
        raise ValueError(
            f"plan_tiles: {what} {value} times the network's scale {scale} is not a whole number of "
            "output pixels; tiling needs sizes whose output size is exact"
        )
    return int(product)


def plan_tiles(height: int, width: int, tile: int | Sequence[int], field: ReceptiveField) -> list[Tile]:
    """The tiles of a ``height x width`` image, row-major.

    Args:
        height, width: the input image's size.
        tile: the largest core size (one value or (tile_h, tile_w)), rounded down to a multiple of
            ``field.period``; it must be at least the period.
        field: the network's receptive field (its ``margin`` is the context around each core).

    Returns:
        Tiles whose cores partition the image, core and window origins multiples of the period.
    """
    if height < 1 or width < 1:
        raise ValueError(f"plan_tiles: the image must not be empty, got {height} x {width}")
    tile_h, tile_w = _pair(tile)
    if min(tile_h, tile_w) < field.period:
        raise ValueError(
            f"plan_tiles: tile {tile!r} is smaller than the network's period {field.period} "
            "(its strides need tiles on a grid of that step)"
        )
    scale = field.scale_fraction
    _scaled(height, scale, "height")
    _scaled(width, scale, "width")
    rows = _axis_spans(height, tile_h, field.period, field.margin)
    cols = _axis_spans(width, tile_w, field.period, field.margin)
    tiles = []
    for core_y0, core_y1, win_y0, win_y1 in rows:
        for core_x0, core_x1, win_x0, win_x1 in cols:
            crop = (core_y0 - win_y0, core_x0 - win_x0, core_y1 - win_y0, core_x1 - win_x0)
            core = (core_y0, core_x0, core_y1, core_x1)
            tiles.append(
                Tile(
                    window=(win_y0, win_x0, win_y1, win_x1),
                    core=core,
                    crop=tuple(_scaled(v, scale, "a tile offset") for v in crop),
                    out=tuple(_scaled(v, scale, "a tile offset") for v in core),
                )
            )
    return tiles


# ---- assembly ------------------------------------------------------------------------------------------
def _usable_field(field: ReceptiveField, approximate: bool, overlap: int) -> ReceptiveField:
    if not field.global_:
        return field
    if not approximate:
        raise ValueError(
            "tiling: the network's receptive field is global (its output depends on the whole image, "
            "e.g. global pooling or channel attention), so no tiling equals whole-image inference; "
            "run on the whole image, or pass approximate=True to accept a different output"
        )
    warnings.warn(
        f"tiling a network with a global receptive field with a fixed {overlap}-pixel overlap: the "
        "output differs from whole-image inference",
        stacklevel=3,
    )
    return ReceptiveField(radius=overlap, period=field.period, scale=field.scale)


def _assemble(array: Any, tiles: list[Tile], run: Callable[[Any], Any], empty: Callable, scale: Fraction):
    """Run every tile's window and copy its core's output into one output of ``empty(shape, first)``."""
    height, width = array.shape[-2:]
    out = None
    for tile in tiles:
        y0, x0, y1, x1 = tile.window
        result = run(array[..., y0:y1, x0:x1])
        expected = ((y1 - y0) * scale, (x1 - x0) * scale)
        if tuple(result.shape[-2:]) != expected:
            raise ValueError(
                f"tiling: the network maps a {y1 - y0} x {x1 - x0} window to "
                f"{tuple(result.shape[-2:])}, not {expected[0]} x {expected[1]} (scale {scale}); "
                "tiling needs outputs of exactly scale x the input size"
            )
        if out is None:
            shape = (*result.shape[:-2], int(height * scale), int(width * scale))
            out = empty(shape, result)
        cy0, cx0, cy1, cx1 = tile.crop
        oy0, ox0, oy1, ox1 = tile.out
        out[..., oy0:oy1, ox0:ox1] = result[..., cy0:cy1, cx0:cx1]
    return out


def tiled_apply(
    run: Callable[[np.ndarray], np.ndarray],
    array: np.ndarray,
    tile: int | Sequence[int],
    field: ReceptiveField,
    approximate: bool = False,
    overlap: int = APPROXIMATE_OVERLAP,
) -> np.ndarray:
    """Tiled inference in NumPy (the deploy runtime's path).

    Args:
        run: ``(N, C, h, w) array -> (N, C', h * scale, w * scale) array`` (e.g. an ONNX session).
        array: (N, C, H, W) input.
        tile, field: see :func:`plan_tiles`.
        approximate: tile a ``global_`` field anyway, with ``overlap`` pixels of context (warns).

    Returns:
        (N, C', H * scale, W * scale), equal to ``run(array)`` for a non-global field.
    """
    field = _usable_field(field, approximate, overlap)
    tiles = plan_tiles(array.shape[-2], array.shape[-1], tile, field)
    return _assemble(
        array,
        tiles,
        lambda window: np.asarray(run(np.ascontiguousarray(window))),
        lambda shape, first: np.empty(shape, dtype=first.dtype),
        field.scale_fraction,
    )


def tiled_forward(
    net: Any,
    inputs: Any,
    tile: int | Sequence[int],
    field: ReceptiveField | None = None,
    approximate: bool = False,
    overlap: int = APPROXIMATE_OVERLAP,
) -> Any:
    """Tiled inference of a torch module, equal to ``net(inputs)`` within float rounding.

    Args:
        net: a module mapping (N, C, h, w) to (N, C', h * scale, w * scale).
        inputs: (N, C, H, W) tensor.
        tile: the largest core size, see :func:`plan_tiles`.
        field: the net's receptive field; measured with :func:`measure_receptive_field` when None
            (pass it when tiling several images: measuring runs the net many times).
        approximate, overlap: see :func:`tiled_apply`.
    """
    if field is None:
        field = measure_receptive_field(net, in_channels=inputs.shape[1])
    field = _usable_field(field, approximate, overlap)
    tiles = plan_tiles(inputs.shape[-2], inputs.shape[-1], tile, field)
    return _assemble(
        inputs,
        tiles,
        lambda window: net(window.contiguous()),
        lambda shape, first: first.new_empty(shape),
        field.scale_fraction,
    )


# ---- measurement (torch) -------------------------------------------------------------------------------
def weights_fingerprint(net: Any) -> tuple:
    """A cheap key of a module's current weights (shapes and float64 sums of its parameters and buffers): a
    receptive field measured under one key is stale under another (fields depend on the weights)."""
    import torch

    with torch.no_grad():
        return tuple(
            (name, tuple(value.shape), float(value.double().sum()), float(value.double().abs().sum()))
            for name, value in [*net.named_parameters(), *net.named_buffers()]
            if value.is_floating_point()
        )


class _Probe:
    """An eval-mode float64 copy of a network and a seeded source of random probe images."""

    def __init__(self, net: Any, in_channels: int, seed: int) -> None:
        import torch

        self.torch = torch
        self.net = copy.deepcopy(net).double().eval()
        self.device = next((p.device for p in self.net.parameters()), torch.device("cpu"))
        self.in_channels = in_channels
        self.generator = torch.Generator().manual_seed(seed)

    def random(self, size: int, batch: int = 1) -> Any:
        shape = (batch, self.in_channels, size, size)
        return self.torch.rand(shape, generator=self.generator, dtype=self.torch.float64).to(self.device)

    def __call__(self, inputs: Any) -> Any:
        with self.torch.no_grad():
            return self.net(inputs)


def _tolerance(outputs: Any) -> float:
    return CHANGE_TOLERANCE * (1.0 + float(outputs.abs().max()))


def _measure_scale(inputs: Any, outputs: Any) -> Fraction:
    size = inputs.shape[-1]
    scales = {Fraction(int(outputs.shape[-2]), size), Fraction(int(outputs.shape[-1]), size)}
    if len(scales) != 1 or outputs.ndim != 4:
        raise ValueError(
            f"measure_receptive_field: a {size} x {size} probe gave an output of shape "
            f"{tuple(outputs.shape)}; expected (N, C, size * scale, size * scale)"
        )
    return scales.pop()


def _measure_period(probe: _Probe, inputs: Any, outputs: Any, scale: Fraction) -> int | None:
    """The smallest shift that shifts the output exactly (at the probe's centre), None if none does."""
    size = inputs.shape[-1]
    tolerance = _tolerance(outputs)
    for shift in PERIOD_CANDIDATES:
        if shift > size // 4 or (shift * scale).denominator != 1:
            continue
        shifted = probe(inputs[..., shift:, shift:])
        start = (size - shift) // 2 - _PERIOD_BLOCK // 2
        lo, hi = int(start * scale), int((start + _PERIOD_BLOCK) * scale)
        offset = int(shift * scale)
        block = shifted[..., lo:hi, lo:hi]
        reference = outputs[..., lo + offset : hi + offset, lo + offset : hi + offset]
        if block.shape == reference.shape and float((block - reference).abs().max()) <= tolerance:
            return shift
    return None


def _impulse_extent(
    probe: _Probe, size: int, period: int, scale: Fraction, trials: int
) -> tuple[int | None, bool]:
    """(radius, reaches_everything): radius None when the change reaches the probe's border."""
    torch = probe.torch
    centre = (size // 2) // period * period
    positions = [centre + phase for phase in range(period)]  # the diagonal covers every row and column phase
    radius, touches, reaches_all = 0, False, False
    for _ in range(trials):
        base = probe.random(size)
        batch = base.repeat(len(positions) + 1, 1, 1, 1)
        for index, position in enumerate(positions):
            batch[index + 1, :, position, position] += IMPULSE
        outputs = probe(batch)
        changed = (outputs[1:] - outputs[:1]).abs().amax(dim=1) > _tolerance(outputs)
        for index, position in enumerate(positions):
            reaches_all = reaches_all or bool(changed[index].all())
            for axis_changed, length in (
                (changed[index].any(dim=1), changed.shape[1]),
                (changed[index].any(dim=0), changed.shape[2]),
            ):
                hits = torch.nonzero(axis_changed).flatten()
                if hits.numel() == 0:
                    continue
                first, last = int(hits[0]), int(hits[-1])
                touches = touches or first == 0 or last == length - 1
                low = math.floor(first / scale)
                high = math.ceil((last + 1) / scale) - 1
                radius = max(radius, position - low, high - position)
    return (None if touches else radius), reaches_all


def _edge_reach(probe: _Probe, inputs: Any, outputs: Any, period: int, scale: Fraction) -> int | None:
    """How far (input pixels) a window's inner edge changes the output, None when it crosses half the probe.

    A window cut out of the probe (at the top-left, and at the bottom-right with a size on the grid) is
    run and compared with the probe's output: the network pads at the cut (zeros in every layer), and
    where features carry input-independent parts (biases), that reaches further than an input pixel's
    influence does in a weak (e.g. freshly initialised) network. Tiling keeps cores beyond this reach.
    """
    size = inputs.shape[-1]
    tolerance = _tolerance(outputs)
    kept = (size - period) // period * period
    start, end = int(period * scale), int(kept * scale)
    cuts = (  # (window output, the probe's output there, the cut axis, the cut at the window's start)
        (probe(inputs[..., period:, :]), outputs[..., start:, :], -2, True),
        (probe(inputs[..., :, period:]), outputs[..., :, start:], -1, True),
        (probe(inputs[..., :kept, :]), outputs[..., :end, :], -2, False),
        (probe(inputs[..., :, :kept]), outputs[..., :, :end], -1, False),
    )
    reach = 0
    for window_out, reference, axis, at_start in cuts:
        changed = (window_out - reference).abs().amax(dim=(0, 1)) > tolerance
        along = changed.any(dim=1) if axis == -2 else changed.any(dim=0)
        hits = probe.torch.nonzero(along).flatten()
        if hits.numel() == 0:
            continue
        length = along.shape[0]
        if at_start:
            if int(hits[-1]) >= length // 2:
                return None
            reach = max(reach, math.ceil((int(hits[-1]) + 1) / scale))
        else:
            if int(hits[0]) < length // 2:
                return None
            reach = max(reach, math.ceil((length - int(hits[0])) / scale))
    return reach


def measure_receptive_field(
    net: Any,
    in_channels: int = 3,
    probe_size: int | None = None,
    scale: float | None = None,
    trials: int = 3,
    seed: int = 0,
    max_probe_size: int = DEFAULT_MAX_PROBE_SIZE,
) -> ReceptiveField:
    """Measure a network's receptive field with impulse probes (see the module docstring).

    Args:
        net: a torch module mapping (N, in_channels, h, w) to (N, C', h * scale, w * scale); it is
            copied (float64, eval mode), never changed.
        in_channels: the probe's channels.
        probe_size: the first probe's side (default 64); doubled while the field reaches its border.
        scale: the expected output / input scale; an error when the measured one differs.
        trials: random probe images per size (the union of their extents is taken).
        seed: seeds the probe images.
        max_probe_size: the largest probe tried.

    Raises:
        ValueError: the field is finite but larger than the largest probe, or the scale differs.
    """
    probe = _Probe(net, in_channels, seed)
    size = probe_size or DEFAULT_PROBE_SIZE
    global_hits, period = 0, None
    while size <= max_probe_size:
        inputs = probe.random(size)
        outputs = probe(inputs)
        measured = _measure_scale(inputs, outputs)
        if scale is not None and Fraction(scale).limit_denominator(1000) != measured:
            raise ValueError(f"measure_receptive_field: expected scale {scale}, measured {measured}")
        # a quick look first (one impulse, one trial): a probe the change overflows is not worth more
        radius, reaches_all = _impulse_extent(probe, size, 1, measured, trials=1)
        if radius is not None:
            if period is None:  # found once, it holds at every size
                period = _measure_period(probe, inputs, outputs, measured)
            radius, reaches_all = _impulse_extent(probe, size, period or 1, measured, trials)
            if period is not None and radius is not None:
                reach = _edge_reach(probe, inputs, outputs, period, measured)
                if reach is not None:
                    return ReceptiveField(radius=max(radius, reach), period=period, scale=float(measured))
        global_hits += int(reaches_all)
        if global_hits >= 2:
            return ReceptiveField(radius=size, period=period or 1, scale=float(measured), global_=True)
        size *= 2
    raise ValueError(
        f"measure_receptive_field: the network's field (or its period) is not resolved by probes up to "
        f"{max_probe_size} pixels; raise max_probe_size, or treat it as global"
    )
