"""MMPose state dicts under visionstack's pose model names (``visionstack convert checkpoint --from openmmlab``).

- Top-down estimators (SimpleBaseline's ``HeatmapHead``, RTMPose's CSPNeXt + ``RTMCCHead``): MMPose's
  keys are visionstack's key for key (the heads were written with MMPose's layer names). visionstack's
  :class:`~.models.topdown.TopdownPoseEstimator` also holds a keypoint-score calibration in two buffers,
  which an MMPose checkpoint cannot have: they are filled with "no calibration" (slope 1, bias 0, off),
  what the estimator itself loads for a checkpoint without them.
- 2D -> 3D lifters (:class:`~.lifting.lifter.PoseLifter`): MMPose splits the network into a ``TCN``
  backbone of conv-norm modules and a ``TemporalRegressionHead`` (``head.conv``), visionstack keeps it
  in one backbone. VideoPose3D (:class:`~.lifting.temporal_conv.TemporalConvNet`) takes the paper's
  code names (``expand_conv``/``expand_bn``, ``layers_conv.k``/``layers_bn.k``, ``shrink``); Martinez et
  al.'s MLP (:class:`~.lifting.simple_baseline.SimpleBaselineMLP`), which MMPose builds as a ``TCN`` with
  1-frame kernels, takes linear layers (``w1``, ``blocks.i.l1``/``l2``, ``w2``): the (C_out, C_in, 1)
  kernels lose their last axis, and the linears that MMPose builds without a bias (a batch norm follows
  them) get a zero bias, which computes the same.
"""

from __future__ import annotations

import re

import torch
from torch import nn

from ...models.openmmlab_keys import (
    Conversion,
    StateDict,
    convert_children,
    register_openmmlab_converter,
    rename_keys,
    sub_dict,
)

__all__ = ["convert_pose_lifter", "convert_topdown_pose_estimator"]


@register_openmmlab_converter("TopdownPoseEstimator")
def convert_topdown_pose_estimator(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """MMPose's ``TopdownPoseEstimator``: the same names; the score-calibration buffers are filled when absent."""
    out = convert_children(sd, module, conversion)
    defaults = {"score_calibration": torch.tensor([1.0, 0.0]), "score_calibrated": torch.tensor(False)}
    for name, value in defaults.items():
        if name not in out:
            conversion.fill(out, name, value, "MMPose has no keypoint-score calibration: none (raw scores)")
    return out


def _temporal_conv_rules() -> list[tuple[str, str]]:
    """MMPose ``TCN`` + ``TemporalRegressionHead`` keys -> :class:`TemporalConvNet` keys (under ``backbone.``).

    Block ``i``'s dilated convolution (``conv1``) is layer ``2i``, its 1x1 convolution (``conv2``) layer ``2i + 1``.
    """
    return [
        (r"backbone\.expand_conv\.conv\.(.*)", r"backbone.expand_conv.\1"),
        (r"backbone\.expand_conv\.bn\.(.*)", r"backbone.expand_bn.\1"),
        (
            r"backbone\.tcn_blocks\.(\d+)\.conv([12])\.0\.(conv|bn)\.(.*)",
            lambda m: f"backbone.layers_{m[3]}.{2 * int(m[1]) + int(m[2]) - 1}.{m[4]}",
        ),
        (r"head\.conv\.(.*)", r"backbone.shrink.\1"),
    ]


def _simple_baseline_rules() -> list[tuple[str, str]]:
    """MMPose ``TCN`` (kernels of 1 frame) + ``TemporalRegressionHead`` -> :class:`SimpleBaselineMLP` keys."""
    return [
        (r"backbone\.expand_conv\.conv\.(.*)", r"backbone.w1.\1"),
        (r"backbone\.expand_conv\.bn\.(.*)", r"backbone.bn1.\1"),
        (r"backbone\.tcn_blocks\.(\d+)\.conv([12])\.0\.conv\.(.*)", r"backbone.blocks.\1.l\2.\3"),
        (r"backbone\.tcn_blocks\.(\d+)\.conv([12])\.0\.bn\.(.*)", r"backbone.blocks.\1.bn\2.\3"),
        (r"head\.conv\.(.*)", r"backbone.w2.\1"),
    ]


def _check_plain_tcn(sd: StateDict, source: str) -> None:
    """MMPose's ``TCN`` options that visionstack's lifters do not have raise here, named."""
    extra = sorted(key for key in sd if re.search(r"\.short_cut\.|^traj_", key))
    if extra:
        raise KeyError(
            f"{source}: keys {extra[:3]} belong to a TCN with shortcut convolutions or a trajectory head, which "
            "visionstack's lifters do not have"
        )


@register_openmmlab_converter("PoseLifter")
def convert_pose_lifter(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """MMPose's ``PoseLifter`` (``TCN`` backbone + ``TemporalRegressionHead``) onto visionstack's.

    Keys already under visionstack's names pass through, so a visionstack checkpoint converts to itself.
    """
    backbone = module.backbone
    kind = type(backbone).__name__
    if not any(key.startswith(("backbone.expand_conv.conv.", "head.conv.")) for key in sd):
        return convert_children(sd, module, conversion)
    _check_plain_tcn(sd, conversion.source)
    if kind == "TemporalConvNet":
        return rename_keys(sd, _temporal_conv_rules())
    if kind == "SimpleBaselineMLP":
        out = rename_keys(sd, _simple_baseline_rules())
        for key, value in list(out.items()):
            if key.endswith(".weight") and value.ndim == 3 and value.shape[-1] == 1:
                out[key] = value[..., 0]  # a 1-frame Conv1d kernel is a Linear's weight
        own = sub_dict(dict(module.state_dict()), "backbone")
        for name, linear in backbone.named_modules():
            if isinstance(linear, nn.Linear) and f"backbone.{name}.bias" not in out and name:
                bias = torch.zeros_like(own[f"{name}.bias"])
                conversion.fill(
                    out,
                    f"backbone.{name}.bias",
                    bias,
                    "MMPose's conv has no bias before its norm",
                )
        return out
    raise KeyError(
        f"{conversion.source}: an MMPose PoseLifter maps onto a TemporalConvNet or SimpleBaselineMLP backbone, "
        f"not {kind}"
    )
