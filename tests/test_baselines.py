"""The non-LLM oversamplers' own behaviour: fallbacks, strategies, encodings, errors.

Every method config is held to the contract battery in tests/test_battery.py; the cases here
that change what the battery sees (a tiny minority, three classes) run it too.
"""

import numpy as np
import pandas as pd
import pytest

from baselines.classical import ADASYN, SMOTE, SMOTENC, RandomOversampler, Standard
from baselines.deep import CTGAN, TVAE
from imbllm.testing import check_oversampler, toy_table

FACTORIES = {
    "random": lambda: RandomOversampler(random_state=0),
    "smote": lambda: SMOTE(random_state=0),
    "smote_nc": lambda: SMOTENC(random_state=0),
    "adasyn": lambda: ADASYN(random_state=0),
    "ctgan": lambda: CTGAN(epochs=2, batch_size=20, random_state=0),
    "tvae": lambda: TVAE(epochs=2, batch_size=20, random_state=0),
}


def test_standard_is_identity():
    X, y = toy_table()
    s = Standard()
    Xr, yr = s.fit_resample(X, y)
    pd.testing.assert_frame_equal(Xr, X)
    assert s.n_requested_ == 0 and s.n_generated_ == 0


def test_smote_rounds_categories_back_and_integers():
    X, y = toy_table()
    Xr, _ = SMOTE(random_state=0).fit_resample(X, y)
    new = Xr.iloc[len(X):]
    assert set(new["region"]) <= {"north", "south", "east"}
    assert new["age"].dtype == X["age"].dtype  # interpolated ages rounded to int


def test_smote_without_declared_categories_interpolates_codes():
    # The published protocol: category codes as floats, treated as continuous.
    X, y = toy_table()
    Xc = X.assign(sex=pd.Categorical(X["sex"]).codes.astype(float), region=pd.Categorical(X["region"]).codes.astype(float),
                  age=X["age"].astype(float))
    Xr, _ = SMOTE(random_state=0, categorical_features=[]).fit_resample(Xc, y)
    frac = np.mod(Xr["region"].iloc[len(X):].to_numpy(), 1)
    assert (frac > 0).any()  # codes such as 1.37 appear: the authors' collapse


@pytest.mark.parametrize("cls", [SMOTE, SMOTENC, ADASYN])
def test_small_minority_falls_back_to_random_and_records_it(cls):
    X, y = toy_table(n_major=30, n_minor=4)
    s = cls(random_state=0)
    Xr, yr = check_oversampler(s, X, y)
    assert s.fallback_ and "random oversampling" in s.fallback_
    assert (yr == "yes").sum() == 30
    # random oversampling duplicates real rows
    new = Xr.iloc[len(X):]
    real = X[y == "yes"]
    assert all((real == row).all(axis=1).any() for _, row in new.iterrows())


def test_one_row_minority():
    X, y = toy_table(n_major=20, n_minor=1)
    Xr, yr = check_oversampler(SMOTENC(random_state=0), X, y)
    assert (yr == "yes").sum() == 20
    assert (Xr.iloc[len(X):] == X[y == "yes"].iloc[0]).all().all()


def test_auto_strategy_oversamples_every_non_majority_class():
    X, y = toy_table(n_major=40, n_minor=10)
    y = y.copy()
    y.iloc[:15] = "mid"  # classes: no 25, mid 15, yes 10
    s = SMOTE(random_state=0, sampling_strategy="auto")
    Xr, yr = check_oversampler(s, X, y, minority_only=False)  # "mid" rows too
    assert yr.value_counts().to_dict() == {"no": 25, "mid": 25, "yes": 25}
    assert s.n_requested_ == 25
    s2 = SMOTE(random_state=0)  # "minority": only the smallest class
    _, yr2 = s2.fit_resample(X, y)
    assert yr2.value_counts().to_dict() == {"no": 25, "mid": 15, "yes": 25}


def test_bad_strategy_message():
    X, y = toy_table()
    with pytest.raises(ValueError, match="'sampling_strategy' parameter of SMOTE must be a str among"):
        SMOTE(sampling_strategy="half").fit_resample(X, y)


@pytest.mark.parametrize(
    "mutate, message",
    [
        (lambda X, y: (X.to_numpy(), y), "must be a pandas DataFrame"),
        (lambda X, y: (X.assign(bmi=X["bmi"].where(X.index > 3)), y), "missing values in columns \\['bmi'\\]"),
        (lambda X, y: (X, y.map(lambda v: "no")), "single class"),
        (lambda X, y: (X.iloc[:-1], y), "rows but y has"),
        (lambda X, y: (X.assign(bmi=np.inf), y), "infinite"),
        (lambda X, y: (X, y.where(y.index > 2)), "missing labels"),
    ],
)
def test_bad_input_errors(mutate, message):
    X, y = toy_table()
    Xb, yb = mutate(X, y)
    with pytest.raises((TypeError, ValueError), match=message):
        SMOTE(random_state=0).fit_resample(Xb, yb)


def test_unknown_categorical_feature_is_named():
    X, y = toy_table()
    with pytest.raises(ValueError, match="'colour'"):
        SMOTENC(categorical_features=["colour"]).fit_resample(X, y)


def test_ctgan_samples_minority_only_and_is_seeded():
    X, y = toy_table()
    a = CTGAN(epochs=2, batch_size=20, random_state=1).fit_resample(X, y)[0]
    b = CTGAN(epochs=2, batch_size=20, random_state=2).fit_resample(X, y)[0]
    assert not a.iloc[len(X):].equals(b.iloc[len(X):])


def test_smote_nc_with_integer_only_numeric_columns_keeps_minority_categories():
    # imbalanced-learn truncates SMOTE-NC's scaled one-hot block to 0 on an integer matrix,
    # which made categories random; every minority row here has region "north".
    rng = np.random.default_rng(0)
    n_major, n_minor = 80, 12
    X = pd.DataFrame(
        {
            "a": rng.integers(0, 5, n_major + n_minor),
            "b": rng.integers(0, 5, n_major + n_minor),
            "region": list(rng.choice(["south", "east"], n_major)) + ["north"] * n_minor,
        }
    )
    y = pd.Series(["no"] * n_major + ["yes"] * n_minor)
    Xr, _ = SMOTENC(random_state=0).fit_resample(X, y)
    new = Xr.iloc[len(X):]
    assert (new["region"] == "north").all()
    assert new["a"].dtype == X["a"].dtype
    # interpolation is not truncated: some new rows fall between integer grid points before
    # rounding, so not every new row duplicates a real minority row
    real = {tuple(r) for r in X[y == "yes"].itertuples(index=False)}
    assert sum(tuple(r) not in real for r in new.itertuples(index=False)) > 0


def test_imbllm_interpolation_is_not_truncated_on_integer_columns():
    from imbllm.llm.text.strategies import interpolate_minority

    rng = np.random.default_rng(1)
    X = pd.DataFrame({"a": rng.integers(0, 50, 100), "b": rng.integers(0, 50, 100),
                      "c": rng.choice(["x", "y"], 100)})
    y = pd.Series(["no"] * 80 + ["yes"] * 20)
    rows, fallback = interpolate_minority(X, y, "yes", 40, ["a", "b"], ["c"], 0)
    assert fallback is None and len(rows) == 40
    assert (np.mod(rows.to_numpy(), 1) != 0).any()  # 2-decimal values between the grid points


@pytest.mark.parametrize("name", sorted(FACTORIES) + ["standard"])
def test_every_oversampler_refuses_a_continuous_target(name):
    X, y = toy_table()
    make = FACTORIES.get(name, Standard)
    cont = pd.Series(np.linspace(0.5, 99.5, len(y)), name="price")
    with pytest.raises(ValueError, match=r"y is a continuous target \(e\.g\. 0\.5\), not class labels"):
        make().fit_resample(X, cont)


@pytest.mark.parametrize("cls, bad, message", [
    (SMOTE, {"k_neighbors": 0}, "'k_neighbors' parameter of SMOTE must be an int in the range"),
    (ADASYN, {"n_neighbors": -2}, "'n_neighbors' parameter of ADASYN must be an int"),
    (CTGAN, {"epochs": 0}, "'epochs' parameter of CTGAN must be an int"),
    (SMOTENC, {"random_state": -1}, "'random_state' parameter of SMOTENC must be"),
])
def test_constructor_arguments_are_checked_before_any_data(cls, bad, message):
    with pytest.raises(ValueError, match=message):
        cls(**bad).check_params()


def _separated(n_major=60, n_minor=12, gap=1000.0):
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": np.r_[rng.normal(0, 1, n_major), rng.normal(gap, 1, n_minor)],
                      "b": np.r_[rng.normal(0, 1, n_major), rng.normal(gap, 1, n_minor)]})
    return X, pd.Series(["no"] * n_major + ["yes"] * n_minor)


def test_adasyn_falls_back_to_smote_when_the_data_leave_it_no_weights():
    from imblearn import over_sampling

    X, y = _separated()  # every minority row's 5 neighbours are minority rows
    with pytest.raises(RuntimeError):  # what imbalanced-learn itself does with these data
        over_sampling.ADASYN(random_state=0).fit_resample(X, y)
    s = ADASYN(random_state=0)
    _, yr = s.fit_resample(X, y)
    assert s.fallback_.startswith("ADASYN could not weight its seeds: no row of class 'yes'")
    assert (yr == "yes").sum() == 60  # SMOTE's exact count
    X2, y2 = _separated(gap=0.5)  # overlapping classes: ADASYN proper, no fallback
    s2 = ADASYN(random_state=0)
    s2.fit_resample(X2, y2)
    assert s2.fallback_ is None
