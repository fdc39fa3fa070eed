"""Known-answer tests of the synthetic-data metrics (protocol.md §4) and the Gower distance."""

from __future__ import annotations

import logging
import math

import numpy as np
import pandas as pd
import pytest

from imbllm.metrics.gower import GowerEncoder, gower_cdist
from imbllm.metrics.synthetic import (
    MAXIMIZE,
    METRIC_NAMES,
    METRICS,
    MINIMIZE,
    ks_statistic,
    synthetic_metrics,
)

EXPECTED_NAMES = (
    "dum", "dum_reference", "dum_ratio", "coverage", "recall", "precision", "density",
    "pairwise_distance", "unique_ratio", "entropy", "copy_rate", "fidelity_distance",
)
S_BASED = [n for n in EXPECTED_NAMES if n != "dum_reference"]


def mixed(n: int, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "x": rng.normal(size=n),
        "z": rng.integers(0, 50, size=n),
        "c": rng.choice(["a", "b", "c"], size=n),
        "d": rng.choice(["u", "v"], size=n),
    })


NUM, CAT = ["x", "z"], ["c", "d"]


def test_names_and_goals_come_from_one_table():
    assert METRIC_NAMES == EXPECTED_NAMES
    goals = {m.name: m.goal for m in METRICS}
    assert {n for n, g in goals.items() if g == MINIMIZE} == {
        "dum", "dum_reference", "dum_ratio", "copy_rate", "fidelity_distance"}
    assert all(g in (MINIMIZE, MAXIMIZE) for g in goals.values())


def test_identical_sets():
    R = mixed(40)
    m = synthetic_metrics(R, R, R, NUM, CAT)
    assert list(m) == list(EXPECTED_NAMES)
    assert m["dum"] == 0.0 and m["dum_reference"] == 0.0
    assert math.isnan(m["dum_ratio"])  # 0 / 0 is undefined, not 1
    assert m["coverage"] == m["recall"] == m["precision"] == 1.0
    assert m["copy_rate"] == 1.0 and m["unique_ratio"] == 1.0
    assert m["fidelity_distance"] == 0.0


def test_far_away_set():
    R, U = mixed(30, 1), mixed(30, 2)
    S = pd.DataFrame({"x": 1e3, "z": 10**4, "c": "zz", "d": "yy"}, index=range(25))
    m = synthetic_metrics(S, R, U, NUM, CAT)
    both = pd.concat([R, U])
    # Every cell differs: each numeric cell by (value - u) / range, each categorical by 1.
    expected = np.mean(
        ((1e3 - U["x"]) / np.ptp(both["x"]) + (10**4 - U["z"]) / np.ptp(both["z"]) + 2) / 4)
    assert m["dum"] == pytest.approx(expected)
    assert m["dum_ratio"] > 100
    assert m["coverage"] == m["recall"] == m["precision"] == m["density"] == 0.0
    assert m["copy_rate"] == 0.0 and m["fidelity_distance"] == 1.0
    assert m["pairwise_distance"] == 0.0 and m["unique_ratio"] == pytest.approx(1 / 25)


def test_duplicated_rows_give_unique_ratio_and_pairwise_distance():
    R = mixed(20)
    S = pd.concat([R.iloc[:2]] * 3, ignore_index=True)  # 2 distinct rows, 6 in all
    m = synthetic_metrics(S, R, R, NUM, CAT)
    assert m["unique_ratio"] == pytest.approx(2 / 6)
    assert m["copy_rate"] == 1.0
    d01 = gower_cdist(*(GowerEncoder(NUM, CAT).fit(R).transform(R.iloc[[i]]) for i in (0, 1)))
    # 15 distinct pairs, 9 of them across the two distinct rows.
    assert m["pairwise_distance"] == pytest.approx(9 / 15 * d01[0, 0])


def test_hand_worked_table():
    R = pd.DataFrame({"x": [0, 10], "c": ["a", "b"]})
    U = pd.DataFrame({"x": [2, 8], "c": ["a", "a"]})
    S = pd.DataFrame({"x": [1, 9, 1], "c": ["a", "b", "a"]})
    m = synthetic_metrics(S, R, U, ["x"], ["c"], k=1)
    # Range of x over R ∪ U is 10; two features.
    assert m["dum"] == pytest.approx((0.05 + 0.35) / 2)
    assert m["dum_reference"] == pytest.approx((0.1 + 0.4) / 2)
    assert m["dum_ratio"] == pytest.approx(0.8)
    assert m["pairwise_distance"] == pytest.approx((0.9 + 0.0 + 0.9) / 3)
    assert m["unique_ratio"] == pytest.approx(2 / 3) and m["copy_rate"] == 0.0
    h = -(2 / 3 * math.log(2 / 3) + 1 / 3 * math.log(1 / 3))
    assert m["entropy"] == pytest.approx(h)  # x lands in two decile bins of R, 2:1, as c does
    assert m["fidelity_distance"] == pytest.approx((0.5 + 1 / 6) / 2)  # KS 0.5, TV 1/6
    # PRDC with k = 1: U radii 0.3; S radii 0, 0.9, 0.
    assert m["coverage"] == pytest.approx(0.5)
    assert m["precision"] == pytest.approx(2 / 3)
    assert m["density"] == pytest.approx(2 / 3)
    assert m["recall"] == pytest.approx(1.0)


def test_constant_column_is_compared_by_equality():
    R = pd.DataFrame({"x": [0.0, 4.0], "k": [7, 7]})
    U = pd.DataFrame({"x": [2.0], "k": [7]})
    same = synthetic_metrics(pd.DataFrame({"x": [2.0], "k": [7]}), R, U, ["x", "k"], [])
    other = synthetic_metrics(pd.DataFrame({"x": [2.0], "k": [8]}), R, U, ["x", "k"], [])
    far = synthetic_metrics(pd.DataFrame({"x": [2.0], "k": [700]}), R, U, ["x", "k"], [])
    assert same["dum"] == 0.0
    assert other["dum"] == far["dum"] == pytest.approx(0.5)  # 1 of 2 features differs
    assert same["copy_rate"] == 0.0  # (2, 7) is in U, not in R


def test_numeric_only_matches_scaled_manhattan():
    R, U, S = (mixed(30, s)[NUM] for s in (1, 2, 3))
    m = synthetic_metrics(S, R, U, NUM, [])
    both = pd.concat([R, U])
    scaled = [f.to_numpy(float) / np.ptp(both.to_numpy(float), axis=0) for f in (U, S)]
    d = np.abs(scaled[0][:, None, :] - scaled[1][None, :, :]).sum(-1) / 2
    assert m["dum"] == pytest.approx(d.min(axis=1).mean())


def test_categorical_only_counts_mismatches():
    R = pd.DataFrame({"c": ["a", "a", "b"], "d": ["u", "v", "u"]})
    U = pd.DataFrame({"c": ["b", "c"], "d": ["v", "v"]})
    S = pd.DataFrame({"c": ["b", "a"], "d": ["u", "u"]})
    m = synthetic_metrics(S, R, U, [], ["c", "d"])
    # (b,v) -> (b,u) 1/2; (c,v) -> both rows 1: dum = 3/4. Reference: each -> (a,v) at 1/2.
    assert m["dum"] == pytest.approx(0.75)
    assert m["dum_reference"] == pytest.approx(0.5)
    assert m["copy_rate"] == pytest.approx(1.0)  # (b,u) and (a,u) are both rows of R
    assert m["pairwise_distance"] == pytest.approx(0.5)


def test_prdc_matches_brute_force_naeem_definitions():
    rng = np.random.default_rng(5)
    U = pd.DataFrame({"x": rng.normal(size=40), "y": rng.normal(size=40)})
    S = pd.DataFrame({"x": rng.normal(0.5, size=60), "y": rng.normal(size=60)})
    R = U.iloc[:10]
    k = 3
    m = synthetic_metrics(S, R, U, ["x", "y"], [], k=k)
    scale = np.ptp(pd.concat([R, U]).to_numpy(), axis=0)

    def dist(a, b):
        return np.abs((a[:, None] - b[None]) / scale).sum(-1) / 2

    u, s = U.to_numpy(), S.to_numpy()
    r_u = np.sort(dist(u, u), axis=1)[:, k]
    r_s = np.sort(dist(s, s), axis=1)[:, k]
    d = dist(u, s)
    assert m["precision"] == pytest.approx(np.mean([(d[:, j] <= r_u).any() for j in range(60)]))
    assert m["recall"] == pytest.approx(np.mean([(d[i] <= r_s).any() for i in range(40)]))
    assert m["density"] == pytest.approx(np.mean((d <= r_u[:, None]).sum(0)) / k)
    assert m["coverage"] == pytest.approx(np.mean(d.min(1) <= r_u))


def test_empty_synthetic_set_gives_nan_except_reference():
    R, U = mixed(20, 1), mixed(20, 2)
    m = synthetic_metrics(R.iloc[:0], R, U, NUM, CAT)
    assert all(math.isnan(m[n]) for n in S_BASED)
    assert np.isfinite(m["dum_reference"]) and m["dum_reference"] > 0


def test_fewer_rows_than_k_plus_one(caplog):
    R, U, S = mixed(3, 1), mixed(3, 2), mixed(4, 3)
    with caplog.at_level(logging.WARNING, logger="imbllm.metrics.synthetic"):
        m = synthetic_metrics(S, R, U, NUM, CAT, k=5)
    assert "fewer than k + 1" in caplog.text
    assert all(np.isfinite(m[n]) for n in S_BASED if n != "dum_ratio")
    one = synthetic_metrics(S.iloc[:1], R, U.iloc[:1], NUM, CAT)
    assert math.isnan(one["coverage"]) and math.isnan(one["recall"])
    assert math.isnan(one["pairwise_distance"]) and np.isfinite(one["dum"])


def test_cap_is_seeded_and_leaves_counts_alone():
    R, U, S = mixed(40, 1), mixed(40, 2), mixed(300, 3)
    exact = synthetic_metrics(S, R, U, NUM, CAT, max_rows=None)
    assert synthetic_metrics(S, R, U, NUM, CAT, max_rows=1000) == exact  # nothing capped
    a = synthetic_metrics(S, R, U, NUM, CAT, max_rows=50, random_state=1)
    assert a == synthetic_metrics(S, R, U, NUM, CAT, max_rows=50, random_state=1)
    assert a != synthetic_metrics(S, R, U, NUM, CAT, max_rows=50, random_state=2)
    for name in ("unique_ratio", "copy_rate", "entropy", "fidelity_distance"):
        assert a[name] == exact[name]
    # Only S exceeds the cap: the reference is exact, and dum never samples S (a subset of S
    # would only be farther from U), so it stays exact too while the PRDC values move.
    assert a["dum_reference"] == exact["dum_reference"]
    assert a["dum"] == exact["dum"]
    assert a["coverage"] != exact["coverage"] or a["precision"] != exact["precision"]


def test_dtypes_do_not_change_the_answer():
    R, U, S = mixed(30, 1), mixed(30, 2), mixed(30, 3)
    S2 = S.astype({"c": "category", "z": float})
    assert synthetic_metrics(S2, R, U, NUM, CAT) == synthetic_metrics(S, R, U, NUM, CAT)


def test_unseen_category_matches_nothing_but_itself():
    R = pd.DataFrame({"c": ["a", "b"]})
    enc = GowerEncoder([], ["c"]).fit(R)
    S1, S2 = enc.transform(pd.DataFrame({"c": ["zz", "a"]})), enc.transform(
        pd.DataFrame({"c": ["zz"]}))
    np.testing.assert_array_equal(gower_cdist(S1, enc.transform(R)), [[1, 1], [0, 1]])
    np.testing.assert_array_equal(gower_cdist(S1, S2), [[0], [1]])


@pytest.mark.parametrize(
    "kwargs, match",
    [({"k": 0}, "k=0 must be a positive integer"),
     ({"max_rows": 1}, "max_rows=1 must be an integer >= 2")],
)
def test_bad_arguments_are_named(kwargs, match):
    R = mixed(10)
    with pytest.raises(ValueError, match=match):
        synthetic_metrics(R, R, R, NUM, CAT, **kwargs)


def test_bad_inputs_are_named():
    R = mixed(10)
    with pytest.raises(ValueError, match="U has no rows"):
        synthetic_metrics(R, R, R.iloc[:0], NUM, CAT)
    with pytest.raises(ValueError, match=r"S lacks columns \['d'\]"):
        synthetic_metrics(R.drop(columns="d"), R, R, NUM, CAT)
    with pytest.raises(ValueError, match="both numeric and categorical"):
        synthetic_metrics(R, R, R, NUM, CAT + ["x"])
    with pytest.raises(ValueError, match=r"Columns \['c'\] of S are declared numeric"):
        synthetic_metrics(R, R, R, NUM + ["c"], ["d"])


def test_blocks_do_not_change_the_answer(monkeypatch):
    import imbllm.metrics.neighbours as nb

    R, U, S = mixed(30, 1), mixed(45, 2), mixed(70, 3)
    whole = synthetic_metrics(S, R, U, NUM, CAT)
    monkeypatch.setattr(nb, "BLOCK_ENTRIES", 7)  # blocks of a row or two
    assert synthetic_metrics(S, R, U, NUM, CAT) == pytest.approx(whole, rel=1e-12)


def test_ks_statistic_matches_scipy():
    from scipy.stats import ks_2samp

    rng = np.random.default_rng(3)
    for a, b in ((rng.normal(size=50), rng.normal(0.3, size=70)),
                 (rng.integers(0, 4, 40).astype(float), rng.integers(0, 5, 90).astype(float))):
        assert ks_statistic(a, b) == pytest.approx(ks_2samp(a, b).statistic)


def test_memo_shares_work_without_changing_results():
    import imbllm.metrics.sets as sm

    R, U = mixed(30, 1), mixed(40, 2)
    S1, S2 = mixed(50, 3), mixed(50, 4)
    sm._REAL_MEMO.clear()
    fresh = [synthetic_metrics(S, R, U, NUM, CAT) for S in (S1, S2)]
    # U's radii and dum_reference once (shared by S1 and S2), one whole result per S.
    assert len(sm._REAL_MEMO) == 4
    again = [synthetic_metrics(S, R, U, NUM, CAT) for S in (S1, S2)]
    assert again == fresh and len(sm._REAL_MEMO) == 4
    again[0]["dum"] = -1.0  # a caller changing its dict must not change the memo
    assert synthetic_metrics(S1, R, U, NUM, CAT) == fresh[0]
    # A different k is a different entry (new radii and result; dum_reference is shared).
    synthetic_metrics(S1, R, U, NUM, CAT, k=2)
    assert len(sm._REAL_MEMO) == 6
    other = synthetic_metrics(S1, R, U.iloc[:30], NUM, CAT)
    sm._REAL_MEMO.clear()
    assert synthetic_metrics(S1, R, U.iloc[:30], NUM, CAT) == other


def test_dum_ignores_duplicated_synthetic_rows():
    R, U, S = mixed(30, 1), mixed(30, 2), mixed(40, 3)
    doubled = pd.concat([S, S, S.iloc[:7]], ignore_index=True)
    a = synthetic_metrics(S, R, U, NUM, CAT)
    b = synthetic_metrics(doubled, R, U, NUM, CAT, max_rows=45)
    assert b["dum"] == pytest.approx(a["dum"], abs=1e-12)
