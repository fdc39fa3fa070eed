"""Rank statistics across datasets: directions, known values, and the planted fake runs."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from fake_runs import make_runs
from scipy import stats

from imbllm.analysis.stats import (
    average_ranks,
    compare,
    complete_block,
    critical_difference,
    friedman,
    nemenyi,
    seed_means,
    wilcoxon_holm,
)
from imbllm.metrics import GOALS, goal


def test_goals_cover_every_logged_metric_with_the_right_direction():
    assert goal("dum") == goal("fidelity_distance") == goal("copy_rate") == "minimize"
    assert goal("coverage") == goal("f1_minority") == goal("auc_published") == "maximize"
    assert len(GOALS) == 22
    with pytest.raises(KeyError, match="No goal is known for metric 'nope'"):
        goal("nope")


def test_average_ranks_follow_the_goal_and_share_ties():
    m = pd.DataFrame({"a": [0.9, 0.5, 0.70001], "b": [0.8, 0.6, 0.7], "c": [0.1, 0.1, 0.1]})
    assert average_ranks(m, "maximize").to_dict() == {"a": pytest.approx(1.5),
                                                     "b": pytest.approx(1.5), "c": 3.0}
    # Minimising reverses the order; the 4th-decimal tie on row 3 still shares ranks 2.5.
    assert average_ranks(m, "minimize").to_dict() == {"c": 1.0, "a": pytest.approx(2.5),
                                                     "b": pytest.approx(2.5)}
    with pytest.raises(ValueError, match="goal='max' must be"):
        average_ranks(m, "max")


def test_friedman_on_a_consistent_ordering_is_n_times_k_minus_one():
    n, k = 6, 4
    m = pd.DataFrame(np.tile(np.arange(k, dtype=float), (n, 1)) + np.arange(n)[:, None])
    res = friedman(m)
    assert res.statistic == pytest.approx(n * (k - 1))
    assert res.pvalue == pytest.approx(stats.chi2.sf(n * (k - 1), k - 1))
    assert np.isnan(friedman(m.iloc[:, :2]).pvalue)  # two methods: no Friedman test
    assert friedman(pd.DataFrame(np.ones((5, 3)))).pvalue == 1.0


@pytest.mark.parametrize("k, q", [(2, 1.960), (4, 2.569), (10, 3.164)])
def test_critical_difference_matches_demsar_table(k, q):
    assert critical_difference(k, 10) == pytest.approx(q * np.sqrt(k * (k + 1) / 60), abs=2e-3)


def test_nemenyi_is_symmetric_and_separates_far_ranks():
    rng = np.random.default_rng(0)
    m = pd.DataFrame({"good": 1 + rng.normal(0, 0.01, 12), "mid": rng.normal(0, 0.01, 12),
                      "bad": -1 + rng.normal(0, 0.01, 12)})
    p = nemenyi(m)
    assert list(p.columns) == list(p.index) == ["good", "mid", "bad"]
    np.testing.assert_allclose(p.to_numpy(), p.to_numpy().T)
    assert p.loc["good", "bad"] < 0.001 < p.loc["good", "mid"]


def test_wilcoxon_holm_by_hand():
    n = 10
    m = pd.DataFrame({"ref": np.linspace(0.5, 0.9, n), "worse": np.linspace(0.4, 0.8, n),
                      "same": np.linspace(0.5, 0.9, n)})
    w = wilcoxon_holm(m, "ref", "maximize").set_index("baseline")
    # Ten wins out of ten: the exact two-sided p is 2 / 2^10; Holm doubles the smallest of two.
    assert (w.loc["worse", "wins"], w.loc["worse", "losses"]) == (10, 0)
    assert w.loc["worse", "p"] == pytest.approx(2 / 2**10)
    assert w.loc["worse", "p_holm"] == pytest.approx(4 / 2**10)
    assert w.loc["same", "ties"] == 10 and w.loc["same", "p"] == 1.0
    assert bool(w.loc["worse", "significant"]) and not bool(w.loc["same", "significant"])
    # The same numbers with "lower is better": the reference now loses every dataset.
    w_min = wilcoxon_holm(m, "ref", "minimize").set_index("baseline")
    assert w_min.loc["worse", "losses"] == 10 and w_min.loc["worse", "median_diff"] < 0
    with pytest.raises(KeyError, match="reference method 'imbllm' is not among"):
        wilcoxon_holm(m, "imbllm", "maximize")


def test_complete_block_drops_sparse_methods_and_keeps_the_reference():
    m = pd.DataFrame({"ref": [1, 2, np.nan, 4.0], "a": [1, 2, 3, 4.0],
                      "sparse": [np.nan, np.nan, np.nan, 1.0]}, index=list("wxyz"))
    block, notes = complete_block(m, keep="ref")
    assert list(block.columns) == ["ref", "a"] and list(block.index) == ["w", "x", "z"]
    assert notes == ["method sparse left out: no value on 3 of 4 datasets",
                     "dataset y left out: no value for ref"]


def test_compare_on_planted_runs():
    runs = make_runs()
    sl = runs[(runs["protocol"] == "corrected") & (runs["classifier"] == "xgboost")
              & (runs["method"] != "balance")]
    assert seed_means(sl, "f1_minority").shape == (10, 5)
    c = compare(sl, "f1_minority", "maximize", reference="imbllm")
    assert list(c.ranks.index) == ["imbllm", "smote_nc", "tvae", "ctgan", "standard"]
    assert c.friedman.pvalue < 1e-6 and c.nemenyi.shape == (5, 5)
    assert c.wilcoxon["significant"].all() and (c.wilcoxon["wins"] == 10).all()
    d = compare(sl[sl["dum"].notna()], "dum", "minimize", reference="imbllm")
    assert list(d.ranks.index) == ["smote_nc", "imbllm", "tvae", "ctgan"]
    w = d.wilcoxon.set_index("baseline")
    assert w.loc["smote_nc", "losses"] == 10 and w.loc["ctgan", "wins"] == 10
