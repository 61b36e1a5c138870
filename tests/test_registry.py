"""Registry: registration, lookup errors with suggestions, bottom-up build, validation."""

from __future__ import annotations

import functools

import pytest

from visionstack.registry import ConfigError, Registry, build, validate


@pytest.fixture()
def registry(monkeypatch):
    reg = Registry("widget")
    monkeypatch.setattr("visionstack.registry.ALL_REGISTRIES", (reg,))

    @reg.register()
    class Inner:
        def __init__(self, size: int = 1):
            self.size = size

    @reg.register(name="Outer")
    class OuterWidget:
        def __init__(self, inner, factory=None, items=()):
            self.inner, self.factory, self.items = inner, factory, items

    @reg.register()
    class Flexible:
        def __init__(self, **kwargs):
            self.kwargs = kwargs

    return reg


def test_build_is_bottom_up(registry):
    obj = build(dict(type="Outer", inner=dict(type="Inner", size=3), items=[dict(type="Inner"), 5]), registry)
    assert obj.inner.size == 3
    assert type(obj.items[0]).__name__ == "Inner" and obj.items[1] == 5


def test_partial_gives_a_factory(registry):
    obj = build(dict(type="Outer", inner=None, factory=dict(type="Inner", _partial_=True)), registry)
    assert isinstance(obj.factory, functools.partial)
    assert obj.factory(size=7).size == 7


def test_type_may_be_the_class_itself(registry):
    inner_cls = registry.get("Inner")
    assert build(dict(type=inner_cls, size=4)).size == 4


def test_extra_kwargs_reach_the_top_level(registry):
    assert build(dict(type="Outer"), registry, inner="given").inner == "given"


def test_unknown_type_suggests_close_names(registry):
    with pytest.raises(ConfigError, match=r"model\.inner\.type: 'Iner' is not a registered widget.*'Inner'"):
        validate(dict(model=dict(type="Outer", inner=dict(type="Iner"))), registry)


def test_misspelled_key_names_path_and_fix(registry):
    with pytest.raises(ConfigError, match=r"inner\.sise: .*no argument 'sise'.*'size'"):
        build(dict(type="Outer", inner=dict(type="Inner", sise=3)), registry)


def test_var_keyword_constructor_accepts_any_key(registry):
    assert build(dict(type="Flexible", anything=1), registry).kwargs == {"anything": 1}


def test_kwargs_forwarded_to_the_parent_are_checked_against_its_arguments(registry):
    @registry.register()
    class Child(registry.get("Outer")):
        def __init__(self, extra=0, **kwargs):
            super().__init__(**kwargs)
            self.extra = extra

    @registry.register()
    class FlexibleChild(registry.get("Flexible")):
        def __init__(self, extra=0, **kwargs):
            super().__init__(**kwargs)

    validate(dict(type="Child", extra=1, inner=3, items=()), registry)
    assert build(dict(type="Child", extra=1, inner=3), registry).inner == 3
    with pytest.raises(ConfigError, match=r"^iems: .*Child has no argument 'iems'.*'items'"):
        validate(dict(type="Child", inner=3, iems=()), registry)
    with pytest.raises(ConfigError, match=r"extr: .*'extra'"):
        build(dict(type="Child", inner=3, extr=1), registry)
    # the chain ends in a constructor that takes any key: any key is accepted
    validate(dict(type="FlexibleChild", anything=1), registry)


def test_misspelt_dataset_key_fails_validation_with_a_suggestion():
    import visionstack  # noqa: F401

    with pytest.raises(
        ConfigError, match=r"^dataset\.piepline: .*ImageFolder has no argument 'piepline'.*'pipeline'"
    ):
        validate(dict(dataset=dict(type="ImageFolder", data_root="x", piepline=[])))
    with pytest.raises(
        ConfigError, match=r"^max_refech: .*ImageList has no argument 'max_refech'.*'max_refetch'"
    ):
        validate(dict(type="ImageList", ann_file="x.txt", max_refech=3))
    validate(
        dict(type="ImageList", ann_file="x.txt", classes=["a"], metainfo={}, pipeline=[], test_mode=True)
    )


def test_duplicate_registration_names_both(registry):
    with pytest.raises(KeyError, match="already registered by .*Inner"):

        @registry.register(name="Inner")
        class Other:
            pass


def test_get_error_lists_closest_names(registry):
    with pytest.raises(KeyError, match="Did you mean: 'Outer'"):
        registry.get("Outter")


def test_dotted_path_imports():
    reg = Registry("x")
    assert reg.get("collections.OrderedDict").__name__ == "OrderedDict"


def test_global_registries_are_populated():
    import visionstack  # noqa: F401
    from visionstack.registry import MODELS, OPTIMIZERS, TRANSFORMS

    assert "ResNet" in MODELS and "SGD" in OPTIMIZERS and "LoadImage" in TRANSFORMS
