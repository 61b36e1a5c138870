from __future__ import annotations

import numpy as np
import pytest

from visionstack.data import BaseTransform, Compose, RandomApply, RandomChoice
from visionstack.registry import build


class AddTag(BaseTransform):
    def __init__(self, tag: str) -> None:
        self.tag = tag

    def transform(self, results: dict) -> dict:
        results.setdefault("tags", []).append(self.tag)
        return results


def test_compose_applies_in_order_and_stops_at_none():
    assert Compose([AddTag("a"), AddTag("b")])({})["tags"] == ["a", "b"]
    calls = []
    stopped = Compose([AddTag("a"), lambda results: None, lambda results: calls.append(1)])
    assert stopped({}) is None and not calls
    assert Compose()({"x": 1}) == {"x": 1}
    assert len(Compose(Compose([AddTag("a")]))) == 1
    with pytest.raises(TypeError, match=r"transforms\[1\] is a dict"):
        Compose([AddTag("a"), {"type": "AddTag"}])


def test_repr_shows_constructor_arguments():
    assert repr(AddTag("x")) == "AddTag(tag='x')"
    assert "AddTag(tag='y')" in repr(Compose([AddTag("y")]))


def test_random_apply_frequency_and_bounds(seeded):
    apply = RandomApply([AddTag("a"), AddTag("b")], prob=0.3)
    applied = sum("tags" in apply({}) for _ in range(2000))
    assert 500 < applied < 700
    assert RandomApply(AddTag("a"), prob=1.0)({})["tags"] == ["a"]
    assert RandomApply(AddTag("a"), prob=0.0)({}) == {}
    with pytest.raises(ValueError, match="prob"):
        RandomApply(AddTag("a"), prob=1.5)


def test_random_choice_follows_weights(seeded):
    choice = RandomChoice([[AddTag("a"), AddTag("a2")], AddTag("b")], prob=[3, 1])
    picks = [tuple(choice({})["tags"]) for _ in range(2000)]
    assert set(picks) == {("a", "a2"), ("b",)}
    assert 1400 < picks.count(("a", "a2")) < 1600
    with pytest.raises(ValueError, match="2 non-negative weights"):
        RandomChoice([AddTag("a"), AddTag("b")], prob=[1])


def test_wrappers_build_from_config_with_nested_transforms():
    np.random.seed(0)
    pipeline = build(
        dict(
            type="Compose",
            transforms=[
                dict(type="RandomApply", transforms=[dict(type="RandomFlip", prob=1.0)], prob=1.0),
                dict(type="RandomChoice", transforms=[dict(type="Resize", scale=(4, 4))]),
            ],
        )
    )
    img = np.arange(2 * 3 * 3, dtype=np.uint8).reshape(2, 3, 3)
    out = pipeline({"img": img, "img_shape": (2, 3)})
    assert out["flip"] and out["img_shape"] == (4, 4)
