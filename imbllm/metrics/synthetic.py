"""Judge synthetic minority rows: reach of the unseen minority, coverage, diversity, fidelity.

protocol.md §4. Three sets of rows with the same columns:

* ``S``: the synthetic minority rows an oversampler added,
* ``R``: the real training minority rows it saw,
* ``U``: the test minority rows it never saw.

:func:`synthetic_metrics` returns the twelve numbers every run logs; :data:`METRICS` lists them
with their goal (SDMetrics style), so that tables and rank tests read the direction from one
place. All distances are the Gower distance of :mod:`imbllm.metrics.gower`, with ranges and
category codes learned from ``R ∪ U`` and shared by every method.

Cost and the row cap
--------------------
Distance-based metrics (``dum``, ``dum_reference``, ``coverage``, ``recall``, ``precision``,
``density``, ``pairwise_distance``) compare every row of ``U`` with every row of ``S``, ``R`` and
``U``, and every row of ``S`` with every other (block by block, see
:mod:`imbllm.metrics.neighbours`, so memory stays small). With ``max_rows`` set, each of ``S``,
``R`` and ``U`` that has more rows is replaced, for these metrics only, by a subsample of
``max_rows`` rows drawn without replacement by ``numpy.random.default_rng(random_state)`` (in
the order S, R, U), so the result is reproducible and a run on adult (``|S|`` ≈ 17,000) costs a
fraction of a second. The count-based metrics (``unique_ratio``, ``copy_rate``, ``entropy``,
``fidelity_distance``) are cheap and always use every row. ``max_rows=None`` computes everything
exactly (on adult, tens of seconds).

``dum`` is the exception: it is the paper's headline claim, and a subsample of ``S`` offers
fewer candidates for each test row's nearest neighbour, which would bias it upwards (on adult
with SMOTE-NC a capped ``dum`` read 0.043 against the exact 0.035). So ``dum`` (and with it
``dum_ratio``) always searches every *distinct* synthetic row; only ``U`` may be capped there,
which samples the mean without biasing it. The PRDC values depend on the set sizes (Naeem et
al. compare equal-sized sets): methods that generate the same number of rows are capped alike
and stay comparable.

Edge cases
----------
* Empty ``S`` (a generator that produced nothing): every metric that needs ``S`` is NaN;
  ``dum_reference`` is still computed. ``dum_ratio`` is NaN when ``dum`` is NaN or
  ``dum_reference`` is 0.
* Fewer than ``k + 1`` rows in a set: the k-nearest-neighbour radius of that set uses
  ``k = n - 1`` (a warning is logged); with a single row it is undefined and the metrics that
  need it (``coverage``, ``precision``, ``density`` for ``U``; ``recall`` for ``S``) are NaN.
* ``pairwise_distance`` needs two rows of ``S``, else NaN.
* Constant columns: see :mod:`imbllm.metrics.gower` (compared by equality).

Example
-------
>>> import pandas as pd
>>> R = pd.DataFrame({"x": [0.0, 1.0, 2.0], "c": ["a", "b", "a"]})
>>> m = synthetic_metrics(R, R, R, ["x"], ["c"], k=1)
>>> m["dum"], m["copy_rate"], m["coverage"]
(0.0, 1.0, 1.0)
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.stats import entropy as shannon_entropy

from imbllm.metrics.sets import Sets, memo

MINIMIZE, MAXIMIZE = "minimize", "maximize"
#: Default cap on the rows of each set for the distance-based metrics (see "Cost and the cap").
DEFAULT_MAX_ROWS = 2000


@dataclass(frozen=True)
class SyntheticMetric:
    """One synthetic-data metric: its logged name, its goal and how it is computed."""

    name: str
    goal: str
    description: str
    compute: Callable[[Sets], float]


# -- metric computations ---------------------------------------------------------------
def _dum(s: Sets) -> float:
    return s.dum


def _dum_reference(s: Sets) -> float:
    return s.dum_reference


def _dum_ratio(s: Sets) -> float:
    dum, ref = _dum(s), s.dum_reference
    return float(dum / ref) if np.isfinite(dum) and ref > 0 else np.nan


def _coverage(s: Sets) -> float:
    if s.empty or s.radius_u is None:
        return np.nan
    return float((s.cross.nearest <= s.radius_u).mean())


def _recall(s: Sets) -> float:
    if s.empty or s.s_neighbours[0] is None:
        return np.nan
    return float(s.cross.in_b_ball.mean())


def _precision(s: Sets) -> float:
    if s.empty or s.radius_u is None:
        return np.nan
    return float((s.cross.a_ball_count > 0).mean())


def _density(s: Sets) -> float:
    if s.empty or s.radius_u is None:
        return np.nan
    k_real = min(s.k, len(s.U_enc) - 1)
    return float(s.cross.a_ball_count.mean() / k_real)


def _pairwise_distance(s: Sets) -> float:
    n = len(s.S_enc)
    # The diagonal is zero, so the sum over the square matrix counts each distinct pair twice.
    return float(s.s_neighbours[1] / (n * (n - 1)) / s.p) if n >= 2 else np.nan


def _unique_ratio(s: Sets) -> float:
    return float(len(np.unique(s.keys("S"))) / len(s.num["S"])) if not s.empty else np.nan


def _copy_rate(s: Sets) -> float:
    return float(np.isin(s.keys("S"), s.keys("R")).mean()) if not s.empty else np.nan


def _entropy(s: Sets) -> float:
    if s.empty:
        return np.nan
    values = []
    for j in range(len(s.numeric)):
        # Bin edges are the deciles of R, so that every method is binned alike; values beyond
        # R's range fall in the outer bins.
        edges = np.unique(np.quantile(s.num["R"][:, j], np.linspace(0.1, 0.9, 9)))
        values.append(shannon_entropy(np.bincount(np.searchsorted(edges, s.num["S"][:, j],
                                                                  side="right"))))
    values += [shannon_entropy(np.bincount(col)) for col in s.codes["S"].T]
    return float(np.mean(values))


def _fidelity_distance(s: Sets) -> float:
    if s.empty:
        return np.nan
    values = [ks_statistic(a, b) for a, b in zip(s.num["S"].T, s.num["R"].T, strict=True)]
    for a, b in zip(s.codes["S"].T, s.codes["R"].T, strict=True):
        size = int(max(a.max(), b.max())) + 1
        p, q = np.bincount(a, minlength=size) / len(a), np.bincount(b, minlength=size) / len(b)
        values.append(0.5 * float(np.abs(p - q).sum()))
    return float(np.mean(values))


def ks_statistic(a: np.ndarray, b: np.ndarray) -> float:
    """Two-sample Kolmogorov-Smirnov statistic: the largest gap between the two ECDFs.

    The statistic of ``scipy.stats.ks_2samp`` without its p-value, which costs more than the
    statistic and is not used here.
    """
    a, b = np.sort(a), np.sort(b)
    grid = np.concatenate([a, b])
    gap = (np.searchsorted(a, grid, side="right") / len(a)
           - np.searchsorted(b, grid, side="right") / len(b))
    return float(np.abs(gap).max())


#: The twelve metrics, in logging order. ``dum_reference`` does not depend on the method; it
#: is logged so that ``dum`` can be read against the no-oversampling baseline.
METRICS: tuple[SyntheticMetric, ...] = (
    SyntheticMetric("dum", MINIMIZE, "mean Gower distance from each test minority row to its "
                    "nearest synthetic row", _dum),
    SyntheticMetric("dum_reference", MINIMIZE, "dum with the real training minority R in place "
                    "of S (no oversampling)", _dum_reference),
    SyntheticMetric("dum_ratio", MINIMIZE, "dum / dum_reference (below 1: S reaches the unseen "
                    "minority better than R alone)", _dum_ratio),
    SyntheticMetric("coverage", MAXIMIZE, "share of test minority rows whose k-NN ball holds a "
                    "synthetic row (Naeem et al. 2020)", _coverage),
    SyntheticMetric("recall", MAXIMIZE, "share of test minority rows inside some synthetic "
                    "row's k-NN ball (Naeem et al. 2020)", _recall),
    SyntheticMetric("precision", MAXIMIZE, "share of synthetic rows inside some test minority "
                    "row's k-NN ball (Naeem et al. 2020)", _precision),
    SyntheticMetric("density", MAXIMIZE, "mean number of test minority k-NN balls holding a "
                    "synthetic row, divided by k (Naeem et al. 2020)", _density),
    SyntheticMetric("pairwise_distance", MAXIMIZE, "mean Gower distance between distinct "
                    "synthetic rows", _pairwise_distance),
    SyntheticMetric("unique_ratio", MAXIMIZE, "share of distinct rows in S", _unique_ratio),
    SyntheticMetric("entropy", MAXIMIZE, "mean per-column Shannon entropy of S in nats "
                    "(numeric columns binned at the deciles of R)", _entropy),
    SyntheticMetric("copy_rate", MINIMIZE, "share of synthetic rows identical to a row of R",
                    _copy_rate),
    SyntheticMetric("fidelity_distance", MINIMIZE, "mean per-column distance between S and R "
                    "(KS statistic numeric, total variation categorical)", _fidelity_distance),
)

METRIC_NAMES: tuple[str, ...] = tuple(m.name for m in METRICS)


def synthetic_metrics(
    S: pd.DataFrame,
    R: pd.DataFrame,
    U: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    *,
    k: int = 5,
    max_rows: int | None = DEFAULT_MAX_ROWS,
    random_state: int = 0,
) -> dict[str, float]:
    """Score synthetic minority rows ``S`` against the real minority ``R`` and the unseen ``U``.

    Parameters
    ----------
    S, R, U : pandas.DataFrame
        Synthetic, real training and test minority rows; each has the columns
        ``numeric + categorical`` (others are ignored). ``R`` and ``U`` must not be empty.
    numeric, categorical : list of str
        Column roles (the dataset spec's).
    k : int, default 5
        Neighbours for the PRDC radii (Naeem et al. 2020).
    max_rows : int or None, default 2000
        Cap on the rows of each set for the distance-based metrics (seeded subsample, see the
        module docstring); None for no cap.
    random_state : int, default 0
        Seed of the subsample.

    Returns
    -------
    dict of str to float
        The twelve metrics of :data:`METRICS`, in that order; NaN where undefined.
    """
    if not isinstance(k, int | np.integer) or k < 1:
        raise ValueError(f"k={k!r} must be a positive integer (protocol.md uses k=5).")
    if max_rows is not None and (not isinstance(max_rows, int | np.integer) or max_rows < 2):
        raise ValueError(f"max_rows={max_rows!r} must be an integer >= 2, or None for no cap.")
    overlap = set(numeric) & set(categorical)
    if overlap:
        raise ValueError(f"Columns {sorted(overlap)} are listed as both numeric and categorical.")
    for frame, name in ((R, "R"), (U, "U")):
        if len(frame) == 0:
            raise ValueError(
                f"{name} has no rows; the synthetic-data metrics need real training minority "
                "rows (R) and test minority rows (U)."
            )
    sets = Sets(S, R, U, numeric, categorical, int(k), max_rows, random_state)
    # Runs that share an oversampled set (XGBoost and CatBoost on the same rows) share the
    # result; the digest covers everything the metrics read.
    parts = (b"metrics", sets.k, sets.S_enc, sets.R_enc, sets.U_enc, sets.num["S"],
             sets.num["R"], sets.codes["S"], sets.codes["R"])
    return dict(memo(parts, lambda: {m.name: m.compute(sets) for m in METRICS}))


__all__ = ["DEFAULT_MAX_ROWS", "METRICS", "METRIC_NAMES", "MAXIMIZE", "MINIMIZE", "SyntheticMetric",
           "ks_statistic", "synthetic_metrics"]
