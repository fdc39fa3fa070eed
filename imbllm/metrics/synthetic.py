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
``density``, ``pairwise_distance``) build ``|U| x |S|``, ``|S| x |S|`` and ``|U| x |U|``
matrices. With ``max_rows`` set, each of ``S``, ``R`` and ``U`` that has more rows is replaced by
a subsample of ``max_rows`` rows drawn without replacement by
``numpy.random.default_rng(random_state)`` (in the order S, R, U), so the result is
reproducible and a run on adult (``|S|`` ≈ 17,000) costs a fraction of a second. The
count-based metrics (``unique_ratio``, ``copy_rate``, ``entropy``, ``fidelity_distance``) are
cheap and always use every row. ``max_rows=None`` computes everything exactly; memory is then
about ``8 |U| |S|`` bytes.

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

import logging
from collections.abc import Callable
from dataclasses import dataclass
from functools import cached_property

import numpy as np
import pandas as pd
from scipy.stats import entropy as shannon_entropy
from scipy.stats import ks_2samp

from imbllm.metrics.gower import GowerEncoder, gower_cdist

log = logging.getLogger(__name__)

MINIMIZE, MAXIMIZE = "minimize", "maximize"


@dataclass(frozen=True)
class SyntheticMetric:
    """One synthetic-data metric: its logged name, its goal and how it is computed."""

    name: str
    goal: str
    description: str
    compute: Callable[[_Sets], float]


class _Sets:
    """S, R, U normalised and encoded once; distance matrices built on first use and shared."""

    def __init__(self, S, R, U, numeric, categorical, k, max_rows, random_state):
        cols = list(numeric) + list(categorical)
        self.numeric, self.categorical, self.k = list(numeric), list(categorical), k
        self.S, self.R, self.U = (_normalise(f, numeric, categorical, n) for f, n in
                                  ((S, "S"), (R, "R"), (U, "U")))
        enc = GowerEncoder(numeric, categorical).fit(self.R, self.U)
        rng = np.random.default_rng(random_state)
        self.S_enc, self.R_enc, self.U_enc = (
            enc.transform(_cap(f, max_rows, rng, name)[cols])
            for f, name in ((self.S, "S"), (self.R, "R"), (self.U, "U"))
        )

    # -- distance matrices ------------------------------------------------------------
    @cached_property
    def d_us(self) -> np.ndarray:
        return gower_cdist(self.U_enc, self.S_enc)

    @cached_property
    def dum_reference(self) -> float:
        return float(gower_cdist(self.U_enc, self.R_enc).min(axis=1).mean())

    @cached_property
    def d_ss(self) -> np.ndarray:
        # The full square matrix (not scipy's condensed pairs): the k-NN radii need rows, and
        # expanding the condensed form costs more than computing both halves.
        return gower_cdist(self.S_enc, self.S_enc)

    @cached_property
    def radius_u(self) -> np.ndarray | None:
        return _knn_radius(gower_cdist(self.U_enc, self.U_enc), self.k, "U")

    @cached_property
    def radius_s(self) -> np.ndarray | None:
        return _knn_radius(self.d_ss, self.k, "S")

    @cached_property
    def u_in_own_ball(self) -> np.ndarray:
        # [i, j]: synthetic row j lies in the k-NN ball of test row i. Closed balls (<=), not
        # the strict < of the reference PRDC code: on discrete columns many radii are 0, and a
        # copy of a real row must count as inside its ball (identical sets score 1).
        return self.d_us <= self.radius_u[:, None]

    @property
    def empty(self) -> bool:
        return len(self.S) == 0


# -- metric computations ---------------------------------------------------------------
def _dum(s: _Sets) -> float:
    return float(s.d_us.min(axis=1).mean()) if not s.empty else np.nan


def _dum_reference(s: _Sets) -> float:
    return s.dum_reference


def _dum_ratio(s: _Sets) -> float:
    dum, ref = _dum(s), s.dum_reference
    return float(dum / ref) if np.isfinite(dum) and ref > 0 else np.nan


def _coverage(s: _Sets) -> float:
    if s.empty or s.radius_u is None:
        return np.nan
    return float((s.d_us.min(axis=1) <= s.radius_u).mean())


def _recall(s: _Sets) -> float:
    if s.empty or s.radius_s is None:
        return np.nan
    return float((s.d_us <= s.radius_s[None, :]).any(axis=1).mean())


def _precision(s: _Sets) -> float:
    if s.empty or s.radius_u is None:
        return np.nan
    return float(s.u_in_own_ball.any(axis=0).mean())


def _density(s: _Sets) -> float:
    if s.empty or s.radius_u is None:
        return np.nan
    k_real = min(s.k, len(s.U_enc) - 1)
    return float(s.u_in_own_ball.sum(axis=0).mean() / k_real)


def _pairwise_distance(s: _Sets) -> float:
    n = len(s.S_enc)
    # The diagonal is zero, so the sum over the square matrix counts each distinct pair twice.
    return float(s.d_ss.sum() / (n * (n - 1))) if n >= 2 else np.nan


def _unique_ratio(s: _Sets) -> float:
    if s.empty:
        return np.nan
    return float(_row_keys(s.S).nunique() / len(s.S))


def _copy_rate(s: _Sets) -> float:
    if s.empty:
        return np.nan
    return float(_row_keys(s.S).isin(set(_row_keys(s.R))).mean())


def _entropy(s: _Sets) -> float:
    if s.empty:
        return np.nan
    values = []
    for c in s.numeric:
        # Bin edges are the deciles of R, so that every method is binned alike; values beyond
        # R's range fall in the outer bins.
        edges = np.unique(np.quantile(s.R[c].to_numpy(), np.linspace(0.1, 0.9, 9)))
        counts = np.bincount(np.searchsorted(edges, s.S[c].to_numpy(), side="right"))
        values.append(shannon_entropy(counts))
    for c in s.categorical:
        values.append(shannon_entropy(s.S[c].value_counts().to_numpy()))
    return float(np.mean(values))


def _fidelity_distance(s: _Sets) -> float:
    if s.empty:
        return np.nan
    values = [float(ks_2samp(s.S[c], s.R[c]).statistic) for c in s.numeric]
    for c in s.categorical:
        p = s.S[c].value_counts(normalize=True)
        q = s.R[c].value_counts(normalize=True)
        values.append(0.5 * float(p.sub(q, fill_value=0.0).abs().sum()))
    return float(np.mean(values))


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
    max_rows: int | None = 2000,
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
    sets = _Sets(S, R, U, numeric, categorical, int(k), max_rows, random_state)
    return {m.name: m.compute(sets) for m in METRICS}


# -- helpers ---------------------------------------------------------------------------
def _normalise(X: pd.DataFrame, numeric, categorical, name: str) -> pd.DataFrame:
    """Numeric columns as float64 (``+ 0.0`` folds -0.0 into 0.0), categorical as str."""
    missing = [c for c in list(numeric) + list(categorical) if c not in X.columns]
    if missing:
        raise ValueError(f"{name} lacks columns {missing}; S, R and U need the same columns.")
    out = pd.DataFrame(index=pd.RangeIndex(len(X)))
    for c in numeric:
        try:
            out[c] = pd.to_numeric(X[c]).to_numpy(dtype=float) + 0.0
        except (TypeError, ValueError) as err:
            raise ValueError(
                f"Column {c!r} of {name} is declared numeric but holds non-numeric values "
                f"({err}); cast it or declare it categorical."
            ) from err
    for c in categorical:
        col = X[c]
        # astype(str) walks every cell in Python; skip it when the column already holds str.
        out[c] = col.to_numpy() if pd.api.types.is_string_dtype(col) else col.astype(str).to_numpy()
    return out


def _cap(X: pd.DataFrame, max_rows: int | None, rng: np.random.Generator, name: str):
    if max_rows is None or len(X) <= max_rows:
        return X
    log.debug("synthetic metrics: %s subsampled from %d to %d rows", name, len(X), max_rows)
    return X.iloc[np.sort(rng.choice(len(X), size=max_rows, replace=False))]


def _knn_radius(D: np.ndarray, k: int, name: str) -> np.ndarray | None:
    """Distance from each row to its k-th nearest other row (``D`` square, zero diagonal)."""
    n = D.shape[0]
    if n < 2:
        return None
    if n < k + 1:
        log.warning("synthetic metrics: %s has %d rows, fewer than k + 1 = %d; using k = %d "
                    "for its neighbour radii.", name, n, k + 1, n - 1)
        k = n - 1
    # Column k of the partition is the (k + 1)-th smallest, i.e. the k-th once self is skipped.
    return np.partition(D, k, axis=1)[:, k]


def _row_keys(X: pd.DataFrame) -> pd.Series:
    """One 64-bit hash per row: equal rows get equal keys (collisions are ~2^-64 per pair)."""
    return pd.util.hash_pandas_object(X, index=False)


__all__ = ["METRICS", "METRIC_NAMES", "MAXIMIZE", "MINIMIZE", "SyntheticMetric",
           "synthetic_metrics"]
