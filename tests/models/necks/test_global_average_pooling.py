"""GlobalAveragePooling: per-map spatial means for 2D, 3D and sequence features."""

from __future__ import annotations

import pytest
import torch

from visionstack.models.necks import GlobalAveragePooling


def test_pools_every_map_of_the_tuple():
    a, b = torch.randn(2, 4, 3, 5), torch.randn(2, 6, 2, 2)
    out_a, out_b = GlobalAveragePooling()((a, b))
    torch.testing.assert_close(out_a, a.mean(dim=(2, 3)))
    torch.testing.assert_close(out_b, b.mean(dim=(2, 3)))


def test_volumes_sequences_and_single_tensors():
    video = torch.randn(2, 3, 4, 5, 6)
    (out,) = GlobalAveragePooling()(video)
    torch.testing.assert_close(out, video.mean(dim=(2, 3, 4)))
    sequence = torch.randn(2, 3, 7)
    torch.testing.assert_close(GlobalAveragePooling()((sequence,))[0], sequence.mean(dim=2))


def test_already_pooled_input_is_an_error():
    with pytest.raises(ValueError, match="already pool"):
        GlobalAveragePooling()((torch.randn(2, 8),))
