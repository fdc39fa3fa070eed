"""The generators beyond the paper's (baselines/modern.py, baselines/forests.py): fallbacks,
determinism, and what they leave untouched.

Every method config is held to the contract battery in tests/test_battery.py; the cases here
push a sampler where its library gives up, and run the battery there too.
"""

import sys

import numpy as np
import pandas as pd
import pytest

from baselines.modern import SVMSMOTE, BorderlineSMOTE, KMeansSMOTE
from imbllm.testing import check_oversampler, toy_table


def separated(n_major=60, n_minor=12):
    """Two numeric columns, the minority far from the majority: no minority row is in danger."""
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": np.r_[rng.normal(0, 1, n_major), rng.normal(20, 1, n_minor)],
                      "b": rng.normal(0, 1, n_major + n_minor)})
    return X, pd.Series(["no"] * n_major + ["yes"] * n_minor, name="label")


def test_borderline_smote_with_no_row_in_danger_falls_back_to_smote_and_says_so():
    X, y = separated()
    s = BorderlineSMOTE(random_state=0)
    _, y_res = check_oversampler(s, X, y)
    assert (y_res == "yes").sum() == 60
    assert s.fallback_ == ("Borderline-SMOTE could not make 48 of its 48 rows (no minority row "
                           "is in danger); SMOTE made them instead")


def test_borderline_smote_with_rows_in_danger_needs_no_fallback():
    X, y = toy_table()
    s = BorderlineSMOTE(random_state=0)
    check_oversampler(s, X, y)
    assert s.fallback_ is None and s.n_generated_ == 48


def test_kmeans_smote_with_no_cluster_falls_back_to_smote_and_says_so():
    X, y = toy_table()
    s = KMeansSMOTE(random_state=0, cluster_balance_threshold=0.99)
    check_oversampler(s, X, y)
    assert s.fallback_ == ("K-Means SMOTE could not make 48 of its 48 rows (no clusters found "
                           "with sufficient samples of class yes); SMOTE made them instead")


def test_kmeans_smote_share_threshold_finds_clusters_where_the_librarys_does_not():
    # The minority is a sixth of the table: imbalanced-learn's "auto" asks a cluster for half.
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": np.r_[rng.normal(0, 1, 150), rng.normal(0.5, 1, 30)],
                      "b": rng.normal(0, 1, 180)})
    y = pd.Series(["no"] * 150 + ["yes"] * 30, name="label")
    auto = KMeansSMOTE(random_state=0, cluster_balance_threshold="auto")
    share = KMeansSMOTE(random_state=0)
    check_oversampler(auto, X, y)
    check_oversampler(share, X, y)
    assert auto.fallback_ and "no clusters found" in auto.fallback_
    assert share.fallback_ is None and share.cluster_threshold_ == pytest.approx(30 / 180)


def test_svm_smote_records_the_rows_smote_made_for_it():
    X, y = separated()
    s = SVMSMOTE(random_state=0)
    check_oversampler(s, X, y)
    made = int(s.fallback_.split(" could not make ")[1].split(" ")[0])
    assert 0 < made < 48 and s.fallback_.endswith("SMOTE made them instead")


@pytest.mark.parametrize("cls", [BorderlineSMOTE, SVMSMOTE, KMeansSMOTE])
def test_small_minority_falls_back_to_random_oversampling(cls):
    X, y = toy_table(n_major=30, n_minor=4)
    s = cls(random_state=0)
    check_oversampler(s, X, y)
    assert s.fallback_.startswith("4 minority rows (<= 5): random oversampling instead of")


@pytest.mark.parametrize("cls", [BorderlineSMOTE, SVMSMOTE, KMeansSMOTE])
def test_variants_oversample_every_smaller_class_under_auto(cls):
    X, y = toy_table(n_major=40, n_minor=10)
    y = y.copy()
    y.iloc[:15] = "mid"  # no 25, mid 15, yes 10
    _, y_res = check_oversampler(cls(random_state=0, sampling_strategy="auto"), X, y,
                                 minority_only=False)
    assert y_res.value_counts().to_dict() == {"no": 25, "mid": 25, "yes": 25}


# -- the forests: seeded, the caller's random state untouched ---------------------------------

def forests():
    from baselines.forests import ARF, ForestFlow

    return {"forestflow": lambda seed: ForestFlow(n_t=3, duplicate_K=2, n_estimators=5,
                                                  random_state=seed),
            "arf": lambda seed: ARF(num_trees=5, max_iters=1, random_state=seed)}


FORESTS = {"forestflow": "ForestDiffusion", "arf": "arfpy"}


@pytest.mark.parametrize("name", FORESTS)
def test_forest_same_seed_same_rows_and_numpy_state_restored(name):
    pytest.importorskip(FORESTS[name])
    make = forests()[name]
    X, y = toy_table()
    np.random.seed(123)
    before = np.random.get_state()[1].copy()
    X0, _ = check_oversampler(lambda: make(0), X, y)  # fits twice, asserts equal output
    assert (np.random.get_state()[1] == before).all(), "the sampler moved numpy's global state"
    X1, _ = make(1).fit_resample(X, y)
    assert not X0.iloc[len(X):].equals(X1.iloc[len(X):])


@pytest.mark.parametrize("name", FORESTS)
def test_forest_keeps_categories_of_a_wide_table(name):
    # Twelve columns, categorical ones at positions 1 and 11: ForestDiffusion's own coding would
    # merge them ("1_" is in "11_..."); ours keeps each column's own categories.
    pytest.importorskip(FORESTS[name])
    rng = np.random.default_rng(0)
    X, y = toy_table()
    wide = pd.DataFrame({f"n{i}": rng.normal(size=len(X)) for i in range(12)})
    wide["n1"] = rng.choice(["a", "b", "c"], len(X))
    wide["n11"] = rng.choice(["u", "v", "w", "z"], len(X))
    X_res, _ = check_oversampler(forests()[name](0), wide, y)
    new = X_res.iloc[len(X):]
    assert set(new["n1"]) <= {"a", "b", "c"} and set(new["n11"]) <= {"u", "v", "w", "z"}


def test_arf_leaves_numpy_as_it_found_it():
    pytest.importorskip("arfpy")
    X, y = toy_table()
    had = hasattr(np, "in1d")
    forests()["arf"](0).fit_resample(X, y)
    assert hasattr(np, "in1d") == had


@pytest.mark.parametrize("name, module", [("forestflow", "ForestDiffusion"), ("arf", "arfpy.arf")])
def test_forest_without_its_library_names_the_extra(name, module, monkeypatch):
    from baselines.forests import ARF, ForestFlow

    monkeypatch.setitem(sys.modules, module, None)  # import fails as if not installed
    cls = {"forestflow": ForestFlow, "arf": ARF}[name]
    X, y = toy_table()
    with pytest.raises(ImportError, match=r"pip install 'imbllm\[modern\]'"):
        cls(random_state=0).fit_resample(X, y)


def test_forestflow_value_cap_lowers_duplicate_k_and_logs_it():
    pytest.importorskip("ForestDiffusion")
    from baselines.forests import ForestFlow

    X, y = toy_table()  # 12 minority rows, 2 numbers, 2 + 3 categories: 84 values
    capped = ForestFlow(n_t=2, duplicate_K=10, n_estimators=3, max_cells=300, random_state=0)
    check_oversampler(capped, X, y)
    assert capped.telemetry()["duplicate_K"] == 3.0  # 300 // 84
    free = ForestFlow(n_t=2, duplicate_K=10, n_estimators=3, random_state=0)
    free.fit_resample(X, y)
    assert free.telemetry()["duplicate_K"] == 10.0
