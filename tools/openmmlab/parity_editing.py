"""OpenMMLab parity of the editing family (MMagic 1.2.0): SRCNN, EDSR x2/x4, ESRGAN's RRDBNet (PSNR) and DCGAN.

Runs in the side venv through ``tools/openmmlab_parity.py --families editing``.

No inpainting case: visionstack's inpainting model (``GatedConvUNet``, configs/editing/gated-conv_*) is a
gated-convolution U-Net of its own, and its ``GatedConvEncoderDecoder`` is only DeepFill v2's coarse stage
in outline (MMagic's ``deepfillv2`` config: reflect padding, a 5-channel input with a ones plane, a gated
last layer, the contextual-attention refiner and a discriminator), so MMagic has no twin of either.

Side-venv patches (applied here, at import, before MMagic is imported; all of them leave
``sys.modules`` once MMagic's modules are registered, so no other family sees them):

- ``torchvision.utils.make_grid``: MMagic's ``mmagic.utils`` and visualizer import it at module level
  (the side venv has no torchvision, only the prelude's ``torchvision.ops`` stub): a pure-torch
  ``make_grid`` (torchvision's tiling) while MMagic is imported.
- Placeholder modules for the optional packages MMagic imports eagerly but the compared models never
  use: ``torchvision.models`` / ``.transforms`` (FID/IS Inception, perceptual VGG, augmentations),
  ``diffusers``, ``transformers``, ``huggingface_hub``, ``safetensors``, ``xformers``
  (Stable Diffusion, AnimateDiff, FastComposer ...), ``pandas``, ``resize_right`` (Disco Diffusion),
  ``albumentations``, ``lpips``, ``imageio``, ``requests``. Any member of a placeholder module is a
  class; its instances raise ``ImportError`` when called, read or tested (called with a single
  function, the class returns it: a pass-through for decorators such as diffusers'
  ``register_to_config``); diffusers' ``is_xformers_available()`` answers False.
- ``DCGANDiscriminator.init_weights`` (MMagic 1.2.0 bug: ``UnboundLocalError`` on ``init_info``) is
  replaced by the same initialisation without its init-info record.
"""

from __future__ import annotations

import contextlib
import importlib
import importlib.abc
import importlib.machinery
import math
import sys
import types

import parity_common as pc  # noqa: F401  (the side-venv prelude; must come before any mm* import)
import torch

FAMILY = "editing"


# ---------------------------------------------------------------------------------------------------
# import-time placeholders
# ---------------------------------------------------------------------------------------------------
class _AbsentMeta(type):
    """Any attribute of an absent class is another absent class (``pkg.mod.Class.attr`` in annotations)."""

    def __getattr__(cls, name):
        if name.startswith("__"):
            raise AttributeError(name)
        return _absent_class(f"{cls.__qualname__}.{name}")


class _Absent(metaclass=_AbsentMeta):
    """A member of a placeholder module: importing it and building it at module level work (MMagic does
    ``T.Normalize(...)`` at import time); calling, reading or testing the object says what is missing."""

    def __new__(cls, *args, **kwargs):
        if len(args) == 1 and not kwargs and callable(args[0]) and not isinstance(args[0], type):
            return args[0]  # used as a decorator at import time (``@register_to_config``): pass through
        return super().__new__(cls)

    def __init__(self, *args, **kwargs) -> None:
        pass

    def _missing(self, *args, **kwargs):
        raise ImportError(f"{type(self).__qualname__}: not installed in the side venv (a placeholder)")

    __call__ = __bool__ = _missing

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        self._missing()


def _absent_class(qualname: str) -> type:
    return _AbsentMeta(qualname.rpartition(".")[2], (_Absent,), {"__qualname__": qualname})


class _PlaceholderModule(types.ModuleType):
    """A module standing in for an absent optional package; every member is an absent class."""

    def __getattr__(self, name):
        if name.startswith("__"):
            raise AttributeError(name)
        value = _absent_class(f"{self.__name__}.{name}")
        setattr(self, name, value)
        return value


class _PlaceholderFinder(importlib.abc.MetaPathFinder, importlib.abc.Loader):
    """Last on ``sys.meta_path``: answers only imports nothing else found, under the given packages."""

    def __init__(self, packages: set[str], members: dict[str, dict[str, object]]) -> None:
        self.packages, self.members = packages, members
        self.created: list[str] = []

    def find_spec(self, name, path=None, target=None):
        if not any(name == p or name.startswith(p + ".") for p in self.packages):
            return None
        return importlib.machinery.ModuleSpec(name, self, is_package=True)

    def create_module(self, spec):
        module = _PlaceholderModule(spec.name)
        module.__path__ = []
        vars(module).update(self.members.get(spec.name, {}))
        self.created.append(spec.name)
        return module

    def exec_module(self, module) -> None:
        pass


def _importable(name: str) -> bool:
    try:
        importlib.import_module(name)
        return True
    except ImportError:
        return False


@contextlib.contextmanager
def _placeholders(
    packages: tuple[str, ...],
    modules: dict[str, types.ModuleType] | None = None,
    members: dict[str, dict[str, object]] | None = None,
):
    """During an import: placeholder modules for the absent ones of ``packages`` (and every submodule of
    theirs that does not exist; ``members``: real members some of them need), plus the given ready-made
    ``modules``; afterwards all of them leave ``sys.modules`` and their parents' attributes."""
    absent = {p for p in packages if p in sys.modules or not _importable(p)}
    finder = _PlaceholderFinder(absent, members or {})
    given = [name for name in (modules or {}) if name not in sys.modules]
    for name in given:
        sys.modules[name] = modules[name]
    sys.meta_path.append(finder)
    try:
        yield
    finally:
        sys.meta_path.remove(finder)
        for name in sorted(given + finder.created, key=lambda n: -n.count(".")):
            sys.modules.pop(name, None)
            parent, _, child = name.rpartition(".")
            if parent in sys.modules and child in vars(sys.modules[parent]):
                delattr(sys.modules[parent], child)


def _make_grid(
    tensor,
    nrow: int = 8,
    padding: int = 2,
    normalize: bool = False,
    value_range=None,
    scale_each: bool = False,
    pad_value: float = 0.0,
) -> torch.Tensor:
    """torchvision.utils.make_grid in pure torch: (B, C, H, W) images tiled ``nrow`` per row."""
    if isinstance(tensor, (list, tuple)):
        tensor = torch.stack(list(tensor))
    if tensor.dim() == 2:
        tensor = tensor[None]
    if tensor.dim() == 3:
        tensor = tensor[None] if tensor.size(0) in (1, 3) else tensor[:, None]
    if tensor.size(1) == 1:
        tensor = tensor.expand(-1, 3, -1, -1)
    tensor = tensor.clone()
    if normalize:
        parts = tensor if scale_each else [tensor]
        for part in parts:
            low, high = value_range if value_range is not None else (float(part.min()), float(part.max()))
            part.clamp_(min=low, max=high).sub_(low).div_(max(high - low, 1e-5))
    if tensor.size(0) == 1:
        return tensor[0]
    count, channels, height, width = tensor.shape
    cols = min(nrow, count)
    rows = int(math.ceil(count / cols))
    h, w = height + padding, width + padding
    grid = tensor.new_full((channels, rows * h + padding, cols * w + padding), pad_value)
    for k in range(count):
        y, x = divmod(k, cols)
        grid[:, y * h + padding : y * h + padding + height, x * w + padding : x * w + padding + width] = (
            tensor[k]
        )
    return grid


def _import_mmagic() -> None:
    """Import MMagic 1.2.0 and register its modules without torchvision, diffusers, transformers."""
    utils = types.ModuleType("torchvision.utils")
    utils.make_grid = _make_grid
    absent = (
        "torchvision",
        "diffusers",
        "transformers",
        "huggingface_hub",
        "safetensors",
        "xformers",
        "albumentations",
        "lpips",
        "imageio",
        "requests",
        "pandas",
        "resize_right",
    )
    # diffusers' is_xformers_available() is asked at import time (AnimateDiff's attention)
    members = {"diffusers.utils.import_utils": {"is_xformers_available": lambda: False}}
    with _placeholders(absent, {"torchvision.utils": utils}, members):
        import mmagic.utils

        mmagic.utils.register_all_modules(init_default_scope=False)


def _patch_dcgan_discriminator_init() -> None:
    """MMagic 1.2.0's ``DCGANDiscriminator.init_weights`` records an ``init_info`` it sets only for convs and
    norms, so its first module (itself) raises ``UnboundLocalError``: the same initialisation, without
    the record."""
    from mmagic.models.editors.dcgan.dcgan_discriminator import DCGANDiscriminator
    from mmengine.model import normal_init

    def init_weights(self) -> None:
        if self.init_cfg is not None and self.init_cfg["type"] == "Pretrained":
            super(DCGANDiscriminator, self).init_weights()
            return
        for m in self.modules():
            if isinstance(m, (torch.nn.Conv2d, torch.nn.ConvTranspose2d)):
                normal_init(m, 0, 0.02)
            elif isinstance(m, torch.nn.modules.batchnorm._BatchNorm):
                torch.nn.init.normal_(m.weight.data)
                torch.nn.init.constant_(m.bias.data, 0)

    DCGANDiscriminator.init_weights = init_weights


_import_mmagic()
_patch_dcgan_discriminator_init()

from mmagic.structures import DataSample as OmDataSample  # noqa: E402

from visionstack.structures import DataSample, PixelData  # noqa: E402


# ---------------------------------------------------------------------------------------------------
# restoration (SRCNN, EDSR, RRDBNet): BaseEditModel vs Restorer
# ---------------------------------------------------------------------------------------------------
def _images(count: int, height: int, width: int, seed: int) -> list[torch.Tensor]:
    """Smooth-ish uint8 RGB test images (a random low-resolution pattern, upsampled, plus noise)."""
    gen = torch.Generator().manual_seed(seed)
    out = []
    for _ in range(count):
        base = torch.rand(1, 3, max(2, height // 4), max(2, width // 4), generator=gen) * 255
        img = torch.nn.functional.interpolate(
            base, size=(height, width), mode="bilinear", align_corners=False
        )[0]
        img = img + torch.randn(img.shape, generator=gen) * 8
        out.append(img.round().clamp(0, 255).to(torch.uint8))
    return out


def _compare_images(name: str, item: str, vs_images, om_images) -> pc.Row:
    """uint8 output images: visionstack's (rounded, clamped) vs MMagic's float ones rounded the same way."""
    vs = torch.stack([torch.as_tensor(i) for i in vs_images]).long()
    om = torch.stack([torch.as_tensor(i).float() for i in om_images]).round().clamp(0, 255).long()
    if vs.shape != om.shape:
        return pc.Row(FAMILY, name, item, None, False, f"shapes {tuple(vs.shape)} vs {tuple(om.shape)}")
    diff = (vs - om).abs()
    changed = int((diff > 0).sum())
    levels = int(vs.unique().numel())  # not a blank image: the outputs span many levels
    note = (
        f"{tuple(vs.shape[1:])} x {vs.shape[0]}, {levels} levels, {changed} of {diff.numel()} values differ"
    )
    return pc.Row(
        FAMILY, name, item, float(diff.max()), int(diff.max()) <= 1, note + " (rel. col: max levels)"
    )


def _restoration_rows(name: str, om_model, vs_model, lq_size: int, scale: int, seed: int = 1) -> list[pc.Row]:
    rows = []
    lq_rgb = _images(2, lq_size, lq_size, seed)
    gt_rgb = _images(2, lq_size * scale, lq_size * scale, seed + 1)
    om_samples = []
    for gt in gt_rgb:
        sample = OmDataSample(metainfo={"img_channel_order": "rgb", "gt_channel_order": "rgb"})
        sample.gt_img = gt.clone()
        om_samples.append(sample)
    om_data = om_model.data_preprocessor(
        {"inputs": [i.clone() for i in lq_rgb], "data_samples": om_samples}, True
    )
    vs_samples = [DataSample(gt_img=PixelData(data=gt.flip(0))) for gt in gt_rgb]  # visionstack loads BGR
    vs_data = vs_model.data_preprocessor(
        {"inputs": [i.flip(0) for i in lq_rgb], "data_samples": vs_samples}, True
    )
    rows.append(pc.compare(FAMILY, name, "data preprocessor", vs_data["inputs"], om_data["inputs"]))
    inputs = om_data["inputs"]
    with torch.no_grad():
        om_out = om_model(inputs, mode="tensor")
        vs_out = vs_model(inputs.clone(), mode="tensor")
        rows.append(pc.compare(FAMILY, name, "generator output (tensor mode)", vs_out, om_out))
        om_pred = om_model(inputs, om_data["data_samples"], mode="predict")
        vs_pred = vs_model(inputs.clone(), vs_data["data_samples"], mode="predict")
    rows.append(
        _compare_images(
            name,
            "output images (uint8 BGR)",
            [s.pred_img.data for s in vs_pred],
            [s.output.pred_img for s in om_pred],
        )
    )
    om_model.train()
    vs_model.train()
    om_losses = om_model(inputs, om_data["data_samples"], mode="loss")
    vs_losses = vs_model(inputs.clone(), vs_data["data_samples"], mode="loss")
    om_model.eval()
    vs_model.eval()
    rows += pc.compare_losses(FAMILY, name, vs_losses, om_losses, {"loss": "loss_pix"})
    return rows


def _restoration(name: str, lq_size: int, scale: int):
    def run(om_model, vs_model) -> list[pc.Row]:
        return _restoration_rows(name, om_model, vs_model, lq_size, scale)

    return run


# ---------------------------------------------------------------------------------------------------
# generation (DCGAN)
# ---------------------------------------------------------------------------------------------------
def _run_dcgan(om_model, vs_model) -> list[pc.Row]:
    """Same noise through both generators, same images through both discriminators, the GAN losses for
    the same noise and real batch (both draw their noise from torch's global generator: seeded alike)."""
    name = "DCGAN 64x64"
    rows = []
    noise_size = vs_model.noise_size
    gen = torch.Generator().manual_seed(3)
    noise = torch.randn(2, noise_size, generator=gen)
    real = torch.rand(2, 1, 64, 64, generator=gen) * 2 - 1
    with torch.no_grad():
        om_fake = om_model.generator(noise.clone())
        vs_fake = vs_model(noise.clone(), mode="tensor")
        rows.append(pc.compare(FAMILY, name, "generator output (tensor mode)", vs_fake, om_fake))
        om_logits = om_model.discriminator(real).flatten()
        vs_logits = vs_model.discriminator(real)
        rows.append(
            pc.compare(
                FAMILY,
                name,
                "discriminator logits",
                vs_logits,
                om_logits,
                note="deliberate: LeakyReLU 0.2 (the paper) vs MMCV ConvModule's default 0.01",
            )
        )
        slopes = _set_leaky_slope(vs_model.discriminator, 0.01)
        rows.append(
            pc.compare(
                FAMILY, name, "discriminator logits, slope 0.01", vs_model.discriminator(real), om_logits
            )
        )
        _restore_leaky_slope(slopes)
        om_samples = om_model({"noise": noise.clone()}, None)
        vs_samples = vs_model(
            noise.clone(), [DataSample(metainfo={"noise": n}) for n in noise], mode="predict"
        )
    rows.append(
        _compare_images(
            name,
            "generated images (uint8)",
            [s.pred_img.data for s in vs_samples],
            [s.fake_img for s in om_samples],
        )
    )
    # losses in train mode (BatchNorm on batch statistics), the same noise for the fakes
    om_model.train()
    vs_model.train()
    slopes = _set_leaky_slope(vs_model.discriminator, 0.01)  # isolate the loss code from the slope
    try:
        torch.manual_seed(11)
        om_noise = om_model.noise_fn(num_batches=2)
        with torch.no_grad():
            om_fake = om_model.generator(noise=om_noise, return_noise=False)
        om_disc, _ = om_model.disc_loss(om_model.discriminator(om_fake), om_model.discriminator(real))
        torch.manual_seed(11)
        vs_disc = vs_model.disc_losses(real)["loss_disc"]
        rows.append(pc.compare(FAMILY, name, "loss_disc (fake + real BCE), slope 0.01", vs_disc, om_disc))
        torch.manual_seed(12)
        om_noise = om_model.noise_fn(num_batches=2)
        om_gen, _ = om_model.gen_loss(
            om_model.discriminator(om_model.generator(noise=om_noise, return_noise=False))
        )
        torch.manual_seed(12)
        vs_gen = vs_model.gen_losses(2)["loss_gen"]
        rows.append(pc.compare(FAMILY, name, "loss_gen (non-saturating BCE), slope 0.01", vs_gen, om_gen))
    finally:
        _restore_leaky_slope(slopes)
    # the measured effect of the slope on the losses (visionstack's own 0.2)
    torch.manual_seed(11)
    vs_disc = vs_model.disc_losses(real)["loss_disc"]
    torch.manual_seed(12)
    vs_gen = vs_model.gen_losses(2)["loss_gen"]
    note = "deliberate: the paper's LeakyReLU 0.2 (measured effect)"
    rows.append(pc.compare(FAMILY, name, "loss_disc, visionstack's slope 0.2", vs_disc, om_disc, note=note))
    rows.append(pc.compare(FAMILY, name, "loss_gen, visionstack's slope 0.2", vs_gen, om_gen, note=note))
    om_model.eval()
    vs_model.eval()
    return rows


def _set_leaky_slope(module: torch.nn.Module, slope: float) -> list[tuple[torch.nn.LeakyReLU, float]]:
    saved = [(m, m.negative_slope) for m in module.modules() if isinstance(m, torch.nn.LeakyReLU)]
    for m, _ in saved:
        m.negative_slope = slope
    return saved


def _restore_leaky_slope(saved: list[tuple[torch.nn.LeakyReLU, float]]) -> None:
    for m, slope in saved:
        m.negative_slope = slope


CASES = [
    pc.Case(
        family=FAMILY,
        name="SRCNN x4",
        om_package="mmagic",
        om_config="srcnn/srcnn_x4k915_1xb16-1000k_div2k.py",
        vs_config="configs/editing/srcnn_x4k915_1xb16-1000k_div2k.py",
        run=_restoration("SRCNN x4", 12, 4),
        key_file="mmagic_srcnn_x4k915",
    ),
    pc.Case(
        family=FAMILY,
        name="EDSR x2",
        om_package="mmagic",
        om_config="edsr/edsr_x2c64b16_1xb16-300k_div2k.py",
        vs_config="configs/editing/edsr_x2c64b16_1xb16-300k_div2k.py",
        run=_restoration("EDSR x2", 12, 2),
        key_file="mmagic_edsr_x2c64b16",
    ),
    pc.Case(
        family=FAMILY,
        name="EDSR x4",
        om_package="mmagic",
        om_config="edsr/edsr_x4c64b16_1xb16-300k_div2k.py",
        vs_config="configs/editing/edsr_x4c64b16_1xb16-300k_div2k.py",
        run=_restoration("EDSR x4", 12, 4),
        key_file="mmagic_edsr_x4c64b16",
    ),
    pc.Case(
        family=FAMILY,
        name="ESRGAN RRDBNet x4 (PSNR)",
        om_package="mmagic",
        om_config="esrgan/esrgan_psnr-x4c64b23g32_1xb16-1000k_div2k.py",
        vs_config="configs/editing/esrgan_psnr-x4c64b23g32_1xb16-1000k_div2k.py",
        vs_overrides=("model.test_cfg.tile=None",),
        run=_restoration("ESRGAN RRDBNet x4 (PSNR)", 8, 4),
        key_file="mmagic_esrgan_psnr-x4c64b23g32",
    ),
    pc.Case(
        family=FAMILY,
        name="DCGAN 64x64",
        om_package="mmagic",
        om_config="dcgan/dcgan_Glr4e-4_Dlr1e-4_1xb128-5kiters_mnist-64x64.py",
        vs_config="configs/editing/dcgan_32x32_digits.py",
        vs_overrides=(
            "model.generator.output_scale=64",
            "model.generator.base_channels=1024",
            "model.discriminator.input_scale=64",
            "model.discriminator.base_channels=128",
        ),
        run=_run_dcgan,
        key_file="mmagic_dcgan_mnist-64x64",
        note="MMagic's MNIST 64x64 DCGAN; visionstack's digits config at MMagic's size and widths",
    ),
]
