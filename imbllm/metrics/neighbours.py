"""Nearest-neighbour summaries of Gower distances, computed block by block.

The PRDC metrics (Naeem et al. 2020) and the distance to the unseen minority need, for each
row, its k-th nearest neighbour within its own set and its nearest row in another set. Full
distance matrices of two capped sets are tens of megabytes each; here they are computed a
block of rows at a time (:data:`BLOCK_ENTRIES` distances, so a block stays in cache) and
reduced at once, so memory stays flat however large the sets are.

Values are Gower distances times the number of features (:func:`gower_sums`): comparisons
and k-NN radii do not change under that scale, and callers divide averages once.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass

import numpy as np

from imbllm.metrics.gower import GowerMatrix, gower_sums

log = logging.getLogger(__name__)

#: Distances per block: 2**18 float64 values, 2 MB.
BLOCK_ENTRIES = 1 << 18


def row_blocks(n_rows: int, n_cols: int) -> Iterator[slice]:
    """Slices of rows such that each block of a ``n_rows x n_cols`` matrix is small."""
    step = max(1, BLOCK_ENTRIES // max(1, n_cols))
    for start in range(0, n_rows, step):
        yield slice(start, min(start + step, n_rows))


def self_neighbours(X: GowerMatrix, k: int, name: str = "X") -> tuple[np.ndarray | None, float]:
    """Each row's distance to its k-th nearest other row, and the sum of all pairwise sums.

    With fewer than ``k + 1`` rows, ``k = n - 1`` is used (a warning names the set); with
    fewer than two rows the radii are undefined (None).
    """
    n = len(X)
    if n < 2:
        return None, 0.0
    if n < k + 1:
        log.warning("synthetic metrics: %s has %d rows, fewer than k + 1 = %d; using k = %d "
                    "for its neighbour radii.", name, n, k + 1, n - 1)
        k = n - 1
    radii, total = np.empty(n), 0.0
    for rows in row_blocks(n, n):
        D = gower_sums(X.take(rows), X)
        total += float(D.sum())
        # Column k of the partition is the (k + 1)-th smallest: the k-th once self is skipped.
        radii[rows] = np.partition(D, k, axis=1)[:, k]
    return radii, total


@dataclass
class Cross:
    """What the metrics need from the distances between sets A (real) and B (synthetic).

    ``nearest[i]``: distance from row i of A to its nearest row of B;
    ``in_b_ball[i]``: row i of A lies in the k-NN ball of some row of B (needs B's radii);
    ``a_ball_count[j]``: how many rows of A hold row j of B in their k-NN ball (needs A's).
    Balls are closed (<=), not the strict < of the reference PRDC code: on discrete columns
    many radii are 0, and a copy of a real row must count as inside its ball.
    """

    nearest: np.ndarray
    in_b_ball: np.ndarray | None
    a_ball_count: np.ndarray | None


def cross_neighbours(A: GowerMatrix, B: GowerMatrix, radius_a: np.ndarray | None = None,
                     radius_b: np.ndarray | None = None) -> Cross:
    """Nearest distances from A to B, and ball memberships when radii are given."""
    nearest = np.empty(len(A))
    in_b = np.zeros(len(A), dtype=bool) if radius_b is not None else None
    count = np.zeros(len(B), dtype=np.int64) if radius_a is not None else None
    if len(B) == 0:
        nearest[:] = np.nan
        return Cross(nearest, in_b, count)
    for rows in row_blocks(len(A), len(B)):
        D = gower_sums(A.take(rows), B)
        nearest[rows] = D.min(axis=1)
        if radius_b is not None:
            in_b[rows] = (D <= radius_b[None, :]).any(axis=1)
        if radius_a is not None:
            count += (D <= radius_a[rows, None]).sum(axis=0)
    return Cross(nearest, in_b, count)
