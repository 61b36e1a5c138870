"""OpenMMLab (MMDetection) key names of the two-stage detectors: Faster R-CNN and Mask R-CNN.

visionstack's second-stage modules keep MMDetection's parameter names, so almost every key maps as
it is: the detector's parts (``backbone``, ``neck``, ``rpn_head``, ``roi_head``), the RPN's
``rpn_conv`` / ``rpn_cls`` / ``rpn_reg``, the box head's ``shared_fcs.{0,1}`` / ``fc_cls`` /
``fc_reg`` under ``roi_head.bbox_head``, and the mask head's ``upsample`` and ``conv_logits``. The
RoI extractors have no parameters. One difference: MMDetection builds the mask head's 3x3
convolutions as ``ConvModule`` s (``convs.i.conv.weight``), visionstack as plain convolutions
(``convs.i.weight``); :func:`convert_fcn_mask_head` renames them.
"""

from __future__ import annotations

from torch import nn

from ...models.openmmlab_keys import Conversion, StateDict, register_openmmlab_converter, rename_keys

__all__ = ["convert_fcn_mask_head"]


@register_openmmlab_converter("FCNMaskHead")
def convert_fcn_mask_head(sd: StateDict, module: nn.Module, conversion: Conversion) -> StateDict:
    """Mask R-CNN's mask head: ``convs.i.conv.*`` (MMDetection's ConvModule) onto ``convs.i.*``."""
    return rename_keys(sd, [(r"convs\.(\d+)\.conv\.(weight|bias)", r"convs.\1.\2")])
