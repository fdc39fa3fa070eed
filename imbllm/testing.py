"""One battery of contract checks, run against every oversampler of the project.

Like imbalanced-learn's ``estimator_checks`` (whose own checks stop under scikit-learn 1.9 with
``'InputTags' object has no attribute 'dataframe'``): tests call :func:`check_oversampler`
with a sampler factory and a small table, and every method is held to the same rules.
tests/test_battery.py runs it on every method config of ``conf/method``.
"""

from __future__ import annotations

from collections.abc import Callable
from functools import partial

import numpy as np
import pandas as pd
from sklearn.base import clone

from imbllm.base import BaseOversampler, n_to_generate

#: What every fitted oversampler exposes after ``fit_resample`` (imbllm/base.py).
FITTED = ("n_requested_", "n_generated_", "n_rejected_", "n_repaired_cells_", "fallback_",
          "fit_seconds_", "sample_seconds_", "minority_class_", "schema_", "tags_")


def check_oversampler(
    sampler: BaseOversampler | Callable[[], BaseOversampler],
    X: pd.DataFrame,
    y: pd.Series,
    *,
    exact_count: bool = True,
    deterministic: bool = True,
    minority_only: bool = True,
) -> tuple[pd.DataFrame, pd.Series]:
    """Assert the ``fit_resample`` contract; return the first result for further checks.

    ``sampler`` is an unfitted oversampler, fitted in place (so that the caller can read its
    telemetry) and cloned for the second fit, or a factory of fresh ones.

    - output types, columns, dtypes and label name equal the input's, on a fresh index;
    - the original rows come first, unchanged, and the inputs are not mutated;
    - every synthetic row is valid: numeric cells finite, categorical cells and labels seen
      in the input, labels the minority class (``minority_only``; a method that labels its
      rows with a classifier passes False);
    - synthetic rows number ``n_requested_`` less the gap the sampler records as
      ``shortfall`` (a sampler never returns fewer rows silently); ``exact_count=False``
      admits what per-seed rounding gives (ADASYN: half a row per minority row at most);
    - the fitted attributes and :meth:`telemetry` agree, and every rejection is explained;
    - the same ``random_state`` gives the same output (``deterministic``).
    """
    if isinstance(sampler, BaseOversampler):
        make = partial(clone, sampler)
    else:
        make, sampler = sampler, sampler()
    X0, y0 = X.copy(deep=True), y.copy(deep=True)
    Xr, yr = sampler.fit_resample(X, y)
    pd.testing.assert_frame_equal(X, X0)
    pd.testing.assert_series_equal(y, y0)
    _check_frame(Xr, yr, X, y)
    _check_telemetry(sampler)
    _check_counts(sampler, yr, y, exact_count)
    _check_rows(sampler, Xr.iloc[len(X):], yr.iloc[len(y):], X, y, minority_only)
    if deterministic:
        Xr2, yr2 = make().fit_resample(X, y)
        pd.testing.assert_frame_equal(Xr, Xr2)
        pd.testing.assert_series_equal(yr, yr2)
    return Xr, yr


def _check_frame(Xr, yr, X, y) -> None:
    """Types, columns, dtypes, index, and the original rows first and unchanged."""
    assert isinstance(Xr, pd.DataFrame) and isinstance(yr, pd.Series)
    assert list(Xr.columns) == list(X.columns)
    assert dict(Xr.dtypes) == dict(X.dtypes), (dict(Xr.dtypes), dict(X.dtypes))
    assert yr.dtype == y.dtype and yr.name == y.name, (yr.dtype, yr.name)
    assert len(Xr) == len(yr) >= len(X)
    # A fresh 0..n-1 index, as imbalanced-learn returns: the input's own index does not repeat.
    assert Xr.index.equals(pd.RangeIndex(len(Xr))) and yr.index.equals(Xr.index)
    pd.testing.assert_frame_equal(Xr.iloc[: len(X)].reset_index(drop=True), X.reset_index(drop=True))
    assert (yr.iloc[: len(y)].to_numpy() == y.to_numpy()).all()


def _check_telemetry(sampler: BaseOversampler) -> None:
    """The fitted attributes exist, hold counts, and :meth:`telemetry` reports the same."""
    missing = [a for a in FITTED if not hasattr(sampler, a)]
    assert not missing, f"{type(sampler).__name__} does not expose {missing} after fit"
    for a in ("n_requested_", "n_generated_", "n_rejected_", "n_repaired_cells_"):
        value = getattr(sampler, a)
        assert isinstance(value, (int, np.integer)) and value >= 0, (a, value)
    assert sampler.fit_seconds_ >= 0 and sampler.sample_seconds_ >= 0
    assert sampler.fallback_ is None or (isinstance(sampler.fallback_, str) and sampler.fallback_)
    tel = sampler.telemetry()
    for k in ("n_requested", "n_generated", "n_rejected", "n_repaired_cells"):
        assert tel[k] == getattr(sampler, k + "_"), (k, tel[k], getattr(sampler, k + "_"))
    assert "fit_seconds" in tel and "sample_seconds" in tel
    assert all(isinstance(v, float) for k, v in tel.items() if k != "tags")
    assert all(isinstance(k, str) and isinstance(v, str) for k, v in tel["tags"].items())
    # Every rejected row is explained by a reason (rejected_<reason>), and only those.
    reasons = {k: v for k, v in tel.items() if k.startswith("rejected_")}
    if reasons or sampler.n_rejected_:
        assert sum(reasons.values()) == sampler.n_rejected_, (
            f"{sampler.n_rejected_} rows rejected, explained by {reasons}")


def _check_counts(sampler, yr, y, exact_count: bool) -> None:
    """As many synthetic rows as requested, less the gap the sampler records, no fewer."""
    n_new = len(yr) - len(y)
    assert sampler.n_generated_ == n_new, (sampler.n_generated_, n_new)
    if not sampler.generates:
        assert sampler.n_requested_ == n_new == 0
        return
    assert sampler.n_requested_ >= n_to_generate(y)
    shortfall = sampler.telemetry().get("shortfall", 0.0)
    assert shortfall >= 0
    if exact_count:
        # Fewer rows than requested only with the gap recorded, to the row.
        assert n_new + shortfall == sampler.n_requested_, (
            f"{type(sampler).__name__} made {n_new} of {sampler.n_requested_} rows and "
            f"recorded a shortfall of {shortfall:g}"
        )
    else:
        assert shortfall == 0
        assert abs(n_new - sampler.n_requested_) <= sampler.n_minority_ / 2, (
            n_new, sampler.n_requested_)


def _check_rows(sampler, new_X, new_y, X, y, minority_only: bool) -> None:
    """Every synthetic row is one the input could hold."""
    categorical = set(sampler.schema_.categorical)
    for c in X.columns:
        if c in categorical:
            unseen = set(new_X[c].unique()) - set(X[c].unique())
            assert not unseen, f"column {c}: synthetic categories {unseen} never seen in the input"
        else:
            values = new_X[c].to_numpy(dtype=float)
            assert np.isfinite(values).all(), f"column {c}: synthetic values not finite"
    unseen = set(new_y.unique()) - set(y.unique())
    assert not unseen, f"synthetic labels {unseen} are not classes of y"
    if minority_only:
        other = new_y[new_y != sampler.minority_class_]
        assert other.empty, (
            f"{len(other)} synthetic rows carry a class other than the minority "
            f"{sampler.minority_class_!r}: {other.value_counts().to_dict()}"
        )


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


def wide_table(n_rows: int = 6000, n_columns: int = 85, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A user's wide table, shaped like the insurance-company table of issue 23 (5,822 rows, 85
    coded columns, 6% minority): small integer codes, a few wider integers, two categories."""
    rng = np.random.default_rng(seed)
    cols = {f"code{j}": rng.integers(0, 10, n_rows) for j in range(n_columns - 6)}
    cols.update({f"count{j}": rng.integers(0, 1000, n_rows) for j in range(4)})
    cols.update({"segment": rng.choice(["retired", "family", "young", "rural"], n_rows),
                 "contract": rng.choice(["none", "basic", "full, with extras"], n_rows)})
    y = pd.Series(np.where(rng.random(n_rows) < 0.06, "claim", "none"), name="label")
    return pd.DataFrame(cols), y


def rare_table(n_rows: int = 10000, share: float = 1 / 30, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """A long table with a rare class (one row in 30 by default), four columns, the minority
    shifted on two of them."""
    rng = np.random.default_rng(seed)
    rare = rng.random(n_rows) < share
    X = pd.DataFrame({
        "amount": np.round(rng.lognormal(4, 1, n_rows) * np.where(rare, 3, 1), 2),
        "hour": rng.integers(0, 24, n_rows),
        "score": np.round(rng.normal(0, 1, n_rows) + rare * 1.5, 3),
        "channel": rng.choice(["web", "shop", "phone"], n_rows),
    })
    return X, pd.Series(np.where(rare, "fraud", "ok"), name="label")
