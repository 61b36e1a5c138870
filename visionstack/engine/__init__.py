"""The engine: Runner, loops, hooks, optimizer wrappers, schedulers, checkpoints, logging, dist."""

from . import dist
from .builders import DEFAULT_HOOKS, build_evaluator, build_hooks, build_model
from .checkpoint import (
    find_latest_checkpoint,
    link_checkpoint,
    load_checkpoint,
    load_state_dict,
    read_checkpoint,
    save_checkpoint,
    unwrap_model,
    weights_only_safe,
)
from .config_check import RUNNER_KEYS, validate_runner_config
from .data_loading import (
    DATALOADER_KEYS,
    SampleStream,
    SeededDataset,
    build_dataloader,
    seed_worker,
    set_loader_epoch,
    skip_batches,
)
from .ema import ExponentialMovingAverage
from .hooks import (
    CheckpointHook,
    DistSamplerSeedHook,
    EarlyStoppingHook,
    EMAHook,
    Hook,
    IterTimerHook,
    LoggerHook,
    ParamSchedulerHook,
    Priority,
    get_priority,
)
from .log_buffer import LogBuffer
from .logger import ScalarWriter, setup_logger
from .loops import BaseLoop, EpochBasedTrainLoop, IterBasedTrainLoop, TestLoop, ValLoop
from .lr_schedulers import (
    ConstantLR,
    CosineAnnealingLR,
    ExponentialLR,
    LinearLR,
    MultiStepLR,
    OneCycleLR,
    PolyLR,
    StepLR,
)
from .model_wrapper import DistributedModel, FSDPModel, wrap_model
from .optim_wrapper import AmpOptimWrapper, NonFiniteLossError, OptimWrapper, OptimWrapperDict
from .optimizer_builder import build_optim_wrapper, enable_amp, paramwise_groups
from .param_scheduler import INF, ParamScheduler, build_param_schedulers
from .randomness import get_rng_state, preserved_rng_state, set_random_seed, set_rng_state
from .runner import Runner
from .speed_options import apply_speed_options

__all__ = [
    "FSDPModel",
    "wrap_model",
    "NonFiniteLossError",
    "AmpOptimWrapper",
    "BaseLoop",
    "CheckpointHook",
    "ConstantLR",
    "CosineAnnealingLR",
    "DATALOADER_KEYS",
    "DEFAULT_HOOKS",
    "DistSamplerSeedHook",
    "DistributedModel",
    "EMAHook",
    "EarlyStoppingHook",
    "EpochBasedTrainLoop",
    "ExponentialLR",
    "ExponentialMovingAverage",
    "Hook",
    "INF",
    "IterBasedTrainLoop",
    "IterTimerHook",
    "LinearLR",
    "LogBuffer",
    "LoggerHook",
    "MultiStepLR",
    "OneCycleLR",
    "OptimWrapper",
    "OptimWrapperDict",
    "ParamScheduler",
    "ParamSchedulerHook",
    "PolyLR",
    "Priority",
    "RUNNER_KEYS",
    "Runner",
    "apply_speed_options",
    "SampleStream",
    "ScalarWriter",
    "SeededDataset",
    "StepLR",
    "TestLoop",
    "ValLoop",
    "build_dataloader",
    "build_evaluator",
    "build_hooks",
    "build_model",
    "build_optim_wrapper",
    "build_param_schedulers",
    "dist",
    "enable_amp",
    "find_latest_checkpoint",
    "get_priority",
    "get_rng_state",
    "link_checkpoint",
    "load_checkpoint",
    "load_state_dict",
    "paramwise_groups",
    "preserved_rng_state",
    "read_checkpoint",
    "save_checkpoint",
    "seed_worker",
    "set_loader_epoch",
    "set_random_seed",
    "set_rng_state",
    "setup_logger",
    "skip_batches",
    "unwrap_model",
    "validate_runner_config",
    "weights_only_safe",
]
