"""Losses shared by the tasks (registered in MODELS)."""

from .cross_entropy_loss import CrossEntropyLoss

__all__ = ["CrossEntropyLoss"]
