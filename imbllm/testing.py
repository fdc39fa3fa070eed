"""One battery of contract checks, run against every oversampler of the project.

Like imbalanced-learn's ``estimator_checks``: tests call :func:`check_oversampler` with a
freshly built sampler factory and a small table, and every method is held to the same rules.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import pandas as pd

from imbllm.base import BaseOversampler, n_to_generate


def check_oversampler(
    make: Callable[[], BaseOversampler],
    X: pd.DataFrame,
    y: pd.Series,
    *,
    exact_count: bool = True,
    deterministic: bool = True,
) -> tuple[pd.DataFrame, pd.Series]:
    """Assert the ``fit_resample`` contract; return the first result for further checks.

    - output types, columns and dtypes equal the input's;
    - the original rows come first, unchanged, and the inputs are not mutated;
    - synthetic rows number ``n_requested_`` (``exact_count``) and bring the minority up;
    - categorical cells of synthetic rows are categories seen in the input;
    - the same ``random_state`` gives the same output (``deterministic``);
    - telemetry is recorded.
    """
    X0, y0 = X.copy(deep=True), y.copy(deep=True)
    sampler = make()
    Xr, yr = sampler.fit_resample(X, y)
    assert isinstance(Xr, pd.DataFrame) and isinstance(yr, pd.Series)
    pd.testing.assert_frame_equal(X, X0)
    pd.testing.assert_series_equal(y, y0)
    assert list(Xr.columns) == list(X.columns)
    assert dict(Xr.dtypes) == dict(X.dtypes), (dict(Xr.dtypes), dict(X.dtypes))
    assert len(Xr) == len(yr)
    pd.testing.assert_frame_equal(Xr.iloc[: len(X)].reset_index(drop=True), X.reset_index(drop=True))
    assert (yr.iloc[: len(y)].to_numpy() == y.to_numpy()).all()
    n_new = len(Xr) - len(X)
    assert sampler.n_generated_ == n_new
    if exact_count:
        assert n_new == sampler.n_requested_, (n_new, sampler.n_requested_)
    if sampler.generates:
        assert sampler.n_requested_ >= n_to_generate(y)
        counts = yr.value_counts()
        assert counts[sampler.minority_class_] > (y == sampler.minority_class_).sum()
    new = Xr.iloc[len(X):]
    for c in sampler.schema_.categorical:
        unseen = set(new[c].unique()) - set(X[c].unique())
        assert not unseen, f"column {c}: synthetic categories {unseen} never seen in the input"
    tel = sampler.telemetry()
    for k in ("n_requested", "n_generated", "fit_seconds", "sample_seconds"):
        assert k in tel
    if deterministic:
        Xr2, yr2 = make().fit_resample(X, y)
        pd.testing.assert_frame_equal(Xr, Xr2)
        pd.testing.assert_series_equal(yr, yr2)
    return Xr, yr


def toy_table(n_major: int = 60, n_minor: int = 12, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A small mixed table: two numeric columns (int and float) and two categorical ones."""
    rng = np.random.default_rng(seed)
    n = n_major + n_minor
    y = pd.Series(["no"] * n_major + ["yes"] * n_minor, name="label")
    X = pd.DataFrame(
        {
            "age": rng.integers(18, 80, n),
            "bmi": np.round(rng.normal(30, 5, n), 2) + (y == "yes").to_numpy() * 5,
            "sex": rng.choice(["female", "male"], n),
            "region": rng.choice(["north", "south", "east"], n),
        }
    )
    return X, y
