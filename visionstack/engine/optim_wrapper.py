"""Optimizer wrappers: backward, gradient accumulation, clipping and mixed precision in one call.

``OptimWrapper.update_params(loss)`` is what a model's ``train_step`` calls. It divides the loss by
the accumulation count, runs backward, and every ``accumulative_counts`` calls clips the gradients,
steps the optimizer and zeroes the gradients. When the run length is not a multiple of the count,
the last, shorter group of iterations divides by its own size (MMEngine's
``initialize_count_status``), so every update averages the gradients of the batches it covers.

Non-finite losses: the wrapper checks every loss (all ranks agree: one all-reduce of a flag under
a process group). An update whose accumulation group saw a NaN or infinite loss never reaches the
optimizer: its gradients are discarded. What happens next is the training loop's business, set by
``nonfinite``: ``"raise"`` stops the run at once with a :class:`NonFiniteLossError` naming the
iteration and the loss terms (nothing is checkpointed after the bad step), ``"skip"`` goes on and
counts the skipped updates (``skipped_steps``, logged).
"""

from __future__ import annotations

import contextlib
import logging
import math
from collections.abc import Mapping
from typing import Any

import torch
from torch import nn
from torch.optim import Optimizer

from ..registry import OPTIM_WRAPPERS, ConfigError
from . import dist
from .dist import get_world_size

__all__ = [
    "OptimWrapper",
    "OptimWrapperDict",
    "AmpOptimWrapper",
    "NonFiniteLossError",
    "NONFINITE_POLICIES",
    "native_cpu_bfloat16",
]

NONFINITE_POLICIES = ("raise", "skip")


class NonFiniteLossError(FloatingPointError):
    """A loss was NaN or infinite; the message names the iteration and the loss terms."""


logger = logging.getLogger(__name__)

_CLIP_KEYS = {
    "norm": {"max_norm", "norm_type", "error_if_nonfinite", "foreach"},
    "value": {"clip_value", "foreach"},
}


def _check_clip_grad(clip_grad: Mapping[str, Any] | None) -> tuple[str, dict[str, Any]] | None:
    if not clip_grad:
        return None
    kwargs = dict(clip_grad)
    kind = kwargs.pop("type", "norm")
    if kind not in _CLIP_KEYS:
        raise ConfigError(f"optim_wrapper.clip_grad.type must be 'norm' or 'value', got {kind!r}")
    unknown = set(kwargs) - _CLIP_KEYS[kind]
    if unknown:
        raise ConfigError(
            f"optim_wrapper.clip_grad: unknown keys {sorted(unknown)} for type {kind!r} "
            f"(accepted: {sorted(_CLIP_KEYS[kind])})"
        )
    required = "max_norm" if kind == "norm" else "clip_value"
    if required not in kwargs:
        raise ConfigError(f"optim_wrapper.clip_grad: type {kind!r} needs {required!r}")
    return kind, kwargs


def _has_batch_norm(model: nn.Module) -> bool:
    return any(isinstance(m, nn.modules.batchnorm._BatchNorm) for m in model.modules())


@OPTIM_WRAPPERS.register()
class OptimWrapper:
    """Wraps a ``torch.optim.Optimizer`` with accumulation and clipping.

    Args:
        optimizer: the optimizer to drive.
        accumulative_counts: number of ``update_params`` calls whose gradients are averaged into one
            optimizer step (the effective batch is this many times the loader's batch).
        clip_grad: ``dict(max_norm=..., norm_type=2)`` clips the global gradient norm (logged as
            ``grad_norm``); ``dict(type="value", clip_value=...)`` clips each gradient element.
        nonfinite: what a NaN/infinite loss does: ``"raise"`` (stop the run, naming the iteration
            and the loss terms) or ``"skip"`` (discard that update's gradients, count it in
            ``skipped_steps``). Either way the optimizer never steps on such gradients.
    """

    def __init__(
        self,
        optimizer: Optimizer,
        accumulative_counts: int = 1,
        clip_grad: dict | None = None,
        nonfinite: str = "raise",
    ) -> None:
        if accumulative_counts < 1:
            raise ConfigError(f"optim_wrapper.accumulative_counts must be >= 1, got {accumulative_counts}")
        if nonfinite not in NONFINITE_POLICIES:
            raise ConfigError(
                f"optim_wrapper.nonfinite must be one of {NONFINITE_POLICIES}, got {nonfinite!r}"
            )
        self.nonfinite = nonfinite
        self.skipped_steps = 0
        self._nonfinite_in_group = False
        self._last_loss_nonfinite = False
        self.optimizer = optimizer
        self.accumulative_counts = int(accumulative_counts)
        self._clip = _check_clip_grad(clip_grad)
        self._inner_count = 0
        self._max_counts = -1
        self._remainder_counts = 0
        self._grad_norm_sum: torch.Tensor | None = None
        self._grad_norm_count = 0
        self._restored_grads = False

    # ---- the training-step API ------------------------------------------------------------------
    def optim_context(self, model: nn.Module) -> contextlib.AbstractContextManager:
        """Context for the forward pass: skips DDP's gradient all-reduce on iterations that only
        accumulate (the reduce happens once, on the iteration that steps)."""
        if self.accumulative_counts > 1 and hasattr(model, "no_sync") and not self._next_call_updates():
            return model.no_sync()
        return contextlib.nullcontext()

    def update_params(self, loss: torch.Tensor) -> None:
        """Backward ``loss`` (divided for accumulation); step and zero the gradients when due.

        An update whose group saw a non-finite loss only zeroes the gradients (see the module doc);
        :meth:`pop_nonfinite` tells the loop about it.
        """
        self._last_loss_nonfinite = not self._loss_is_finite(loss)
        self._nonfinite_in_group |= self._last_loss_nonfinite
        self.backward(self.scale_loss(loss))
        if self.should_update():
            if self._nonfinite_in_group:
                self.skipped_steps += 1
                self._nonfinite_in_group = False
            else:
                self.step()
            self.zero_grad()

    @staticmethod
    def _loss_is_finite(loss: torch.Tensor) -> bool:
        """Whether ``loss`` is finite on every rank (every rank must call this)."""
        loss = loss.detach()
        if not dist.is_distributed():
            return math.isfinite(loss.item()) if loss.numel() == 1 else bool(torch.isfinite(loss).all())
        flag = torch.isfinite(loss).all().to(torch.float32)
        torch.distributed.all_reduce(flag, op=torch.distributed.ReduceOp.MIN)
        return bool(flag)

    def pop_nonfinite(self) -> bool:
        """True when the loss of the last ``update_params`` call was non-finite (on any rank); resets."""
        value, self._last_loss_nonfinite = self._last_loss_nonfinite, False
        return value

    def scale_loss(self, loss: torch.Tensor) -> torch.Tensor:
        """Divide by the number of iterations accumulated into the coming update."""
        if self.accumulative_counts == 1:
            return loss
        if self._max_counts == -1 or self._inner_count < self._max_counts - self._remainder_counts:
            return loss / self.accumulative_counts
        return loss / self._remainder_counts

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        loss.backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs: Any) -> None:
        """Clip (when configured) and step the optimizer."""
        if self._clip is not None:
            self._clip_gradients()
        self.optimizer.step(**kwargs)

    def zero_grad(self, set_to_none: bool = True) -> None:
        self.optimizer.zero_grad(set_to_none=set_to_none)

    def should_update(self) -> bool:
        """True after the last ``backward`` of an accumulation group (or of the run)."""
        return self._inner_count % self.accumulative_counts == 0 or self._inner_count == self._max_counts

    def _next_call_updates(self) -> bool:
        upcoming = self._inner_count + 1
        return upcoming % self.accumulative_counts == 0 or upcoming == self._max_counts

    def initialize_count_status(self, model: nn.Module, init_counts: int, max_counts: int) -> None:
        """Tell the wrapper where the run starts and ends (the runner calls this before training).

        Args:
            model: the trained model (only to warn that BatchNorm statistics see the small batches).
            init_counts: iterations already done (non-zero when resuming).
            max_counts: total iterations of the run.
        """
        self._inner_count = init_counts
        self._max_counts = max_counts
        self._remainder_counts = max_counts % self.accumulative_counts
        if init_counts % self.accumulative_counts and not self._restored_grads:
            logger.warning(
                "resuming at iteration %d, which is not a multiple of accumulative_counts=%d: the "
                "gradients accumulated before the checkpoint are lost",
                init_counts,
                self.accumulative_counts,
            )
        if self.accumulative_counts > 1 and _has_batch_norm(model):
            logger.warning(
                "gradient accumulation with BatchNorm: the batch statistics come from each small batch, "
                "not from the accumulated one"
            )

    # ---- clipping -------------------------------------------------------------------------------
    def _clip_gradients(self) -> None:
        params = [p for group in self.optimizer.param_groups for p in group["params"] if p.grad is not None]
        if not params:
            return
        kind, kwargs = self._clip
        if kind == "value":
            nn.utils.clip_grad_value_(params, **kwargs)
            return
        norm = nn.utils.clip_grad_norm_(params, **kwargs).detach()
        # Summed on the device and read at logging time: no host sync per iteration.
        self._grad_norm_sum = norm if self._grad_norm_sum is None else self._grad_norm_sum + norm
        self._grad_norm_count += 1

    def pop_grad_norm(self) -> float | None:
        """Mean gradient norm (before clipping) over the steps since the last call, or None."""
        if self._grad_norm_sum is None:
            return None
        mean = float(self._grad_norm_sum) / self._grad_norm_count
        self._grad_norm_sum, self._grad_norm_count = None, 0
        return mean

    # ---- read-outs and state --------------------------------------------------------------------
    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return self.optimizer.param_groups

    @property
    def defaults(self) -> dict[str, Any]:
        return self.optimizer.defaults

    def get_lr(self) -> dict[str, float]:
        """``{"lr": lr of group 0}`` plus ``"lr/group<i>"`` for groups whose lr differs."""
        return self._group_values("lr")

    def get_momentum(self) -> dict[str, float]:
        """Momentum (or Adam's beta1) per group, keyed like :meth:`get_lr`."""
        values = {}
        for index, group in enumerate(self.param_groups):
            momentum = group.get("momentum", group.get("betas", (0.0,))[0])
            values["momentum" if index == 0 else f"momentum/group{index}"] = float(momentum)
        return values

    def _group_values(self, name: str) -> dict[str, float]:
        groups = self.param_groups
        first = float(groups[0][name])
        values = {name: first}
        for index, group in enumerate(groups[1:], start=1):
            if float(group[name]) != first:
                values[f"{name}/group{index}"] = float(group[name])
        return values

    def state_dict(self) -> dict[str, Any]:
        """The optimizer's state, plus the gradients accumulated so far when a checkpoint falls
        inside an accumulation group (so a resumed run continues the group exactly). Under DDP the
        accumulated gradients differ per rank and are not stored (a resume warns that they are lost)."""
        state = self.optimizer.state_dict()
        if self.skipped_steps:
            state["skipped_steps"] = self.skipped_steps
        if self._inner_count % self.accumulative_counts and get_world_size() == 1:
            state["accumulated_grads"] = [
                None if p.grad is None else p.grad.detach().clone()
                for group in self.optimizer.param_groups
                for p in group["params"]
            ]
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        grads = state_dict.pop("accumulated_grads", None)
        self.skipped_steps = int(state_dict.pop("skipped_steps", 0))
        self.optimizer.load_state_dict(state_dict)
        self._restored_grads = grads is not None
        if grads is not None:
            params = [p for group in self.optimizer.param_groups for p in group["params"]]
            for param, grad in zip(params, grads):
                param.grad = None if grad is None else grad.to(device=param.device, dtype=param.dtype)

    def __repr__(self) -> str:
        return (
            f"{type(self).__name__}(optimizer={type(self.optimizer).__name__}, "
            f"accumulative_counts={self.accumulative_counts}, clip_grad={self._clip}, nonfinite={self.nonfinite!r})"
        )


def native_cpu_bfloat16() -> bool:
    """Whether this CPU runs bfloat16 through oneDNN's native kernels (AVX512 or AMX), not emulated."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):  # a build without the check: keep the config's precision
        return True


@OPTIM_WRAPPERS.register()
class AmpOptimWrapper(OptimWrapper):
    """Mixed-precision training: autocast in the forward pass, a gradient scaler for float16.

    Args:
        optimizer: the optimizer to drive (its parameters stay float32).
        accumulative_counts: see :class:`OptimWrapper`.
        clip_grad: see :class:`OptimWrapper` (gradients are unscaled before clipping).
        dtype: ``"bfloat16"`` or ``"float16"``; None picks float16 on CUDA, bfloat16 on a CPU that
            runs it natively (oneDNN's bfloat16 kernels: AVX512/AMX) and float32, autocast off, on
            other CPUs, where emulated bfloat16 trains 5-25x slower than float32 (FCOS R-18 on a
            2-core AVX2 EPYC: 36.6 s per iteration against 1.6 s). Give ``"bfloat16"`` to force it.
        loss_scale: for float16 only: ``"dynamic"`` (grow/back off as ``torch.amp.GradScaler`` does),
            a number (a fixed scale) or a dict of ``GradScaler`` arguments.
        nonfinite: see :class:`OptimWrapper` (checks the unscaled loss; overflowing float16
            gradients are still the scaler's business).
    """

    def __init__(
        self,
        optimizer: Optimizer,
        accumulative_counts: int = 1,
        clip_grad: dict | None = None,
        dtype: str | None = None,
        loss_scale: str | float | dict = "dynamic",
        nonfinite: str = "raise",
    ) -> None:
        super().__init__(
            optimizer, accumulative_counts=accumulative_counts, clip_grad=clip_grad, nonfinite=nonfinite
        )
        self.device_type = self._parameter_device_type()
        self.autocast = True
        if dtype is None:
            dtype = "float16" if self.device_type == "cuda" else "bfloat16"
            if self.device_type == "cpu" and not native_cpu_bfloat16():
                self.autocast = False
                logging.getLogger("visionstack").warning(
                    "AmpOptimWrapper: this CPU has no native bfloat16 (AVX512/AMX), where emulated bfloat16 "
                    "trains 5-25x slower; training in float32 instead (give optim_wrapper.dtype='bfloat16' "
                    "to force bfloat16)"
                )
        if dtype not in ("float16", "bfloat16"):
            raise ConfigError(f"optim_wrapper.dtype must be 'float16' or 'bfloat16', got {dtype!r}")
        self.dtype = getattr(torch, dtype)
        self._fixed_scale: float | None = None
        self.loss_scaler: torch.amp.GradScaler | None = None
        if self.dtype is torch.float16:
            self.loss_scaler = self._make_scaler(loss_scale)

    def _parameter_device_type(self) -> str:
        for group in self.optimizer.param_groups:
            for param in group["params"]:
                return param.device.type
        return "cpu"

    def _make_scaler(self, loss_scale: str | float | dict) -> torch.amp.GradScaler:
        if loss_scale == "dynamic":
            return torch.amp.GradScaler(self.device_type)
        if isinstance(loss_scale, (int, float)):
            self._fixed_scale = float(loss_scale)
            return torch.amp.GradScaler(self.device_type, init_scale=self._fixed_scale)
        if isinstance(loss_scale, Mapping):
            return torch.amp.GradScaler(self.device_type, **loss_scale)
        raise ConfigError(
            f"optim_wrapper.loss_scale must be 'dynamic', a number or a dict, got {loss_scale!r}"
        )

    def optim_context(self, model: nn.Module) -> contextlib.AbstractContextManager:
        stack = contextlib.ExitStack()
        stack.enter_context(super().optim_context(model))
        stack.enter_context(
            torch.autocast(device_type=self.device_type, dtype=self.dtype, enabled=self.autocast)
        )
        return stack

    def backward(self, loss: torch.Tensor, **kwargs: Any) -> None:
        if self.loss_scaler is not None:
            loss = self.loss_scaler.scale(loss)
        loss.backward(**kwargs)
        self._inner_count += 1

    def step(self, **kwargs: Any) -> None:
        if self.loss_scaler is None:
            super().step(**kwargs)
            return
        if self._clip is not None:
            self.loss_scaler.unscale_(self.optimizer)  # clip the true gradients, not the scaled ones
            self._clip_gradients()
        self.loss_scaler.step(self.optimizer, **kwargs)
        self.loss_scaler.update(self._fixed_scale)

    def state_dict(self) -> dict[str, Any]:
        state = super().state_dict()
        if self.loss_scaler is not None:
            state["loss_scaler"] = self.loss_scaler.state_dict()
        return state

    def load_state_dict(self, state_dict: dict[str, Any]) -> None:
        state_dict = dict(state_dict)
        scaler_state = state_dict.pop("loss_scaler", None)
        if scaler_state is not None and self.loss_scaler is not None:
            self.loss_scaler.load_state_dict(scaler_state)
        super().load_state_dict(state_dict)


class OptimWrapperDict(Mapping):
    """One optimizer wrapper per sub-network (a GAN's generator and discriminator), as MMEngine's.

    The runner builds it from an ``optim_wrapper`` config with one wrapper config per child module of the
    model (see :func:`visionstack.engine.optimizer_builder.build_optim_wrapper`). A model with several
    optimizers steps them itself in its ``train_step``: ``optim_wrapper["generator"].update_params(loss)``.
    The runner sees the whole: the checkpoint's ``optimizer`` holds every wrapper's state under its name, the
    log gets ``<name>/lr`` and ``<name>/grad_norm``, and a non-finite loss in any wrapper stops (or skips) the
    run as that wrapper's ``nonfinite`` says.

    Args:
        wrappers: name (the child module it optimizes) -> wrapper.
    """

    def __init__(self, **wrappers: OptimWrapper) -> None:
        if not wrappers:
            raise ConfigError("OptimWrapperDict needs at least one wrapper")
        for name, wrapper in wrappers.items():
            if not isinstance(wrapper, OptimWrapper):
                raise TypeError(
                    f"OptimWrapperDict[{name!r}] must be an OptimWrapper, got {type(wrapper).__name__}"
                )
        self._wrappers = dict(wrappers)

    # ---- the mapping ----------------------------------------------------------------------------------
    def __getitem__(self, name: str) -> OptimWrapper:
        if name not in self._wrappers:
            raise KeyError(f"no optimizer wrapper {name!r} (the config gives {', '.join(self._wrappers)})")
        return self._wrappers[name]

    def __iter__(self):
        return iter(self._wrappers)

    def __len__(self) -> int:
        return len(self._wrappers)

    # ---- what a single-optimizer train_step would call: refused with the way out ---------------------
    def _single_use(self, what: str) -> None:
        raise TypeError(
            f"optim_wrapper.{what}: the config gives one optimizer per sub-module ({', '.join(self)}), so the "
            "model's train_step must step them itself (optim_wrapper[name].update_params(loss)); this model "
            "uses the single-optimizer train_step: give one optim_wrapper with an `optimizer` instead"
        )

    def optim_context(self, model: nn.Module) -> contextlib.AbstractContextManager:
        self._single_use("optim_context")
        return contextlib.nullcontext()  # not reached

    def update_params(self, loss: torch.Tensor) -> None:
        self._single_use("update_params")

    # ---- what the runner, the loop and the hooks call -------------------------------------------------
    def initialize_count_status(self, model: nn.Module, init_counts: int, max_counts: int) -> None:
        for name, wrapper in self.items():
            wrapper.initialize_count_status(getattr(model, name, model), init_counts, max_counts)

    def pop_nonfinite(self) -> bool:
        flags = [wrapper.pop_nonfinite() for wrapper in self.values()]  # every wrapper's flag is consumed
        return any(flags)

    @property
    def nonfinite(self) -> str:
        """``"raise"`` when any wrapper raises on a non-finite loss, else ``"skip"``."""
        return "raise" if any(w.nonfinite == "raise" for w in self.values()) else "skip"

    @property
    def skipped_steps(self) -> int:
        return sum(wrapper.skipped_steps for wrapper in self.values())

    @property
    def param_groups(self) -> list[dict[str, Any]]:
        return [group for wrapper in self.values() for group in wrapper.param_groups]

    def get_lr(self) -> dict[str, float]:
        return {f"{name}/{key}": value for name, w in self.items() for key, value in w.get_lr().items()}

    def get_momentum(self) -> dict[str, float]:
        return {f"{name}/{key}": value for name, w in self.items() for key, value in w.get_momentum().items()}

    def pop_grad_norm(self) -> dict[str, float] | None:
        """``{"<name>/grad_norm": mean norm}`` of the wrappers that clip, or None when none does."""
        norms = {f"{name}/grad_norm": wrapper.pop_grad_norm() for name, wrapper in self.items()}
        norms = {key: value for key, value in norms.items() if value is not None}
        return norms or None

    def zero_grad(self, set_to_none: bool = True) -> None:
        for wrapper in self.values():
            wrapper.zero_grad(set_to_none)

    def state_dict(self) -> dict[str, Any]:
        return {name: wrapper.state_dict() for name, wrapper in self.items()}

    def load_state_dict(self, state_dict: Mapping[str, Any]) -> None:
        missing = [name for name in self if name not in state_dict]
        if missing:
            have = ", ".join(map(str, state_dict)) or "nothing"
            raise KeyError(
                f"the checkpoint's optimizer state has no {', '.join(missing)} (it holds {have}): it was "
                "saved by a run with other optimizers"
            )
        for name, wrapper in self.items():
            wrapper.load_state_dict(state_dict[name])

    def __repr__(self) -> str:
        inner = ", ".join(f"{name}={wrapper!r}" for name, wrapper in self.items())
        return f"OptimWrapperDict({inner})"
