"""Shared fixtures of the det3d tests."""

from __future__ import annotations

import pytest
import torch


@pytest.fixture(autouse=True)
def restore_threads():
    """Tests here may drop to one intra-op thread (deterministic sums, no oversubscription); the count is restored
    after each, so that later tests in the same worker run as they would alone."""
    threads = torch.get_num_threads()
    yield
    torch.set_num_threads(threads)
