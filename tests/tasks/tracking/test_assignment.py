"""linear_assignment against lap.lapjv(extend_cost=True, cost_limit=...) and against brute force."""

from __future__ import annotations

import itertools

import numpy as np
import pytest

from visionstack.tasks.tracking.assignment import linear_assignment


def _brute_force(cost: np.ndarray, cost_limit: float) -> set[tuple[int, int]]:
    """The pair set minimising sum(matched costs) + (unmatched rows + columns) * cost_limit / 2."""
    num_rows, num_cols = cost.shape
    best, best_pairs = np.inf, set()
    for size in range(min(num_rows, num_cols) + 1):
        for rows in itertools.combinations(range(num_rows), size):
            for cols in itertools.permutations(range(num_cols), size):
                total = sum(cost[r, c] for r, c in zip(rows, cols))
                total += (num_rows + num_cols - 2 * size) * cost_limit / 2
                if total < best:
                    best, best_pairs = total, set(zip(rows, cols))
    return best_pairs


def _check_partition(matches, unmatched_rows, unmatched_cols, shape):
    assert matches.dtype == np.int64 and matches.shape[1] == 2
    np.testing.assert_array_equal(np.sort(np.r_[matches[:, 0], unmatched_rows]), np.arange(shape[0]))
    np.testing.assert_array_equal(np.sort(np.r_[matches[:, 1], unmatched_cols]), np.arange(shape[1]))


@pytest.mark.parametrize("seed", range(30))
def test_against_brute_force(seed):
    rng = np.random.default_rng(seed)
    shape = tuple(rng.integers(1, 5, size=2))
    cost = rng.uniform(0, 1, shape)
    cost_limit = float(rng.choice([0.3, 0.6, 0.9, 1.5]))
    matches, unmatched_rows, unmatched_cols = linear_assignment(cost, cost_limit)
    _check_partition(matches, unmatched_rows, unmatched_cols, shape)
    assert set(map(tuple, matches.tolist())) == _brute_force(cost, cost_limit)
    assert np.all(cost[matches[:, 0], matches[:, 1]] < cost_limit)


@pytest.mark.parametrize("seed", range(40))
def test_against_lap(seed):
    lap = pytest.importorskip("lap")
    rng = np.random.default_rng(100 + seed)
    shape = tuple(rng.integers(1, 12, size=2))
    cost = rng.uniform(0, 1, shape)
    cost_limit = float(rng.choice([0.2, 0.5, 0.8, 1.2]))
    _, x, y = lap.lapjv(cost, extend_cost=True, cost_limit=cost_limit)
    expected = {(row, col) for row, col in enumerate(x) if col >= 0}
    matches, unmatched_rows, unmatched_cols = linear_assignment(cost, cost_limit)
    assert set(map(tuple, matches.tolist())) == expected
    np.testing.assert_array_equal(unmatched_rows, np.flatnonzero(x < 0))
    np.testing.assert_array_equal(unmatched_cols, np.flatnonzero(y < 0))


def test_unlimited_matches_min_rows_cols_and_skips_infinite_pairs():
    cost = np.array([[1.0, 2.0, 3.0], [2.0, 1.0, 0.5]])
    matches, unmatched_rows, unmatched_cols = linear_assignment(cost)
    np.testing.assert_array_equal(matches, [[0, 0], [1, 2]])
    np.testing.assert_array_equal(unmatched_cols, [1])
    assert unmatched_rows.size == 0
    # Row 1 may only take column 0, which row 0 also wants: row 0 must fall back to column 1.
    cost = np.array([[0.1, 0.9], [0.2, np.inf]])
    np.testing.assert_array_equal(linear_assignment(cost)[0], [[0, 1], [1, 0]])
    # A row with only forbidden pairs stays unmatched rather than being matched at inf.
    cost = np.array([[np.inf, np.inf], [0.3, np.inf]])
    matches, unmatched_rows, unmatched_cols = linear_assignment(cost)
    np.testing.assert_array_equal(matches, [[1, 0]])
    np.testing.assert_array_equal(unmatched_rows, [0])
    np.testing.assert_array_equal(unmatched_cols, [1])
    # With a limit, forbidden pairs are never taken either.
    np.testing.assert_array_equal(linear_assignment(np.array([[np.inf]]), 0.8)[1], [0])


@pytest.mark.parametrize("shape", [(0, 0), (0, 3), (4, 0)])
def test_empty(shape):
    matches, unmatched_rows, unmatched_cols = linear_assignment(np.zeros(shape), 0.5)
    assert matches.shape == (0, 2)
    np.testing.assert_array_equal(unmatched_rows, np.arange(shape[0]))
    np.testing.assert_array_equal(unmatched_cols, np.arange(shape[1]))


def test_errors():
    with pytest.raises(ValueError, match="2-d"):
        linear_assignment(np.zeros(3))
    with pytest.raises(ValueError, match="NaN"):
        linear_assignment(np.array([[np.nan]]))
