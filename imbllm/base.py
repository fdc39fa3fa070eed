"""The oversampler contract every method of this project keeps.

It is imbalanced-learn's: ``fit_resample(X, y) -> (X_resampled, y_resampled)`` with the
original rows first and unchanged, synthetic rows after, the same columns and dtypes, the
inputs never mutated, and the same ``random_state`` giving the same output. Subclasses write
one hook, :meth:`BaseOversampler._generate`, and never see invalid input.

After ``fit_resample`` an oversampler exposes what happened: ``n_requested_``,
``n_generated_``, ``n_rejected_``, ``n_repaired_cells_``, ``fallback_``, ``fit_seconds_``,
``sample_seconds_``, ``minority_class_`` and ``schema_``.
"""

from __future__ import annotations

import logging
import re
import time
from collections.abc import Hashable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd
from sklearn.base import BaseEstimator
from sklearn.utils._param_validation import (
    InvalidParameterError,
    StrOptions,
    validate_parameter_constraints,
)
from sklearn.utils.multiclass import type_of_target

from imbllm.schema import TableSchema

log = logging.getLogger(__name__)

#: Below this many minority rows the neighbour-based methods cannot run (k = 5).
MIN_NEIGHBOUR_ROWS = 5


class ParameterError(InvalidParameterError):
    """An argument that cannot work, as given or on this data: ``param`` (as the caller typed
    it, ``budget.epochs`` for a field of ``budget``), ``value`` and ``fix``, in one sentence.

    A scikit-learn ``InvalidParameterError`` (so a ``ValueError``); the command line reports it
    under the key the user typed (:mod:`imbllm.validate_run`).
    """

    def __init__(self, param: str, value, fix: str):
        self.param, self.value, self.fix = param, value, fix
        super().__init__(f"{param}={value!r} is not valid: {fix}.")


_SKLEARN = re.compile(r"The '(\w+)' parameter of \S+ (must be .*?)\. Got (.*) instead\.", re.S)


def declared_error(exc: InvalidParameterError, values: dict, prefix: str = "") -> ParameterError:
    """scikit-learn's error for one declared constraint as a :class:`ParameterError` whose
    parameter is ``prefix`` + its name (the ``exc`` itself when it is one already)."""
    if isinstance(exc, ParameterError):
        return exc
    m = _SKLEARN.search(str(exc))
    if m is None:  # pragma: no cover - scikit-learn changed its sentence
        raise exc
    return ParameterError(prefix + m.group(1), values[m.group(1)], m.group(2))


def check_declared(constraints: dict, values: dict, prefix: str) -> None:
    """``values`` against ``constraints`` (scikit-learn's form, one table per settings class);
    the first that fails raises a :class:`ParameterError` naming ``prefix`` + its name."""
    try:
        validate_parameter_constraints(constraints, values, caller_name=prefix.rstrip("."))
    except InvalidParameterError as exc:
        raise declared_error(exc, values, prefix) from None


@dataclass
class Generated:
    """What a ``_generate`` hook returns: new rows, their labels and its bookkeeping."""

    X: pd.DataFrame
    y: pd.Series
    n_rejected: int = 0
    n_repaired_cells: int = 0
    fallback: str | None = None
    fit_seconds: float | None = None
    sample_seconds: float | None = None
    extra: dict = field(default_factory=dict)
    tags: dict = field(default_factory=dict)


#: Kinds of target (scikit-learn's ``type_of_target``) an oversampler accepts.
LABEL_KINDS = ("binary", "multiclass")


def class_counts(y: pd.Series) -> pd.Series:
    """Rows per class, classes in sorted order (the label coding of the protocol)."""
    counts = y.value_counts()
    return counts.loc[sorted(counts.index, key=_sort_key)]


def _sort_key(v: Hashable):
    # Mixed label types (1 and "1") must still sort deterministically.
    return (type(v).__name__, v)


def minority_class(y: pd.Series) -> Hashable:
    """The class with the fewest rows; ties go to the class that sorts first (numpy argmin)."""
    counts = class_counts(y)
    return counts.index[int(np.argmin(counts.to_numpy()))]


def n_to_generate(y: pd.Series) -> int:
    """``n_majority - n_minority``: rows that bring the minority up to the largest class."""
    counts = class_counts(y)
    return int(counts.max() - counts.min())


def validate_xy(X, y, *, name: str = "fit_resample") -> tuple[pd.DataFrame, pd.Series]:
    """Check the input of ``fit_resample`` and return copies that are safe to work on."""
    if not isinstance(X, pd.DataFrame):
        raise TypeError(
            f"{name}: X must be a pandas DataFrame with named columns, got {type(X).__name__}. "
            "Wrap arrays with pd.DataFrame(X, columns=[...]) so that every column has a name."
        )
    if isinstance(y, pd.DataFrame) and y.shape[1] == 1:
        y = y.iloc[:, 0]
    if not isinstance(y, pd.Series):
        y = pd.Series(np.asarray(y), name="target")
    if len(X) != len(y):
        raise ValueError(f"{name}: X has {len(X)} rows but y has {len(y)}; they must match.")
    if X.shape[1] == 0:
        raise ValueError(f"{name}: X has no columns.")
    if not X.columns.is_unique:
        dup = X.columns[X.columns.duplicated()].tolist()
        raise ValueError(f"{name}: X has duplicated column names {dup}; rename them.")
    if y.name is not None and y.name in X.columns:
        raise ValueError(
            f"{name}: the target name {y.name!r} is also a column of X; drop it from X."
        )
    bad = X.columns[X.isna().any()].tolist()
    if bad:
        raise ValueError(
            f"{name}: X has missing values in columns {bad}. Impute or drop them first "
            "(the paper's protocol drops rows with missing values)."
        )
    if y.isna().any():
        raise ValueError(f"{name}: y has {int(y.isna().sum())} missing labels; drop those rows.")
    kind = type_of_target(y)
    if kind not in LABEL_KINDS:
        raise ValueError(
            f"{name}: y is a {kind} target (e.g. {getattr(y.iloc[0], 'item', lambda: y.iloc[0])()!r}), "
            "not class labels; oversampling "
            "needs a binary or multiclass label, so binarise a numeric target first (for a "
            "dataset: dataset.threshold=<cut-off>)."
        )
    num = X.select_dtypes(include="number")
    if len(num.columns) and not np.isfinite(num.to_numpy(dtype=float)).all():
        raise ValueError(f"{name}: X has infinite values; replace them before resampling.")
    if y.nunique() < 2:
        raise ValueError(
            f"{name}: y has a single class ({y.iloc[0]!r} if any); oversampling needs at "
            "least two classes."
        )
    return X.reset_index(drop=True).copy(), y.reset_index(drop=True).copy()


class BaseOversampler(BaseEstimator):
    """Base class: validation and bookkeeping around one hook, ``_generate``.

    Parameters are stored verbatim by subclasses' ``__init__`` (scikit-learn style); state
    learned during ``fit_resample`` ends in ``_``.
    """

    _sampler_type = "over-sampling"
    #: scikit-learn parameter constraints, checked by :meth:`check_params` (subclasses extend).
    _parameter_constraints: dict = {
        "random_state": ["random_state", np.random.Generator],
        "categorical_features": [StrOptions({"auto"}), list, tuple],
    }
    #: Whether this method creates new rows (False for the identity "standard" row).
    generates = True

    def fit_resample(self, X, y):
        """Return ``(X_resampled, y_resampled)``: the input rows, then the synthetic rows.

        Parameters
        ----------
        X : pandas.DataFrame
            Features. Numeric and categorical (object/category/bool) columns are allowed; no
            missing values.
        y : pandas.Series
            Labels, at least two classes.
        """
        self.check_params()
        X_in, y_in = validate_xy(X, y)
        self.check_data(X_in, y_in)
        categorical = getattr(self, "categorical_features", "auto")
        self.schema_ = TableSchema.infer(X_in, categorical)
        self.classes_ = class_counts(y_in).index.to_numpy()
        self.minority_class_ = minority_class(y_in)
        self.n_minority_ = int((y_in == self.minority_class_).sum())
        self.n_requested_ = self._n_requested(y_in)
        self.fallback_ = None
        t0 = time.perf_counter()
        out = self._generate(X_in, y_in, self.n_requested_)
        elapsed = time.perf_counter() - t0
        X_new, y_new = self._check_generated(out, X_in)
        self.n_generated_ = len(X_new)
        self.n_rejected_ = int(out.n_rejected)
        self.n_repaired_cells_ = int(out.n_repaired_cells)
        self.fallback_ = out.fallback
        self.fit_seconds_ = out.fit_seconds if out.fit_seconds is not None else elapsed
        self.sample_seconds_ = out.sample_seconds if out.sample_seconds is not None else 0.0
        extra = dict(out.extra)
        # Text goes to run tags, numbers to metrics: never one dict for both.
        self.tags_ = {str(k): str(v) for k, v in {**extra.pop("tags", {}), **out.tags}.items()}
        self.telemetry_extra_ = extra
        if out.fallback:
            log.warning("%s: %s", type(self).__name__, out.fallback)
        X_res = pd.concat([X_in, X_new], axis=0, ignore_index=True)
        y_res = pd.concat([y_in, y_new], axis=0, ignore_index=True)
        y_res.name = y.name if isinstance(y, pd.Series) else y_in.name
        return X_res, y_res

    def check_params(self) -> None:
        """Check the constructor arguments (before any data is seen).

        Raises scikit-learn's ``InvalidParameterError`` (a ``ValueError``), whose one sentence
        names the parameter, what it must be and the value received.
        """
        self._validate_params()

    def check_data(self, X: pd.DataFrame, y: pd.Series) -> None:
        """Check the arguments that the data decide (``k_neighbors`` against the minority's
        rows, ``categorical_features`` against the columns), on ``(X, y)`` as
        :func:`validate_xy` returns them; subclasses extend it.

        ``fit_resample`` calls it, and so does the command line's pre-run check on the run's
        training split: both raise the same :class:`ParameterError`.
        """
        cats = getattr(self, "categorical_features", "auto")
        if isinstance(cats, str):
            return
        unknown = [c for c in cats if c not in X.columns]
        if unknown:
            raise ParameterError("categorical_features", cats, f"it names {unknown}, which X does "
                                 f"not have; name columns of X ({list(X.columns)}) or pass 'auto'")

    # -- hooks -------------------------------------------------------------------------
    def _n_requested(self, y: pd.Series) -> int:
        return n_to_generate(y) if self.generates else 0

    def _generate(self, X: pd.DataFrame, y: pd.Series, n: int) -> Generated:  # pragma: no cover
        raise NotImplementedError

    # -- helpers -----------------------------------------------------------------------
    def _check_generated(self, out: Generated, X_in: pd.DataFrame):
        X_new, y_new = out.X, pd.Series(out.y).reset_index(drop=True)
        if list(X_new.columns) != list(X_in.columns):
            raise RuntimeError(
                f"{type(self).__name__} returned columns {list(X_new.columns)}, expected "
                f"{list(X_in.columns)}: this is a bug in the oversampler."
            )
        if len(X_new) != len(y_new):
            raise RuntimeError(f"{type(self).__name__} returned {len(X_new)} rows, {len(y_new)} labels.")
        X_new = self.schema_.cast_like(X_new.reset_index(drop=True), X_in)
        return X_new, y_new

    def telemetry(self) -> dict:
        """The generator telemetry of the last ``fit_resample``: numbers, plus ``tags`` (text).

        The runner reads the two apart: :meth:`run_metrics` (floats) and ``tags_`` (strings).
        """
        return {**self.run_metrics(), "tags": dict(self.tags_)}

    def run_metrics(self) -> dict[str, float]:
        """The numeric telemetry of the last ``fit_resample``, as floats (what a run logs)."""
        out = {
            "n_requested": self.n_requested_,
            "n_generated": self.n_generated_,
            "n_rejected": self.n_rejected_,
            "n_repaired_cells": self.n_repaired_cells_,
            "fit_seconds": self.fit_seconds_,
            "sample_seconds": self.sample_seconds_,
            **self.telemetry_extra_,
        }
        return {k: float(v) for k, v in out.items() if v is not None}
