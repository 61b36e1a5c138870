"""The transform protocol and the wrappers that combine transforms.

A transform maps a *results* dict to a results dict (or to None, which tells a training dataset
to draw another sample). Keys follow docs/contracts.md: ``img`` (HWC uint8 BGR ndarray),
``img_path``, ``ori_shape`` (h, w), ``img_shape`` (h, w), ``scale_factor`` (w, h), ``flip``,
``flip_direction``, ``gt_label`` ...

Randomness comes from the global ``random``/``numpy.random`` generators only, which the runner seeds
per process and per DataLoader worker, so a seeded run is reproducible.
"""

from __future__ import annotations

import abc
import inspect
from collections.abc import Callable, Mapping, Sequence
from typing import Any

import numpy as np

from ...registry import TRANSFORMS, ConfigError

Transform = Callable[[dict], "dict | None"]

__all__ = ["BaseTransform", "Compose", "RandomApply", "RandomChoice", "Transform", "TransformConfigError"]


class TransformConfigError(ConfigError, TypeError):
    """A transform config dict given to :class:`Compose` could not be built; the message names the entry.

    A :class:`~visionstack.registry.ConfigError` (config problem) and a ``TypeError`` (the entry is not a
    usable transform), so code that caught either before dicts were accepted still catches it.
    """


class BaseTransform(abc.ABC):
    """Base class of the data transforms: ``transform(results) -> results | None``.

    Subclasses keep their constructor arguments as attributes of the same name, which gives them
    a readable ``repr`` for free.
    """

    @abc.abstractmethod
    def transform(self, results: dict) -> dict | None:
        """Transform ``results`` in place or into a new dict; return None to reject the sample."""

    def __call__(self, results: dict) -> dict | None:
        return self.transform(results)

    def __repr__(self) -> str:
        parameters = inspect.signature(type(self).__init__).parameters
        shown = [
            f"{name}={getattr(self, name)!r}" for name in parameters if name != "self" and hasattr(self, name)
        ]
        return f"{type(self).__name__}({', '.join(shown)})"


def _check_callables(transforms: Sequence[Any], owner: str) -> list[Transform]:
    """The transforms, config dicts built through the ``TRANSFORMS`` registry, everything checked callable."""
    checked = list(transforms)
    for index, transform in enumerate(checked):
        if isinstance(transform, Mapping):
            checked[index] = _build_entry(transform, index, owner)
        elif not callable(transform):
            raise TypeError(
                f"{owner}: transforms[{index}] is a {type(transform).__name__}, not a callable; "
                "pass built transforms or transform config dicts with a `type`"
            )
    return checked


def _build_entry(cfg: Mapping[str, Any], index: int, owner: str) -> Transform:
    """Build one transform config dict (``dict(type="Resize", scale=(64, 64))``), naming it on failure."""
    shown = f"{dict(cfg)!r:.200}"
    if "type" not in cfg:
        raise TransformConfigError(
            f"{owner}: transforms[{index}] is a dict without `type`: {shown}; "
            "a transform config dict names its transform, e.g. dict(type='Resize', scale=(64, 64))"
        )
    try:
        built = TRANSFORMS.build(cfg)
    except Exception as error:  # unknown type, bad keyword, or the constructor's own check
        raise TransformConfigError(
            f"{owner}: transforms[{index}] is a dict that could not be built: {shown}: {error}"
        ) from error
    if not callable(built):
        raise TransformConfigError(
            f"{owner}: transforms[{index}] built a {type(built).__name__}, not a callable transform: {shown}"
        )
    return built


@TRANSFORMS.register()
class Compose(BaseTransform):
    """Apply transforms in order; stop and return None as soon as one returns None.

    Args:
        transforms: transforms (callables ``dict -> dict | None``) and/or transform config dicts
            (``dict(type="Resize", scale=(64, 64))``, built through the ``TRANSFORMS`` registry, as
            MMCV's ``Compose`` builds them), in any mix; a single transform or dict counts as a list of
            one. A dict that does not build raises :class:`TransformConfigError` naming its position.
    """

    def __init__(
        self, transforms: Sequence[Transform | Mapping[str, Any]] | Transform | Mapping = ()
    ) -> None:
        if isinstance(transforms, Compose):
            transforms = transforms.transforms
        elif isinstance(transforms, Mapping) or callable(transforms):
            transforms = [transforms]
        self.transforms = _check_callables(transforms, "Compose")

    def transform(self, results: dict) -> dict | None:
        for transform in self.transforms:
            results = transform(results)
            if results is None:
                return None
        return results

    def __iter__(self):
        return iter(self.transforms)

    def __len__(self) -> int:
        return len(self.transforms)

    def __repr__(self) -> str:
        inner = "".join(f"\n    {transform!r}," for transform in self.transforms)
        return f"Compose([{inner}\n])" if inner else "Compose([])"


@TRANSFORMS.register()
class RandomApply(BaseTransform):
    """Apply a sequence of transforms with probability ``prob``, otherwise pass the sample through.

    Args:
        transforms: one built transform or a sequence applied in order.
        prob: probability of applying them, in [0, 1].
    """

    def __init__(self, transforms: Transform | Sequence[Transform], prob: float = 0.5) -> None:
        if not 0.0 <= prob <= 1.0:
            raise ValueError(f"RandomApply: prob must be in [0, 1], got {prob}")
        self.transforms = Compose([transforms] if callable(transforms) else transforms)
        self.prob = prob

    def transform(self, results: dict) -> dict | None:
        if np.random.rand() < self.prob:
            return self.transforms(results)
        return results


@TRANSFORMS.register()
class RandomChoice(BaseTransform):
    """Apply one of several transform sequences, chosen at random each call.

    Args:
        transforms: the choices; each is one built transform or a sequence applied in order.
        prob: the probability of each choice (normalised to sum 1); uniform when None.
    """

    def __init__(
        self,
        transforms: Sequence[Transform | Sequence[Transform]],
        prob: Sequence[float] | None = None,
    ) -> None:
        if len(transforms) == 0:
            raise ValueError("RandomChoice needs at least one choice")
        self.transforms = [Compose([choice] if callable(choice) else choice) for choice in transforms]
        if prob is not None:
            if len(prob) != len(self.transforms) or min(prob) < 0 or sum(prob) <= 0:
                raise ValueError(
                    f"RandomChoice: prob must hold {len(self.transforms)} non-negative weights with a "
                    f"positive sum, got {list(prob)}"
                )
            prob = [float(p) / float(sum(prob)) for p in prob]
        self.prob = prob

    def transform(self, results: dict) -> dict | None:
        index = np.random.choice(len(self.transforms), p=self.prob)
        return self.transforms[index](results)
