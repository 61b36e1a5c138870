"""Model wrappers for distributed training: DDP (``DistributedModel``) and FSDP (``FSDPModel``).

Both expose the model contract's ``train_step``, ``val_step`` and ``test_step``. ``train_step``
returns the log variables averaged over the ranks (one all-reduce per iteration), so the logged
loss of a distributed run is the loss of the global batch, as a single process would log it.

* **DDP** synchronises gradients through hooks installed by its own ``forward``, so the loss must be
  computed by calling the wrapper, not the inner module: ``train_step`` preprocesses with the inner
  module's data preprocessor and calls ``self(**data, mode="loss")``.
* **FSDP** uses ``torch.distributed.fsdp.fully_shard`` (FSDP2), which shards the parameters of each
  configured submodule and of the root in place and runs on CPU with gloo as well as on GPUs with
  NCCL (the older ``FullyShardedDataParallel`` class refuses CPU-only machines). Checkpoints hold
  the full, unsharded state gathered on rank 0, so they load into a plain model and into a run with
  another world size.

``wrap_model`` builds the wrapper named by the ``model_wrapper_cfg`` top-level config key::

    model_wrapper_cfg = dict(type="DDP", sync_bn=False, find_unused_parameters=False)
    model_wrapper_cfg = dict(type="FSDP", shard_modules=["backbone.layer1", ...], reshard_after_forward=True)
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any

import torch
from torch import nn
from torch.nn.parallel import DistributedDataParallel

from ..registry import ConfigError
from . import dist

__all__ = [
    "DistributedModel",
    "FSDPModel",
    "MODEL_WRAPPER_KEYS",
    "validate_model_wrapper_cfg",
    "wrap_model",
    "reduce_log_vars",
]

MODEL_WRAPPER_KEYS = {
    "DDP": ("type", "sync_bn", "find_unused_parameters", "broadcast_buffers", "static_graph"),
    "FSDP": ("type", "sync_bn", "shard_modules", "reshard_after_forward"),
}


def reduce_log_vars(log_vars: dict[str, float]) -> dict[str, float]:
    """Average ``log_vars`` over the ranks (every rank must call it with the same keys)."""
    if not dist.is_distributed() or not log_vars:
        return log_vars
    names = list(log_vars)
    device = (
        torch.device("cuda", dist.get_local_rank()) if torch.distributed.get_backend() == "nccl" else None
    )
    values = torch.tensor([float(log_vars[name]) for name in names], dtype=torch.float64, device=device)
    torch.distributed.all_reduce(values)
    values /= dist.get_world_size()
    return dict(zip(names, values.tolist()))


class _WrapperSteps:
    """The model contract's steps of a wrapper around ``self.module`` (a BaseModel).

    The loss is computed by calling the wrapper itself, not ``self.module``: DDP installs its
    gradient hooks in its own ``forward``, and FSDP's ``forward`` passes straight to the module.
    ``train_step`` returns the log variables averaged over the ranks.
    """

    module: nn.Module

    def train_step(self, data: Any, optim_wrapper: Any) -> dict[str, float]:
        if hasattr(optim_wrapper, "_wrappers"):  # an OptimWrapperDict: the model steps its networks itself
            raise ConfigError(
                f"{type(self.module).__name__} trains its sub-networks with their own optimizers "
                f"({', '.join(optim_wrapper)}), which distributed training does not support yet (DDP would "
                "have to wrap each sub-network): train it in one process"
            )
        with optim_wrapper.optim_context(self):
            data = self.module.data_preprocessor(data, training=True)
            losses = self(**data, mode="loss")
        loss, log_vars = self.module.parse_losses(losses)
        optim_wrapper.update_params(loss)
        return reduce_log_vars(log_vars)

    def val_step(self, data: Any) -> list[Any]:
        return self.module.val_step(data)

    def test_step(self, data: Any) -> list[Any]:
        return self.module.test_step(data)


class DistributedModel(_WrapperSteps, DistributedDataParallel):
    """DDP wrapper exposing ``train_step``, ``val_step`` and ``test_step`` (see BaseModel)."""


class FSDPModel(_WrapperSteps, nn.Module):
    """A model sharded with ``fully_shard``; exposes the step methods and full (gathered) states.

    Args:
        module: the model (a BaseModel), already on its device.
        shard_modules: dotted names of submodules sharded as their own units (each all-gathers its
            parameters only while it runs); the root is always sharded. Empty: one unit.
        reshard_after_forward: free the gathered parameters after the forward pass (less memory,
            one more all-gather in the backward pass).
    """

    def __init__(
        self, module: nn.Module, shard_modules: Sequence[str] = (), reshard_after_forward: bool = True
    ) -> None:
        super().__init__()
        from torch.distributed.fsdp import fully_shard

        for name in shard_modules:
            try:
                submodule = module.get_submodule(name)
            except AttributeError as error:
                raise ConfigError(
                    f"model_wrapper_cfg.shard_modules: the model has no submodule {name!r}"
                ) from error
            fully_shard(submodule, reshard_after_forward=reshard_after_forward)
        fully_shard(module, reshard_after_forward=reshard_after_forward)
        self.module = module

    def forward(self, *args: Any, **kwargs: Any) -> Any:
        return self.module(*args, **kwargs)

    # ---- full states (every rank must call these) ----------------------------------------------------
    def full_state_dict(self) -> dict[str, torch.Tensor]:
        """The unsharded weights on the CPU (complete on rank 0, empty elsewhere)."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_model_state_dict

        return get_model_state_dict(
            self.module, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
        )

    def load_full_state_dict(self, state_dict: Mapping[str, torch.Tensor], strict: bool = True) -> None:
        """Shard a full state dict (present on every rank) into the model."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_model_state_dict

        set_model_state_dict(
            self.module, dict(state_dict), options=StateDictOptions(full_state_dict=True, strict=strict)
        )

    def full_optim_state_dict(self, optimizer: torch.optim.Optimizer) -> dict[str, Any]:
        """The optimizer state keyed by parameter names, unsharded (complete on rank 0)."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, get_optimizer_state_dict

        return get_optimizer_state_dict(
            self.module, optimizer, options=StateDictOptions(full_state_dict=True, cpu_offload=True)
        )

    def load_full_optim_state_dict(self, optimizer: torch.optim.Optimizer, state: Mapping[str, Any]) -> None:
        """Shard a full optimizer state (present on every rank) into ``optimizer``."""
        from torch.distributed.checkpoint.state_dict import StateDictOptions, set_optimizer_state_dict

        set_optimizer_state_dict(
            self.module, optimizer, dict(state), options=StateDictOptions(full_state_dict=True)
        )


def validate_model_wrapper_cfg(
    cfg: Mapping[str, Any] | None, path: str = "model_wrapper_cfg"
) -> dict[str, Any]:
    """Check ``model_wrapper_cfg`` and return it with its defaults (``type="DDP"``)."""
    cfg = dict(cfg or {})
    kind = cfg.setdefault("type", "DDP")
    if kind not in MODEL_WRAPPER_KEYS:
        raise ConfigError(f"{path}.type: {kind!r} is not one of {sorted(MODEL_WRAPPER_KEYS)}")
    unknown = sorted(set(cfg) - set(MODEL_WRAPPER_KEYS[kind]))
    if unknown:
        raise ConfigError(
            f"{path}: unknown option(s) {unknown} for type {kind!r} "
            f"(accepted: {', '.join(MODEL_WRAPPER_KEYS[kind])})"
        )
    if not isinstance(cfg.get("sync_bn", False), bool):
        raise ConfigError(f"{path}.sync_bn must be True or False, got {cfg['sync_bn']!r}")
    return cfg


def wrap_model(model: nn.Module, device: torch.device, cfg: Mapping[str, Any] | None = None) -> nn.Module:
    """Wrap ``model`` (already on ``device``) for the active process group as ``cfg`` says.

    ``sync_bn=True`` converts every BatchNorm layer to ``nn.SyncBatchNorm`` first (statistics over
    the global batch; PyTorch computes them on GPUs only - on a CPU run the converted layers fail in
    training, so the option is refused there).
    """
    cfg = validate_model_wrapper_cfg(cfg)
    kind = cfg.pop("type")
    if cfg.pop("sync_bn", False):
        if device.type == "cpu":
            raise ConfigError(
                "model_wrapper_cfg.sync_bn=True: PyTorch's SyncBatchNorm runs on GPUs only; "
                "this run is on the CPU (remove sync_bn or train on GPUs)"
            )
        model = nn.SyncBatchNorm.convert_sync_batchnorm(model)
    if kind == "FSDP":
        return FSDPModel(
            model,
            shard_modules=tuple(cfg.get("shard_modules", ())),
            reshard_after_forward=bool(cfg.get("reshard_after_forward", True)),
        )
    device_ids = [device.index] if device.type == "cuda" else None
    return DistributedModel(model, device_ids=device_ids, **cfg)
