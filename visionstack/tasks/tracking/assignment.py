"""Minimum-cost assignment between tracks and detections with a cost limit.

:func:`linear_assignment` behaves as ``lap.lapjv(cost, extend_cost=True, cost_limit=limit)`` does
in ByteTrack's ``matching.linear_assignment``, solved with SciPy's ``linear_sum_assignment`` so
that no compiled extra is needed.
"""

from __future__ import annotations

import numpy as np
from scipy.optimize import linear_sum_assignment

__all__ = ["linear_assignment"]


def linear_assignment(
    cost: np.ndarray, cost_limit: float = np.inf
) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Match rows (tracks) to columns (detections) at minimum total cost.

    Every row and every column may also stay unmatched at a cost of ``cost_limit / 2``, so a pair is
    matched only where that is cheaper than leaving both unmatched — in particular never at a cost
    above ``cost_limit`` — and the total over all pairs and unmatched items is minimal. This is
    the (N + M) x (N + M) extension of ``lap.lapjv``: cost on the top left, ``cost_limit / 2`` in
    the two off-diagonal blocks, 0 on the bottom right. With ``cost_limit = inf`` all ``min(N, M)``
    pairs of the plain rectangular problem are matched, except pairs of infinite cost (forbidden
    entries), which are returned unmatched.

    Args:
        cost: (N, M) costs; ``inf`` marks a forbidden pair, NaN and ``-inf`` are errors.
        cost_limit: the largest cost a matched pair may have.

    Returns:
        matches (K, 2) int64 ``(row, column)`` pairs sorted by row, unmatched rows (N - K,) and
        unmatched columns (M - K,), int64, ascending.
    """
    cost = np.asarray(cost, dtype=np.float64)
    if cost.ndim != 2:
        raise ValueError(f"cost must be a 2-d (N, M) matrix, got shape {cost.shape}")
    if np.isnan(cost).any() or np.isneginf(cost).any():
        raise ValueError("cost contains NaN or -inf")
    num_rows, num_cols = cost.shape
    if num_rows == 0 or num_cols == 0:
        return np.empty((0, 2), dtype=np.int64), np.arange(num_rows), np.arange(num_cols)
    if np.isfinite(cost_limit):
        rows, cols = linear_sum_assignment(_extended_cost(cost, cost_limit))
        keep = (rows < num_rows) & (cols < num_cols)
    else:
        rows, cols = linear_sum_assignment(_finite_cost(cost))
        keep = np.isfinite(cost[rows, cols])
    matches = np.stack([rows[keep], cols[keep]], axis=1).astype(np.int64)
    matches = matches[np.argsort(matches[:, 0], kind="stable")]
    unmatched_rows = np.setdiff1d(np.arange(num_rows), matches[:, 0])
    unmatched_cols = np.setdiff1d(np.arange(num_cols), matches[:, 1])
    return matches, unmatched_rows, unmatched_cols


def _extended_cost(cost: np.ndarray, cost_limit: float) -> np.ndarray:
    """The (N + M) x (N + M) matrix in which an extra column per row (an extra row per column)
    stands for "unmatched" at half the limit."""
    num_rows, num_cols = cost.shape
    extended = np.full((num_rows + num_cols, num_rows + num_cols), cost_limit / 2.0)
    extended[:num_rows, :num_cols] = cost
    extended[num_rows:, num_cols:] = 0.0
    # Forbidden pairs cost more than leaving both items unmatched, so they are never chosen.
    extended[:num_rows, :num_cols][np.isinf(cost)] = abs(cost_limit) + 1.0
    return extended


def _finite_cost(cost: np.ndarray) -> np.ndarray:
    """``cost`` with infinite entries replaced by a value larger than any finite assignment, so the
    rectangular problem stays feasible and such pairs are chosen only when nothing else is left."""
    finite = cost[np.isfinite(cost)]
    if finite.size == 0:
        return np.zeros_like(cost)
    span = np.abs(finite).max() + 1.0
    big = span * (min(cost.shape) + 1) * 2.0
    return np.where(np.isfinite(cost), cost, big)
