"""weight_init helpers: the same random draws as the bare ``torch.nn.init`` calls; checks.check_num_classes."""

from __future__ import annotations

import math

import pytest
import torch
from torch import nn

from visionstack.models.layers import (
    bias_init_with_prob,
    check_num_classes,
    constant_init,
    init_by_type,
    kaiming_init,
    normal_init,
    trunc_normal_init,
    xavier_init,
)


def _seeded_pair(make: type[nn.Module] = nn.Conv2d) -> tuple[nn.Module, nn.Module]:
    torch.manual_seed(0)
    return make(4, 8, 3), make(4, 8, 3)


@pytest.mark.parametrize(
    ("helper", "bare"),
    [
        (lambda m: normal_init(m, std=0.01), lambda w: nn.init.normal_(w, std=0.01)),
        (lambda m: trunc_normal_init(m, std=0.02), lambda w: nn.init.trunc_normal_(w, std=0.02)),
        (
            lambda m: kaiming_init(m),
            lambda w: nn.init.kaiming_normal_(w, mode="fan_out", nonlinearity="relu"),
        ),
        (lambda m: xavier_init(m), lambda w: nn.init.xavier_uniform_(w)),
    ],
)
def test_helpers_draw_like_the_bare_init_and_zero_the_bias(helper, bare):
    ours, reference = _seeded_pair()
    torch.manual_seed(1)
    helper(ours)
    after_ours = torch.rand(1)
    torch.manual_seed(1)
    bare(reference.weight)
    after_reference = torch.rand(1)
    assert torch.equal(ours.weight, reference.weight)
    assert torch.equal(ours.bias, torch.zeros(8))
    assert torch.equal(after_ours, after_reference)  # the random stream advanced by the same amount


def test_helpers_set_the_bias_constant_and_skip_a_missing_bias():
    conv = nn.Conv2d(2, 3, 1)
    normal_init(conv, std=0.1, bias=0.5)
    assert torch.equal(conv.bias, torch.full((3,), 0.5))
    bias_free = nn.Conv2d(2, 3, 1, bias=False)
    kaiming_init(bias_free)
    assert bias_free.bias is None


def test_constant_init_starts_a_norm_as_identity_and_leaves_a_non_affine_norm_alone():
    norm = nn.BatchNorm2d(4)
    nn.init.normal_(norm.weight)
    constant_init(norm, 1.0)
    assert torch.equal(norm.weight, torch.ones(4)) and torch.equal(norm.bias, torch.zeros(4))
    plain = nn.BatchNorm2d(4, affine=False)
    constant_init(plain, 1.0)
    assert plain.weight is None and plain.bias is None


def test_bias_init_with_prob_is_the_logit_of_the_prior():
    assert bias_init_with_prob(0.01) == -math.log((1 - 0.01) / 0.01)
    assert torch.sigmoid(torch.tensor(bias_init_with_prob(0.2), dtype=torch.float64)).item() == pytest.approx(
        0.2
    )


def test_check_num_classes_returns_the_value_or_names_the_owner():
    assert check_num_classes(3, "RetinaHead") == 3
    with pytest.raises(ValueError, match=r"^RetinaHead: num_classes must be >= 1, got 0$"):
        check_num_classes(0, "RetinaHead")


def test_init_by_type_applies_the_first_matching_rule_in_module_order():
    torch.manual_seed(0)
    model = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1), nn.Linear(4, 2))
    reference = nn.Sequential(nn.Conv2d(2, 4, 3), nn.BatchNorm2d(4), nn.Conv2d(4, 4, 1), nn.Linear(4, 2))
    reference.load_state_dict(model.state_dict())
    linear_before = model[3].weight.clone()
    torch.manual_seed(1)
    init_by_type(
        model,
        [
            (nn.Conv2d, lambda m: normal_init(m, std=0.01)),
            ((nn.Conv2d, nn.BatchNorm2d), lambda m: constant_init(m, 2.0)),
        ],
    )
    torch.manual_seed(1)
    for conv in (reference[0], reference[2]):  # the bare loop: same draws in the same order
        nn.init.normal_(conv.weight, std=0.01)
    torch.testing.assert_close(model[0].weight, reference[0].weight, rtol=0, atol=0)
    torch.testing.assert_close(model[2].weight, reference[2].weight, rtol=0, atol=0)
    assert torch.equal(model[0].bias, torch.zeros(4))  # the first rule won
    assert torch.equal(model[1].weight, torch.full((4,), 2.0))
    assert torch.equal(model[3].weight, linear_before)  # no rule names Linear
