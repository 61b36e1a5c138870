"""DeltaXYZWLHRBBoxCoder: hand-computed deltas, decode(encode) round trip, extra columns, registry."""

from __future__ import annotations

import math

import torch

from visionstack.registry import MODELS
from visionstack.tasks.det3d.box_coder import DeltaXYZWLHRBBoxCoder


def test_hand_case():
    anchor = torch.tensor([[10.0, 2.0, -1.78, 3.9, 1.6, 1.56, 0.0]], dtype=torch.float64)
    target = torch.tensor([[11.0, 1.0, -1.5, 4.2, 1.7, 1.4, 0.3]], dtype=torch.float64)
    diagonal = math.sqrt(3.9**2 + 1.6**2)
    expected = [
        1.0 / diagonal,
        -1.0 / diagonal,
        ((-1.5 + 0.7) - (-1.78 + 0.78)) / 1.56,  # centres: bottom + half height
        math.log(4.2 / 3.9),
        math.log(1.7 / 1.6),
        math.log(1.4 / 1.56),
        0.3,
    ]
    coder = DeltaXYZWLHRBBoxCoder()
    deltas = coder.encode(anchor, target)
    torch.testing.assert_close(deltas, torch.tensor([expected], dtype=torch.float64))
    torch.testing.assert_close(coder.decode(anchor, torch.zeros_like(anchor)), anchor)


def test_round_trip_on_random_boxes():
    generator = torch.Generator().manual_seed(0)
    shape = (5, 40)

    def random_boxes():
        centre = torch.rand(*shape, 3, generator=generator) * 40 - 20
        size = torch.rand(*shape, 3, generator=generator) * 4 + 0.3
        yaw = torch.rand(*shape, 1, generator=generator) * 6.4 - 3.2
        return torch.cat([centre, size, yaw], dim=-1).double()

    anchors, targets = random_boxes(), random_boxes()
    coder = DeltaXYZWLHRBBoxCoder()
    deltas = coder.encode(anchors, targets)
    assert deltas.shape == targets.shape
    torch.testing.assert_close(coder.decode(anchors, deltas), targets)
    torch.testing.assert_close(coder.encode(anchors, coder.decode(anchors, deltas)), deltas)


def test_extra_columns_are_plain_differences():
    coder = DeltaXYZWLHRBBoxCoder(code_size=9)
    anchor = torch.tensor([[0.0, 0, 0, 2, 1, 1, 0, 0.5, -0.5]])
    target = torch.tensor([[1.0, 0, 0, 2, 1, 1, 0, 2.0, 1.0]])
    deltas = coder.encode(anchor, target)
    torch.testing.assert_close(deltas[:, 7:], torch.tensor([[1.5, 1.5]]))
    torch.testing.assert_close(coder.decode(anchor, deltas), target)


def test_registered_under_mmdetection3d_name():
    coder = MODELS.build(dict(type="DeltaXYZWLHRBBoxCoder", code_size=7))
    assert isinstance(coder, DeltaXYZWLHRBBoxCoder) and coder.code_size == 7
