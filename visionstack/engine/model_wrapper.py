"""DistributedModel: DistributedDataParallel with the model contract's step methods.

DDP synchronises gradients through hooks installed by its own ``forward``, so the loss must be
computed by calling the wrapper, not the inner module. ``train_step`` therefore preprocesses with
the inner module's data preprocessor and calls ``self(**data, mode="loss")``; evaluation steps need
no synchronisation and go straight to the inner module.
"""

from __future__ import annotations

from typing import Any

from torch.nn.parallel import DistributedDataParallel

__all__ = ["DistributedModel"]


class DistributedModel(DistributedDataParallel):
    """DDP wrapper exposing ``train_step``, ``val_step`` and ``test_step`` (see BaseModel)."""

    def train_step(self, data: Any, optim_wrapper: Any) -> dict[str, float]:
        with optim_wrapper.optim_context(self):
            data = self.module.data_preprocessor(data, training=True)
            losses = self(**data, mode="loss")
        loss, log_vars = self.module.parse_losses(losses)
        optim_wrapper.update_params(loss)
        return log_vars

    def val_step(self, data: Any) -> list[Any]:
        return self.module.val_step(data)

    def test_step(self, data: Any) -> list[Any]:
        return self.module.test_step(data)
