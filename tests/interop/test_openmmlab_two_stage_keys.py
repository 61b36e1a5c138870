"""MMDetection's Faster / Mask R-CNN key names map onto visionstack's two-stage modules (no OpenMMLab needed).

MMDetection names the mask head's 3x3 convolutions ``convs.i.conv.*`` (ConvModule); every other
second-stage key (RPN, box head, mask upsample and predictor) is named as in visionstack. The full
models' key lists (tests/data/openmmlab_keys/mmdet_{faster,mask}_rcnn_r50_fpn.json) are checked by
test_openmmlab_key_lists.py; these tests check the converter's behaviour on small heads.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest
import torch

import visionstack.tasks  # noqa: F401
from visionstack.models.openmmlab_keys import OpenMMLabKeyError, convert_openmmlab_state_dict
from visionstack.structures import InstanceData
from visionstack.tasks.detection.models import (
    FCNMaskHead,
    RPNHead,
    Shared2FCBBoxHead,
    SingleRoIExtractor,
    StandardRoIHead,
)

KEY_DIR = Path(__file__).resolve().parents[2] / "tests" / "data" / "openmmlab_keys"


def _roi_head(seed: int) -> StandardRoIHead:
    torch.manual_seed(seed)
    return StandardRoIHead(
        bbox_roi_extractor=SingleRoIExtractor(7, out_channels=8, featmap_strides=(4, 8)),
        bbox_head=Shared2FCBBoxHead(num_classes=3, in_channels=8, fc_out_channels=16),
        mask_roi_extractor=SingleRoIExtractor(14, out_channels=8, featmap_strides=(4, 8)),
        mask_head=FCNMaskHead(num_classes=3, in_channels=8, conv_out_channels=8, num_convs=2),
    )


def _mmdet_names(sd: dict[str, torch.Tensor]) -> dict[str, torch.Tensor]:
    """visionstack's keys as MMDetection writes them (the mask head's convs inside ConvModules)."""
    return {re.sub(r"mask_head\.convs\.(\d+)\.", r"mask_head.convs.\1.conv.", k): v for k, v in sd.items()}


def test_mask_rcnn_roi_head_keys_convert_and_compute_the_same() -> None:
    source, target = _roi_head(0), _roi_head(1)
    checkpoint = _mmdet_names(source.state_dict())
    assert "mask_head.convs.1.conv.weight" in checkpoint and "bbox_head.shared_fcs.0.weight" in checkpoint
    sd, conversion = convert_openmmlab_state_dict(target, {"state_dict": checkpoint}, source="tiny")
    target.load_state_dict(sd, strict=True)
    assert conversion.dropped == []
    gen = torch.Generator().manual_seed(2)
    feats = [torch.randn(1, 8, 32, 32, generator=gen), torch.randn(1, 8, 16, 16, generator=gen)]
    proposals = [InstanceData(bboxes=torch.tensor([[10.0, 12.0, 60.0, 70.0], [0.0, 0.0, 120.0, 90.0]]))]
    source.eval()
    target.eval()
    with torch.no_grad():
        for expected, got in zip(source(feats, proposals), target(feats, proposals)):
            assert torch.equal(expected, got)


def test_rpn_head_keys_are_mmdetections() -> None:
    head = RPNHead(in_channels=8, feat_channels=8)
    sd, _ = convert_openmmlab_state_dict(head, head.state_dict(), source="rpn")
    assert sorted(sd) == sorted(
        f"{n}.{p}" for n in ("rpn_conv", "rpn_cls", "rpn_reg") for p in ("weight", "bias")
    )


def test_mask_head_with_norm_layers_is_refused_by_name() -> None:
    """A checkpoint whose mask convs carry a norm (a config with norm_cfg) does not fit the plain head."""
    head = _roi_head(0)
    checkpoint = _mmdet_names(head.state_dict())
    checkpoint["mask_head.convs.0.bn.weight"] = torch.ones(8)
    with pytest.raises(OpenMMLabKeyError, match=r"mask_head\.convs\.0\.bn\.weight"):
        convert_openmmlab_state_dict(head, checkpoint, source="with-norm")


@pytest.mark.parametrize("name", ["mmdet_faster_rcnn_r50_fpn", "mmdet_mask_rcnn_r50_fpn"])
def test_two_stage_key_lists_are_kept(name: str) -> None:
    record = json.loads((KEY_DIR / f"{name}.json").read_text())
    keys = record["keys"]
    assert keys["roi_head.bbox_head.fc_cls.weight"] == [81, 1024]
    assert keys["rpn_head.rpn_reg.weight"] == [12, 256, 1, 1]
    assert ("roi_head.mask_head.convs.3.conv.weight" in keys) == ("mask" in name)
