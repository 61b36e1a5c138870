"""The Runner: builds a run from config and drives training, validation and test.

``Runner.from_cfg(cfg)`` validates the whole config first (see :mod:`.config_check`), then builds
the environment (process group, device, seed), the work directory and logger, the model and the
hooks. The parts a mode needs - dataloaders, loops, optimizer wrapper, schedulers, evaluators -
are built when ``train()``, ``val()`` or ``test()`` first needs them, so testing a checkpoint does
not touch the training data.
"""

from __future__ import annotations

import datetime
import os
import time
from collections.abc import Mapping, Sequence
from pathlib import Path
from typing import Any

import torch
from torch import nn

from ..registry import LOOPS, ConfigError, build
from . import dist
from .builders import build_evaluator, build_hooks, build_model, loop_cfg_with_type
from .checkpoint import (
    find_latest_checkpoint,
    load_state_dict,
    read_checkpoint,
    save_checkpoint,
    unwrap_model,
    weights_only_safe,
    weights_to_cpu,
)
from .config_check import RUNNER_KEYS, validate_runner_config
from .data_loading import build_dataloader, release_workers
from .hooks.hook import HOOK_POINTS, Hook, get_priority
from .log_buffer import LogBuffer
from .logger import setup_logger
from .model_wrapper import FSDPModel
from .optimizer_builder import build_optim_wrapper
from .param_scheduler import build_param_schedulers
from .randomness import draw_seed, get_rng_state, set_random_seed, set_rng_state
from .speed_options import apply_speed_options, channels_last_for

__all__ = ["Runner"]


def _config_text(cfg: Any) -> str:
    """The resolved config as Python text (``repr`` when it holds objects that do not format)."""
    if cfg is None:
        return ""
    try:
        if hasattr(cfg, "pretty_text"):
            return cfg.pretty_text
        if isinstance(cfg, Mapping):
            from ..config import format_python

            return format_python(cfg)
    except (AttributeError, TypeError, ValueError):
        pass
    return repr(dict(cfg)) if isinstance(cfg, Mapping) else repr(cfg)


def _copy_tree(value: Any) -> Any:
    """Copy the dicts and lists of a config (so building never changes the user's config) but keep
    objects placed in it (a built hook, a class used as ``type``) as they are."""
    if isinstance(value, Mapping):
        return {key: _copy_tree(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(_copy_tree(item) for item in value) if not hasattr(value, "_fields") else value
    return value


class Runner:
    """Drives a run. Arguments mirror the config's top-level keys (docs/contracts.md); each part may
    be a config dict or an already built object.

    Args:
        model: model config or module.
        work_dir: where logs, the resolved config and checkpoints go.
        train_dataloader, val_dataloader, test_dataloader: dataloader dicts or DataLoaders.
        train_cfg: ``dict(type="EpochBasedTrainLoop", max_epochs=...)`` or ``IterBasedTrainLoop``.
        val_cfg, test_cfg: loop dicts (usually ``dict()``).
        optim_wrapper: optimizer wrapper config (see optimizer_builder) or object.
        param_scheduler: a scheduler dict or a list of them.
        val_evaluator, test_evaluator: metric dict(s) or an Evaluator.
        default_hooks: updates of the default hooks (None removes one).
        custom_hooks: extra hook dicts or objects.
        randomness: ``dict(seed=None, deterministic=False, diff_rank_seed=False)``.
        resume: True or ``"auto"`` resumes from ``work_dir/latest.pth`` when it exists (else starts
            afresh; what an elastic restart under ``torchrun --max-restarts`` needs); another string
            is a checkpoint path.
        load_from: a checkpoint whose weights initialise the model (no training state).
        load_from_unsafe: allow ``load_from`` to be a file that needs full unpickling (Python objects,
            not just tensors); unpickling can run code from the file, so only for trusted files.
        launcher: "auto" (distributed when launched by torchrun), "none" or "pytorch".
        env_cfg: ``dict(device=None, cudnn_benchmark=False, dist_cfg=dict(backend=None))``.
        log_level: level of the run's log.
        experiment_name: recorded in checkpoints; defaults to a timestamp.
        model_wrapper_cfg: how a distributed run wraps the model: ``dict(type="DDP", sync_bn=False,
            find_unused_parameters=False)`` (default) or ``dict(type="FSDP", shard_modules=[...])``.
        channels_last: store the weights and batches (N, H, W, C): True, False, or "inference" (only
            in ``test`` and ``val`` runs, not in training; see :mod:`.speed_options`).
        compile: ``torch.compile`` the model's modules: True or a dict of options (see
            :mod:`.speed_options`).
        cfg: the whole config (dumped to the work directory and stored in checkpoints).
    """

    def __init__(
        self,
        model: Mapping[str, Any] | nn.Module,
        work_dir: str | os.PathLike,
        train_dataloader: Any = None,
        val_dataloader: Any = None,
        test_dataloader: Any = None,
        train_cfg: Mapping[str, Any] | None = None,
        val_cfg: Mapping[str, Any] | None = None,
        test_cfg: Mapping[str, Any] | None = None,
        optim_wrapper: Any = None,
        param_scheduler: Any = None,
        val_evaluator: Any = None,
        test_evaluator: Any = None,
        default_hooks: Mapping[str, Any] | None = None,
        custom_hooks: Sequence[Any] | None = None,
        randomness: Mapping[str, Any] | None = None,
        resume: bool | str = False,
        load_from: str | None = None,
        launcher: str = "auto",
        env_cfg: Mapping[str, Any] | None = None,
        log_level: str = "INFO",
        experiment_name: str | None = None,
        model_wrapper_cfg: Mapping[str, Any] | None = None,
        load_from_unsafe: bool = False,
        channels_last: bool | str = False,
        compile: bool | Mapping[str, Any] = False,
        cfg: Mapping[str, Any] | None = None,
    ) -> None:
        self.cfg = cfg
        self.timestamp = time.strftime("%Y%m%d_%H%M%S")
        self.experiment_name = experiment_name or self.timestamp
        self._parts = dict(
            train_dataloader=train_dataloader,
            val_dataloader=val_dataloader,
            test_dataloader=test_dataloader,
            train_cfg=train_cfg,
            val_cfg=val_cfg,
            test_cfg=test_cfg,
            optim_wrapper=optim_wrapper,
            param_scheduler=param_scheduler,
            val_evaluator=val_evaluator,
            test_evaluator=test_evaluator,
        )
        self._resume, self._load_from, self._load_from_unsafe = resume, load_from, bool(load_from_unsafe)
        self._weights_loaded = False
        self.env_cfg = dict(env_cfg or {})
        self._setup_environment(launcher)
        self.seed, self.deterministic = self._setup_randomness(dict(randomness or {}))
        self.work_dir = Path(work_dir).resolve()
        if self.rank == 0:
            self.work_dir.mkdir(parents=True, exist_ok=True)
        dist.barrier()
        self.logger = setup_logger(self.work_dir, log_level, self.rank)
        self.config_text = _config_text(cfg)
        self._dump_config()
        self.logger.info(
            f"work_dir: {self.work_dir}  seed: {self.seed}  device: {self.device}  "
            f"world_size: {self.world_size}"
        )
        self.model = build_model(
            model,
            self.device,
            self.distributed,
            model_wrapper_cfg,
            channels_last=channels_last_for(channels_last, inference=False),
            compile=compile,
        )
        self._channels_last = channels_last
        self.train_loop: Any = None
        self.val_loop: Any = None
        self.test_loop: Any = None
        self.optim_wrapper: Any = None
        self.param_schedulers: list[Any] = []
        self.log_buffer = LogBuffer()
        self.stop_training = False
        self._hooks: list[Hook] = []
        self._hook_methods: dict[str, list[Any]] = {point: [] for point in HOOK_POINTS}
        for hook, priority in build_hooks(default_hooks, custom_hooks):
            self.register_hook(hook, priority)

    @classmethod
    def from_cfg(cls, cfg: Mapping[str, Any]) -> Runner:
        """Validate ``cfg`` (every part, before building anything) and create the runner."""
        validate_runner_config(cfg)
        parts = {key: _copy_tree(cfg[key]) for key in RUNNER_KEYS if key in cfg}
        return cls(**parts, cfg=cfg)

    # ---- environment ------------------------------------------------------------------------------
    def _setup_environment(self, launcher: str) -> None:
        backend = (self.env_cfg.get("dist_cfg") or {}).get("backend")
        if launcher == "pytorch" and "RANK" not in os.environ:
            raise RuntimeError("launcher='pytorch' needs torchrun (RANK/WORLD_SIZE are not set)")
        self.distributed = launcher != "none" and dist.init_dist_from_env(backend)
        self.rank, self.world_size = dist.get_rank(), dist.get_world_size()
        device = self.env_cfg.get("device")
        if device is None:
            device = f"cuda:{dist.get_local_rank()}" if torch.cuda.is_available() else "cpu"
        self.device = torch.device(device)
        torch.backends.cudnn.benchmark = bool(self.env_cfg.get("cudnn_benchmark", False))
        if self.env_cfg.get("mp_start_method"):
            torch.multiprocessing.set_start_method(self.env_cfg["mp_start_method"], force=True)

    def _setup_randomness(self, randomness: dict[str, Any]) -> tuple[int, bool]:
        seed = randomness.get("seed")
        if seed is None:
            seed = dist.broadcast_object(draw_seed())
        deterministic = bool(randomness.get("deterministic", False))
        rank_seed = seed + self.rank if randomness.get("diff_rank_seed", False) else seed
        set_random_seed(rank_seed, deterministic)
        return int(seed), deterministic

    def _dump_config(self) -> None:
        if self.rank != 0 or self.cfg is None:
            return
        path = self.work_dir / "config.py"
        try:
            if hasattr(self.cfg, "dump"):
                self.cfg.dump(path)
                return
        except (AttributeError, TypeError, ValueError) as error:
            self.logger.warning(f"config.dump failed ({error}); writing the config's repr instead")
        path.write_text(self.config_text)

    # ---- hooks ------------------------------------------------------------------------------------
    @property
    def hooks(self) -> list[Hook]:
        return list(self._hooks)

    def register_hook(self, hook: Hook, priority: int | str | None = None) -> None:
        """Insert ``hook`` after every hook of lower or equal priority (``priority`` overrides the
        hook's own)."""
        hook.priority = get_priority(priority if priority is not None else hook.priority)
        position = len(self._hooks)
        while position > 0 and self._hooks[position - 1].priority > hook.priority:
            position -= 1
        self._hooks.insert(position, hook)
        self._hook_methods = {
            point: [getattr(h, point) for h in self._hooks if h.overrides(point)] for point in HOOK_POINTS
        }

    def call_hook(self, point: str, **kwargs: Any) -> None:
        """Call ``point`` on every hook that implements it, in priority order."""
        for method in self._hook_methods[point]:
            method(self, **kwargs)

    # ---- read-outs used by hooks -----------------------------------------------------------------
    @property
    def epoch(self) -> int:
        return self.train_loop.epoch if self.train_loop is not None else 0

    @property
    def iter(self) -> int:
        return self.train_loop.iter if self.train_loop is not None else 0

    @property
    def max_epochs(self) -> int | None:
        return self.train_loop.max_epochs if self.train_loop is not None else None

    @property
    def max_iters(self) -> int | None:
        return self.train_loop.max_iters if self.train_loop is not None else None

    @property
    def train_dataloader(self) -> Any:
        return self.train_loop.dataloader if self.train_loop is not None else None

    @property
    def val_dataloader(self) -> Any:
        return self.val_loop.dataloader if self.val_loop is not None else None

    @property
    def test_dataloader(self) -> Any:
        return self.test_loop.dataloader if self.test_loop is not None else None

    # ---- building the parts of a mode ------------------------------------------------------------
    def _require(self, mode: str, keys: tuple[str, ...]) -> None:
        missing = [key for key in keys if self._parts[key] is None]
        if missing:
            raise ConfigError(f"{mode}() needs {', '.join(keys)}; the config lacks {', '.join(missing)}")

    def _build_eval_loop(self, mode: str) -> Any:
        self._require(mode, (f"{mode}_dataloader", f"{mode}_evaluator"))
        loader = build_dataloader(
            self._parts[f"{mode}_dataloader"],
            seed=self.seed,
            rank=self.rank,
            shuffle=False,
            path=f"{mode}_dataloader",
        )
        evaluator = build_evaluator(self._parts[f"{mode}_evaluator"])
        cfg = loop_cfg_with_type(f"{mode}_cfg", self._parts[f"{mode}_cfg"])
        return build(cfg, LOOPS, runner=self, dataloader=loader, evaluator=evaluator)

    def _build_train_parts(self) -> None:
        self._require("train", ("train_dataloader", "train_cfg", "optim_wrapper"))
        loader = build_dataloader(
            self._parts["train_dataloader"],
            seed=self.seed,
            rank=self.rank,
            shuffle=True,
            path="train_dataloader",
        )
        self.train_loop = build(
            loop_cfg_with_type("train_cfg", self._parts["train_cfg"]), LOOPS, runner=self, dataloader=loader
        )
        self.optim_wrapper = build_optim_wrapper(unwrap_model(self.model), self._parts["optim_wrapper"])
        loop = self.train_loop
        self.param_schedulers = build_param_schedulers(
            self._parts["param_scheduler"],
            self.optim_wrapper,
            max_epochs=loop.max_epochs,
            max_iters=loop.max_iters,
            epoch_length=loop.epoch_length,
        )
        if self.val_loop is None and self._parts["val_dataloader"] is not None:
            self.val_loop = self._build_eval_loop("val")

    # ---- the three modes ------------------------------------------------------------------------
    def train(self) -> nn.Module:
        """Train (resuming or loading weights first when configured); returns the model."""
        checkpoint = self._read_resume_checkpoint()
        self._build_train_parts()
        self.stop_training = False
        self.call_hook("before_run")
        try:
            if checkpoint is not None:
                self._resume_from(checkpoint)
            elif self._load_from and not self._weights_loaded:
                self.load_checkpoint(self._load_from)
            self.optim_wrapper.initialize_count_status(
                unwrap_model(self.model), self.train_loop.iter, self.train_loop.max_iters
            )
            self.train_loop.run()
            dist.barrier()  # ranks leave together (rank 0 may still be writing the last checkpoint)
        finally:
            self.call_hook("after_run")
            self._release_loaders()
        return self.model

    def val(self) -> dict[str, Any]:
        """Evaluate on the validation set; returns the metrics."""
        return self._evaluate("val")

    def test(self) -> dict[str, Any]:
        """Evaluate on the test set; returns the metrics."""
        return self._evaluate("test")

    def _evaluate(self, mode: str) -> dict[str, Any]:
        if getattr(self, f"{mode}_loop") is None:
            setattr(self, f"{mode}_loop", self._build_eval_loop(mode))
        if self._channels_last == "inference":
            apply_speed_options(unwrap_model(self.model), self._channels_last, inference=True)
        self.call_hook("before_run")
        try:
            if self._load_from and not self._weights_loaded:
                self.load_checkpoint(self._load_from)
            return getattr(self, f"{mode}_loop").run()
        finally:
            self.call_hook("after_run")
            self._release_loaders()

    def _release_loaders(self) -> None:
        for loader in (self.train_dataloader, self.val_dataloader, self.test_dataloader):
            release_workers(loader)

    # ---- checkpoints ------------------------------------------------------------------------------
    def load_checkpoint(self, path: str | os.PathLike, strict: bool = True) -> dict[str, Any]:
        """Load the weights of ``path`` into the model (no training state); returns its meta."""
        checkpoint = read_checkpoint(path, unsafe_pickle=self._load_from_unsafe)
        state_dict = checkpoint.get("state_dict", checkpoint)
        load_state_dict(self.model, state_dict, strict=strict, source=str(path))
        self._weights_loaded = True
        self.logger.info(f"loaded weights from {path}")
        return dict(checkpoint.get("meta", {}))

    def save_checkpoint(
        self, filename: str, save_optimizer: bool = True, save_param_scheduler: bool = True
    ) -> Path | None:
        """Write ``work_dir/filename`` (rank 0); every rank must call it. Returns the path on rank 0."""
        checkpoint: dict[str, Any] = {
            "meta": self._checkpoint_meta(),
            "state_dict": self._model_state_dict(),
            "loop": self.train_loop.state_dict() if self.train_loop is not None else {},
            "rng": get_rng_state(),
            "config": self.config_text,
        }
        if self.world_size > 1:
            checkpoint["rng_per_rank"] = dist.all_gather_object(checkpoint["rng"])
        if save_optimizer and self.optim_wrapper is not None:
            checkpoint["optimizer"] = self.optim_wrapper.state_dict()
            if isinstance(self.model, FSDPModel):  # the torch optimizer's part, unsharded
                checkpoint["optimizer"].update(self.model.full_optim_state_dict(self.optim_wrapper.optimizer))
        if save_param_scheduler:
            checkpoint["param_schedulers"] = [scheduler.state_dict() for scheduler in self.param_schedulers]
        self.call_hook("before_save_checkpoint", checkpoint=checkpoint)
        if self.rank != 0:
            return None
        return save_checkpoint(weights_only_safe(checkpoint), self.work_dir / filename)

    def _model_state_dict(self) -> dict[str, Any]:
        """The model's full weights on the CPU (gathered from the shards under FSDP; every rank calls)."""
        if isinstance(self.model, FSDPModel):
            return self.model.full_state_dict()
        return weights_to_cpu(unwrap_model(self.model).state_dict())

    def _load_optimizer(self, state: dict[str, Any]) -> None:
        if not isinstance(self.model, FSDPModel):
            self.optim_wrapper.load_state_dict(state)
            return
        state = dict(state)
        optimizer_state = {key: state.pop(key) for key in ("state", "param_groups") if key in state}
        self.optim_wrapper.load_state_dict({**self.optim_wrapper.optimizer.state_dict(), **state})
        self.model.load_full_optim_state_dict(self.optim_wrapper.optimizer, optimizer_state)

    def _resume_schedulers(self, states: list[dict[str, Any]] | None, path: str) -> None:
        if states is None:
            if self.param_schedulers:
                self.logger.warning(
                    f"{path} has no scheduler states; the schedules restart from their beginning"
                )
            return
        if len(states) != len(self.param_schedulers):
            raise RuntimeError(
                f"{path} holds {len(states)} scheduler states but the config builds "
                f"{len(self.param_schedulers)} schedulers"
            )
        for scheduler, state in zip(self.param_schedulers, states):
            scheduler.load_state_dict(state)

    def _checkpoint_meta(self) -> dict[str, Any]:
        from .. import __version__

        loader = self.train_dataloader
        dataset_meta = getattr(loader.dataset, "metainfo", None) if loader is not None else None
        return {
            "epoch": self.epoch,
            "iter": self.iter,
            "seed": self.seed,
            "experiment_name": self.experiment_name,
            "time": datetime.datetime.now().isoformat(timespec="seconds"),
            "version": __version__,
            "world_size": self.world_size,
            "dataset_meta": dict(dataset_meta or {}),
        }

    def _read_resume_checkpoint(self) -> dict[str, Any] | None:
        """The checkpoint to resume from (None for a fresh start); adopts its seed so samplers and
        worker seeds match the interrupted run."""
        if not self._resume:
            return None
        if self._resume == "auto":
            path: Path | None = find_latest_checkpoint(self.work_dir)
        elif isinstance(self._resume, (str, os.PathLike)):
            path = Path(self._resume)
        else:
            path = Path(self._load_from) if self._load_from else find_latest_checkpoint(self.work_dir)
        if path is None:
            self.logger.info(
                f"resume={self._resume!r}: {self.work_dir / 'latest.pth'} does not exist, starting afresh"
            )
            return None
        checkpoint = read_checkpoint(path)
        checkpoint["_path"] = str(path)
        seed = checkpoint.get("meta", {}).get("seed")
        if seed is not None and seed != self.seed:
            self.logger.info(f"resuming: using the checkpoint's seed {seed} instead of {self.seed}")
            self.seed = int(seed)
        return checkpoint

    def _resume_from(self, checkpoint: dict[str, Any]) -> None:
        path = checkpoint.pop("_path")
        load_state_dict(self.model, checkpoint["state_dict"], strict=True, source=path)
        if "optimizer" in checkpoint:
            self._load_optimizer(checkpoint["optimizer"])
        else:
            self.logger.warning(f"{path} has no optimizer state; the optimizer starts afresh")
        self._resume_schedulers(checkpoint.get("param_schedulers"), path)
        if checkpoint.get("loop"):
            self.train_loop.load_state_dict(checkpoint["loop"])
        self.call_hook("after_load_checkpoint", checkpoint=checkpoint)
        unknown = set(checkpoint.get("hooks", {})) - {type(h).__name__ for h in self._hooks}
        if unknown:
            self.logger.warning(f"{path} holds state of hooks this run does not have: {sorted(unknown)}")
        per_rank = checkpoint.get("rng_per_rank")
        set_rng_state(
            per_rank[self.rank] if per_rank and len(per_rank) == self.world_size else checkpoint["rng"]
        )
        self._weights_loaded = True
        self.logger.info(f"resumed from {path} at epoch {self.epoch}, iteration {self.iter}")
