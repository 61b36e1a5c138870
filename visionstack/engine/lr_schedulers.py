"""The schedules: step, multi-step, constant, exponential, linear, cosine, polynomial, one-cycle.

Each class writes ``param_name`` ("lr" by default) of every param group; besides its own
arguments it takes the window of :class:`ParamScheduler` by keyword (``param_name``, ``begin``,
``end``, ``by_epoch``, ``last_step``). Formulas are the
chainable forms (value at step t from the value at step t-1), which equal the closed forms below
when a scheduler runs alone; ``t`` is the step inside the window (``last_step``), ``T = end - begin - 1``
its last index and ``v0`` the group's initial value:

=================  ===========================================================================
StepLR             v0 * gamma ** (t // step_size)
MultiStepLR        v0 * gamma ** (number of milestones <= t)
ConstantLR         v0 * factor for t < T, v0 at t = T and after
ExponentialLR      v0 * gamma ** t
LinearLR           v0 * (start + (end - start) * min(t, T) / T)
CosineAnnealingLR  eta_min + (v0 - eta_min) * (1 + cos(pi * t / T_max)) / 2    (T_max = end - begin)
PolyLR             eta_min + (v0 - eta_min) * (1 - t / T) ** power
OneCycleLR         cosine/linear ramps: max_lr/div_factor -> max_lr -> that / final_div_factor
=================  ===========================================================================
"""

from __future__ import annotations

import math
from collections import Counter
from collections.abc import Sequence
from typing import Any

from ..registry import PARAM_SCHEDULERS, ConfigError
from .param_scheduler import INF, ParamScheduler, window_length

__all__ = [
    "StepLR",
    "MultiStepLR",
    "ConstantLR",
    "ExponentialLR",
    "LinearLR",
    "CosineAnnealingLR",
    "PolyLR",
    "OneCycleLR",
]


@PARAM_SCHEDULERS.register()
class StepLR(ParamScheduler):
    """Multiply by ``gamma`` every ``step_size`` steps."""

    step_arguments = ("step_size",)

    def __init__(
        self,
        optimizer: Any,
        step_size: int,
        gamma: float = 0.1,
        **window: Any,
    ) -> None:
        if step_size < 1:
            raise ConfigError(f"StepLR.step_size must be >= 1, got {step_size}")
        self.step_size, self.gamma = int(step_size), gamma
        super().__init__(optimizer, **window)

    def _get_value(self) -> list[float]:
        if self.last_step == 0 or self.last_step % self.step_size:
            return self._current()
        return [value * self.gamma for value in self._current()]


@PARAM_SCHEDULERS.register()
class MultiStepLR(ParamScheduler):
    """Multiply by ``gamma`` at each milestone (steps counted from ``begin``; repeats compound)."""

    step_arguments = ("milestones",)

    def __init__(
        self,
        optimizer: Any,
        milestones: Sequence[int],
        gamma: float = 0.1,
        **window: Any,
    ) -> None:
        self.milestones = Counter(int(m) for m in milestones)
        self.gamma = gamma
        super().__init__(optimizer, **window)

    def _get_value(self) -> list[float]:
        count = self.milestones.get(self.last_step, 0)
        if count == 0:
            return self._current()
        return [value * self.gamma**count for value in self._current()]


@PARAM_SCHEDULERS.register()
class ConstantLR(ParamScheduler):
    """Multiply by ``factor`` until the window's last step, which restores the value."""

    def __init__(
        self,
        optimizer: Any,
        factor: float = 1.0 / 3,
        **window: Any,
    ) -> None:
        if not 0 < factor <= 1:
            raise ConfigError(f"ConstantLR.factor must be in (0, 1], got {factor}")
        self.factor = factor
        self.total_steps = window_length(window) - 1
        super().__init__(optimizer, **window)

    def _get_value(self) -> list[float]:
        if self.last_step == 0:
            return [value * self.factor for value in self._current()]
        if self.last_step == self.total_steps:
            return [value / self.factor for value in self._current()]
        return self._current()


@PARAM_SCHEDULERS.register()
class ExponentialLR(ParamScheduler):
    """Multiply by ``gamma`` every step."""

    def __init__(
        self,
        optimizer: Any,
        gamma: float,
        **window: Any,
    ) -> None:
        self.gamma = gamma
        super().__init__(optimizer, **window)

    def _get_value(self) -> list[float]:
        if self.last_step == 0:
            return self._current()
        return [value * self.gamma for value in self._current()]


@PARAM_SCHEDULERS.register()
class LinearLR(ParamScheduler):
    """Scale linearly from ``start_factor`` to ``end_factor`` over the window (warm-up)."""

    def __init__(
        self,
        optimizer: Any,
        start_factor: float = 1.0 / 3,
        end_factor: float = 1.0,
        **window: Any,
    ) -> None:
        if not 0 < start_factor <= 1 or not 0 <= end_factor <= 1:
            raise ConfigError(
                f"LinearLR: start_factor must be in (0, 1] and end_factor in [0, 1], "
                f"got {start_factor}, {end_factor}"
            )
        self.start_factor, self.end_factor = start_factor, end_factor
        self.total_steps = max(window_length(window) - 1, 1)
        super().__init__(optimizer, **window)

    def _get_value(self) -> list[float]:
        if self.last_step == 0:
            return [value * self.start_factor for value in self._current()]
        if self.last_step > self.total_steps:
            return self._current()
        # factor(t) / factor(t - 1), with factor(t) = start + (end - start) * t / T
        delta = self.end_factor - self.start_factor
        ratio = 1.0 + delta / (self.total_steps * self.start_factor + (self.last_step - 1) * delta)
        return [value * ratio for value in self._current()]


@PARAM_SCHEDULERS.register()
class CosineAnnealingLR(ParamScheduler):
    """Cosine annealing (SGDR without restarts, Loshchilov & Hutter 2017, eq. 5).

    Args:
        T_max: half-period in steps; defaults to the window length ``end - begin``.
        eta_min: the minimum value; or give ``eta_min_ratio`` (minimum = ratio * initial value).
    """

    step_arguments = ("T_max",)

    def __init__(
        self,
        optimizer: Any,
        T_max: int | None = None,
        eta_min: float | None = None,  # noqa: N803
        eta_min_ratio: float | None = None,
        **window: Any,
    ) -> None:
        if eta_min is not None and eta_min_ratio is not None:
            raise ConfigError("CosineAnnealingLR: give either eta_min or eta_min_ratio, not both")
        self.T_max = int(T_max) if T_max is not None else window_length(window)
        self.eta_min = 0.0 if eta_min is None and eta_min_ratio is None else eta_min
        self.eta_min_ratio = eta_min_ratio
        super().__init__(optimizer, **window)

    def _minimum(self, base: float) -> float:
        return base * self.eta_min_ratio if self.eta_min_ratio is not None else self.eta_min

    def _get_value(self) -> list[float]:
        t, period = self.last_step, self.T_max
        if t == 0:
            return self._current()
        values = []
        for base, value in zip(self.base_values, self._current()):
            low = self._minimum(base)
            if (t - 1 - period) % (2 * period) == 0:  # the trough, where the ratio form divides by 0
                values.append(value + (base - low) * (1 - math.cos(math.pi / period)) / 2)
            else:
                ratio = (1 + math.cos(math.pi * t / period)) / (1 + math.cos(math.pi * (t - 1) / period))
                values.append(ratio * (value - low) + low)
        return values


@PARAM_SCHEDULERS.register()
class PolyLR(ParamScheduler):
    """Polynomial decay to ``eta_min`` at the window's last step."""

    def __init__(
        self,
        optimizer: Any,
        eta_min: float = 0.0,
        power: float = 1.0,
        **window: Any,
    ) -> None:
        self.eta_min, self.power = eta_min, power
        self.total_steps = max(window_length(window) - 1, 1)
        super().__init__(optimizer, **window)

    def _get_value(self) -> list[float]:
        t, total = self.last_step, self.total_steps
        if t == 0 or t > total:
            return self._current()
        ratio = (1.0 - 1.0 / (total - t + 1)) ** self.power
        return [(value - self.eta_min) * ratio + self.eta_min for value in self._current()]


@PARAM_SCHEDULERS.register()
class OneCycleLR(ParamScheduler):
    """The 1cycle policy (Smith & Topin 2017, "Super-Convergence"); not chainable.

    Args:
        max_lr: peak value (a number or one per param group).
        total_steps: cycle length; defaults to ``end - begin``.
        pct_start: fraction of the cycle spent rising.
        anneal_strategy: "cos" or "linear".
        div_factor: start value = max_lr / div_factor.
        final_div_factor: final value = start value / final_div_factor.
        three_phase: rise, fall back to the start value, then anneal to the final value (the paper's
            schedule); False gives fastai's two phases.
    """

    step_arguments = ("total_steps",)

    def __init__(
        self,
        optimizer: Any,
        max_lr: float | Sequence[float],
        total_steps: int | None = None,
        pct_start: float = 0.3,
        anneal_strategy: str = "cos",
        div_factor: float = 25.0,
        final_div_factor: float = 1e4,
        three_phase: bool = False,
        **window: Any,
    ) -> None:
        self.total_steps = int(total_steps) if total_steps is not None else window_length(window)
        if self.total_steps <= 0 or self.total_steps >= INF:
            raise ConfigError("OneCycleLR: give total_steps or a finite window (end - begin)")
        if not 0 <= pct_start <= 1:
            raise ConfigError(f"OneCycleLR.pct_start must be in [0, 1], got {pct_start}")
        if anneal_strategy not in ("cos", "linear"):
            raise ConfigError(
                f"OneCycleLR.anneal_strategy must be 'cos' or 'linear', got {anneal_strategy!r}"
            )
        groups = optimizer.param_groups
        peaks = list(max_lr) if isinstance(max_lr, Sequence) else [max_lr] * len(groups)
        if len(peaks) != len(groups):
            raise ConfigError(f"OneCycleLR.max_lr: {len(peaks)} values for {len(groups)} param groups")
        self.anneal_strategy = anneal_strategy
        self.peaks = [float(p) for p in peaks]
        self.starts = [p / div_factor for p in self.peaks]
        self.finals = [s / final_div_factor for s in self.starts]
        rise_end = float(pct_start * self.total_steps) - 1
        if three_phase:  # (end step, index of the start value, index of the end value)
            self.phases = [(rise_end, 0, 1), (2 * rise_end, 1, 0), (self.total_steps - 1, 0, 2)]
        else:
            self.phases = [(rise_end, 0, 1), (self.total_steps - 1, 1, 2)]
        super().__init__(optimizer, **window)

    def _anneal(self, start: float, stop: float, fraction: float) -> float:
        if self.anneal_strategy == "cos":
            return stop + (start - stop) / 2.0 * (math.cos(math.pi * fraction) + 1)
        return start + (stop - start) * fraction

    def _get_value(self) -> list[float]:
        t = self.last_step
        if t >= self.total_steps:
            raise RuntimeError(
                f"OneCycleLR stepped {t + 1} times; the cycle has total_steps={self.total_steps}"
            )
        values = []
        for levels in zip(self.starts, self.peaks, self.finals):
            phase_start = 0.0
            for index, (phase_end, low, high) in enumerate(self.phases):
                if t <= phase_end or index == len(self.phases) - 1:
                    fraction = (t - phase_start) / (phase_end - phase_start)
                    values.append(self._anneal(levels[low], levels[high], fraction))
                    break
                phase_start = phase_end
        return values
