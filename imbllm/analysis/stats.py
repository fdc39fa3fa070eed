"""Compare methods across datasets: average ranks, Friedman, Nemenyi, Wilcoxon with Holm.

Demšar (2006) is the recipe: average each method over seeds on each dataset, rank the methods
per dataset (1 = best, ties share the mean rank), test whether the ranks differ at all
(Friedman), then which pairs differ (Nemenyi, and its critical difference), and compare the
proposed method with each baseline (Wilcoxon signed-rank over datasets, Holm-corrected).
The tests come from scipy and scikit-posthocs, Holm's correction from :func:`holm`; this module
only shapes the data and keeps the direction of every metric straight
(:func:`imbllm.metrics.goal`).

Example
-------
>>> import pandas as pd
>>> m = pd.DataFrame({"a": [0.9, 0.8, 0.7], "b": [0.5, 0.6, 0.4]}, index=["d1", "d2", "d3"])
>>> average_ranks(m, "maximize").to_dict()
{'a': 1.0, 'b': 2.0}
"""

from __future__ import annotations

import logging
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from scipy import stats

from imbllm.metrics import MAXIMIZE, MINIMIZE

log = logging.getLogger(__name__)

#: Values equal at the precision the tables report (4 decimals, as the paper) tie in ranks,
#: so that the ranks agree with the tables a reader sees.
RANK_DECIMALS = 4


def seed_means(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Datasets x methods: ``metric`` averaged over seeds (and any other key left in ``runs``)."""
    if metric not in runs.columns:
        raise KeyError(f"runs have no column {metric!r}; columns are {list(runs.columns)}.")
    return runs.groupby(["dataset", "method"])[metric].mean().unstack("method")


def complete_block(matrix: pd.DataFrame, keep: str | None = None) -> tuple[pd.DataFrame, list[str]]:
    """Drop rows and columns with missing values until the matrix is complete.

    Rank tests need every method on every dataset. Greedily drop whichever dataset (row) or
    method (column) has the largest share of missing cells, never the column ``keep`` (the
    method under study; a dataset it lacks goes instead). Returns the block and one sentence
    per drop, for the report.
    """
    block, notes = matrix.copy(), []
    while block.size and block.isna().to_numpy().any():
        col_share = block.isna().mean(axis=0)
        if keep in col_share.index:
            col_share[keep] = -1.0
        row_share = block.isna().mean(axis=1)
        if keep in block.columns and block[keep].isna().any():
            row_share = row_share.where(block[keep].isna(), -1.0)
        if col_share.max() > row_share.max():
            name = col_share.idxmax()
            notes.append(f"method {name} left out: no value on {int(block[name].isna().sum())} "
                         f"of {len(block)} datasets")
            block = block.drop(columns=name)
        else:
            name = row_share.idxmax()
            missing = block.columns[block.loc[name].isna()].tolist()
            notes.append(f"dataset {name} left out: no value for {', '.join(map(str, missing))}")
            block = block.drop(index=name)
    return block, notes


def rank_matrix(matrix: pd.DataFrame, goal: str) -> pd.DataFrame:
    """Per-dataset ranks, 1 = best; ties (at :data:`RANK_DECIMALS`) share the mean rank."""
    _check_goal(goal)
    return matrix.round(RANK_DECIMALS).rank(axis=1, ascending=goal == MINIMIZE, method="average")


def average_ranks(matrix: pd.DataFrame, goal: str) -> pd.Series:
    """Mean rank of each method over datasets, best first."""
    return rank_matrix(matrix, goal).mean(axis=0).sort_values(kind="stable")


@dataclass
class Friedman:
    """Friedman test over a complete datasets x methods block."""

    statistic: float
    pvalue: float
    n_datasets: int
    n_methods: int


def friedman(matrix: pd.DataFrame) -> Friedman:
    """Friedman chi-square test (scipy); NaN when fewer than 3 methods or 2 datasets."""
    n, k = matrix.shape
    if k < 3 or n < 2:
        return Friedman(np.nan, np.nan, n, k)
    # Rank on the rounded values, as the ranks do; the direction does not change the statistic.
    values = matrix.round(RANK_DECIMALS).to_numpy()
    if np.all(values == values[:, :1]):
        return Friedman(0.0, 1.0, n, k)  # every method ties on every dataset
    res = stats.friedmanchisquare(*values.T)
    return Friedman(float(res.statistic), float(res.pvalue), n, k)


def nemenyi(matrix: pd.DataFrame) -> pd.DataFrame:
    """Pairwise Nemenyi p-values after Friedman (scikit-posthocs), methods x methods."""
    import scikit_posthocs as sp

    p = sp.posthoc_nemenyi_friedman(matrix.round(RANK_DECIMALS).to_numpy())
    p.index = p.columns = list(matrix.columns)
    return p


def critical_difference(n_methods: int, n_datasets: int, alpha: float = 0.05) -> float:
    """Nemenyi critical difference of average ranks, ``q_alpha sqrt(k (k + 1) / (6 N))``.

    ``q_alpha`` is the studentised range quantile over ``sqrt(2)`` (Demšar 2006, Table 5).
    """
    if n_methods < 2 or n_datasets < 1:
        return np.nan
    q = stats.studentized_range.ppf(1 - alpha, n_methods, np.inf) / np.sqrt(2)
    return float(q * np.sqrt(n_methods * (n_methods + 1) / (6.0 * n_datasets)))


def wilcoxon_holm(
    matrix: pd.DataFrame, reference: str, goal: str, *, alpha: float = 0.05
) -> pd.DataFrame:
    """``reference`` against every other method: Wilcoxon signed-rank over datasets, Holm.

    Differences are oriented by the goal (positive: ``reference`` is better). Datasets where
    either value is missing are skipped for that pair. A pair whose differences are all zero
    gets p = 1. Columns: ``baseline, n, wins, ties, losses, median_diff, rank_biserial,
    statistic, p, p_holm, significant`` (``significant``: ``p_holm < alpha``;
    ``rank_biserial``: :func:`rank_biserial`, the effect size beside the p-value).
    """
    _check_goal(goal)
    if reference not in matrix.columns:
        raise KeyError(f"reference method {reference!r} is not among {list(matrix.columns)}.")
    sign = 1.0 if goal == MAXIMIZE else -1.0
    rows = []
    for other in [c for c in matrix.columns if c != reference]:
        pair = matrix[[reference, other]].dropna().round(RANK_DECIMALS)
        d = sign * (pair[reference] - pair[other]).to_numpy()
        row = {"baseline": other, "n": len(d), "wins": int((d > 0).sum()),
               "ties": int((d == 0).sum()), "losses": int((d < 0).sum()),
               "median_diff": float(np.median(d)) if len(d) else np.nan,
               "rank_biserial": rank_biserial(d)}
        if len(d) == 0:
            row.update(statistic=np.nan, p=np.nan)
        elif np.all(d == 0):
            row.update(statistic=np.nan, p=1.0)
        else:
            res = stats.wilcoxon(d, zero_method="wilcox", alternative="two-sided")
            row.update(statistic=float(res.statistic), p=float(res.pvalue))
        rows.append(row)
    out = pd.DataFrame(rows, columns=["baseline", "n", "wins", "ties", "losses", "median_diff",
                                      "rank_biserial", "statistic", "p"])
    out["p_holm"] = np.nan
    tested = out["p"].notna()
    if tested.any():
        out.loc[tested, "p_holm"] = holm(out.loc[tested, "p"].to_numpy())
    out["significant"] = out["p_holm"] < alpha
    return out


def rank_biserial(d: np.ndarray) -> float:
    """Matched-pairs rank-biserial correlation of paired differences ``d`` (Kerby 2014): the
    share of the rank sum of ``|d|`` on positive differences minus that on negative ones,
    zeros dropped as the Wilcoxon test drops them. +1: every nonzero difference is positive;
    0 when all are zero; NaN without pairs.

    >>> rank_biserial(np.array([0.3, 0.1, -0.2]))  # ranks 3 + 1 against 2, of 6
    0.3333333333333333
    """
    d = np.asarray(d, dtype=float)
    if d.size == 0:
        return float("nan")
    d = d[d != 0]
    if d.size == 0:
        return 0.0
    r = stats.rankdata(np.abs(d))
    return float((r[d > 0].sum() - r[d < 0].sum()) / r.sum())


def holm(p: np.ndarray) -> np.ndarray:
    """Holm's step-down adjusted p-values, in the order given.

    The k-th smallest of m p-values is multiplied by ``m - k + 1``, made non-decreasing and
    capped at 1: the operations of statsmodels' ``multipletests(method="holm")``, which also
    runs a full garbage collection per call (seconds over a report's thirty tests).

    >>> holm(np.array([0.01, 0.04, 0.03])).tolist()
    [0.03, 0.06, 0.06]
    """
    order = np.argsort(p)
    adjusted = np.maximum.accumulate(p[order] * np.arange(len(p), 0, -1))
    adjusted[adjusted > 1] = 1
    out = np.empty_like(adjusted)
    out[order] = adjusted
    return out


@dataclass
class Comparison:
    """Everything the report says about one metric."""

    metric: str
    goal: str
    matrix: pd.DataFrame  # complete block, datasets x methods, seed means
    ranks: pd.Series  # average ranks, best first
    friedman: Friedman
    nemenyi: pd.DataFrame | None
    cd: float
    reference: str | None
    wilcoxon: pd.DataFrame | None
    notes: list[str] = field(default_factory=list)
    alpha: float = 0.05


def compare(
    runs: pd.DataFrame, metric: str, goal: str, *, reference: str | None = None,
    alpha: float = 0.05,
) -> Comparison:
    """Seed means, complete block, ranks, Friedman, Nemenyi, CD and (with a reference) Wilcoxon."""
    block, notes = complete_block(seed_means(runs, metric), keep=reference)
    ranks = average_ranks(block, goal)
    fr = friedman(block)
    nem = nemenyi(block) if block.shape[1] >= 3 and block.shape[0] >= 2 else None
    ref = reference if reference in block.columns else None
    wil = wilcoxon_holm(block, ref, goal, alpha=alpha) if ref and block.shape[1] >= 2 else None
    return Comparison(metric, goal, block, ranks, fr, nem,
                      critical_difference(block.shape[1], block.shape[0], alpha), ref, wil,
                      notes, alpha)


def _check_goal(goal: str) -> None:
    if goal not in (MINIMIZE, MAXIMIZE):
        raise ValueError(f"goal={goal!r} must be {MINIMIZE!r} or {MAXIMIZE!r}.")
