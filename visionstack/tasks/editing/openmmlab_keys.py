"""MMagic state dicts under visionstack's editing model names (``visionstack convert checkpoint --from openmmlab``).

- Restorers (SRCNN, ESPCN, EDSR, ESRGAN's RRDBNet): the networks were written with MMagic's names
  (``generator.conv1``, ``generator.body.{i}.conv1``, ``generator.upsample.{i}.upsample_conv`` ...), so
  MMagic's keys are visionstack's key for key; no converter is needed.
- DCGAN: MMagic builds every layer of ``DCGANGenerator`` and ``DCGANDiscriminator`` as an MMCV
  ``ConvModule`` (``{unit}.conv``, ``{unit}.bn``, the activation without parameters); visionstack keeps
  flat ``nn.Sequential`` s (convolution, optional BatchNorm, activation). The ``k``-th conv module is the
  ``k``-th convolution of the sequential, its ``bn`` the BatchNorm right after it. visionstack's
  ``DCGAN`` also counts its training iterations in a buffer (``iteration``, which schedules
  ``discriminator_steps``), which an MMagic checkpoint does not have: it starts at 0.
"""

from __future__ import annotations

import torch
from torch import nn

from ...models.openmmlab_keys import Conversion, StateDict, convert_children, register_openmmlab_converter

__all__ = ["conv_module_units", "convert_conv_modules", "convert_dcgan"]

_CONVS = (nn.Conv2d, nn.ConvTranspose2d)


def conv_module_units(sequential: nn.Module) -> list[tuple[str, str | None]]:
    """``[(conv name, norm name or None), ...]`` of a flat sequential, one entry per convolution: the names
    an MMCV ``ConvModule`` sequence's ``{k}.conv`` and ``{k}.bn`` take in it."""
    units: list[tuple[str, str | None]] = []
    children = list(sequential.named_children())
    for index, (name, child) in enumerate(children):
        if isinstance(child, _CONVS):
            after = children[index + 1][1] if index + 1 < len(children) else None
            norm = children[index + 1][0] if isinstance(after, nn.modules.batchnorm._BatchNorm) else None
            units.append((name, norm))
    return units


def convert_conv_modules(sd: StateDict, sequential: nn.Module, single: bool = False) -> StateDict:
    """MMCV ``ConvModule`` keys -> a flat sequential's keys.

    Args:
        sd: keys ``{k}.conv.*`` / ``{k}.bn.*`` (a sequence of conv modules), or ``conv.*`` / ``bn.*``
            when ``single`` (one conv module).
        sequential: the visionstack sequential (see :func:`conv_module_units`).

    Keys that do not have this form are returned unchanged (the strict check then names them).
    """
    units = conv_module_units(sequential)
    out: StateDict = {}
    for key, value in sd.items():
        parts = key.split(".")
        if single:
            parts = ["0", *parts]
        unit = int(parts[0]) if parts[0].isdigit() else -1
        if 0 <= unit < len(units) and len(parts) >= 3 and parts[1] in ("conv", "bn"):
            conv_name, norm_name = units[unit]
            target = conv_name if parts[1] == "conv" else norm_name
            if target is not None:
                out[".".join([target, *parts[2:]])] = value
                continue
        out[key] = value
    return out


@register_openmmlab_converter("DCGANGenerator")
def convert_dcgan_generator(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """MMagic's ``noise2feat`` / ``output_layer`` conv modules and ``upsampling.{k}`` ones, flattened."""
    out: StateDict = {}
    for name in ("noise2feat", "upsampling", "output_layer"):
        head = name + "."
        sub = {key[len(head) :]: value for key, value in sd.items() if key.startswith(head)}
        single = name != "upsampling"
        out.update(
            {f"{name}.{k}": v for k, v in convert_conv_modules(sub, getattr(module, name), single).items()}
        )
    out.update(
        {k: v for k, v in sd.items() if not k.startswith(("noise2feat.", "upsampling.", "output_layer."))}
    )
    return out


@register_openmmlab_converter("DCGANDiscriminator")
def convert_dcgan_discriminator(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """MMagic's ``downsamples.{k}`` conv modules flattened; its ``output_layer`` conv module is a plain conv."""
    out: StateDict = {}
    sub = {key[len("downsamples.") :]: value for key, value in sd.items() if key.startswith("downsamples.")}
    out.update({f"downsamples.{k}": v for k, v in convert_conv_modules(sub, module.downsamples).items()})
    for key, value in sd.items():
        if key.startswith("output_layer.conv."):
            out["output_layer." + key[len("output_layer.conv.") :]] = value
        elif not key.startswith("downsamples."):
            out[key] = value
    return out


@register_openmmlab_converter("DCGAN")
def convert_dcgan(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """Generator and discriminator converted; the iteration counter (not in MMagic's state) starts at 0."""
    out = convert_children(sd, module, conversion)
    if "iteration" not in out and hasattr(module, "iteration"):
        out["iteration"] = torch.zeros_like(module.iteration)
    return out
