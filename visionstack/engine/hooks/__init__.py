"""Hooks: the points of a run where logging, timing, scheduling, checkpointing and EMA happen."""

from .checkpoint_hook import CheckpointHook
from .early_stopping_hook import EarlyStoppingHook
from .ema_hook import EMAHook
from .hook import HOOK_POINTS, Hook, Priority, get_priority
from .iter_timer_hook import IterTimerHook
from .logger_hook import LoggerHook
from .param_scheduler_hook import ParamSchedulerHook
from .rules import infer_rule, is_improvement
from .sampler_seed_hook import DistSamplerSeedHook

__all__ = [
    "HOOK_POINTS",
    "CheckpointHook",
    "DistSamplerSeedHook",
    "EMAHook",
    "EarlyStoppingHook",
    "Hook",
    "IterTimerHook",
    "LoggerHook",
    "ParamSchedulerHook",
    "Priority",
    "get_priority",
    "infer_rule",
    "is_improvement",
]
