"""What a table looks like: which columns are numeric or categorical, their values and types.

Learned at fit time by every oversampler; used to validate and cast generated rows so that
synthetic rows carry the same dtypes as the input (``39``, not ``39.0``).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd


def _is_categorical(s: pd.Series) -> bool:
    return not pd.api.types.is_numeric_dtype(s) or pd.api.types.is_bool_dtype(s)


@dataclass
class TableSchema:
    """Column roles and value domains of a feature table.

    Attributes
    ----------
    numeric, categorical : list of str
        Column names in table order.
    categories : dict
        Observed categories per categorical column, sorted.
    integer : dict
        For numeric columns, whether every value is integral (generated values get rounded).
    low, high : dict
        Observed range of each numeric column.
    dtypes : dict
        The input dtype of every column.
    """

    columns: list[str]
    numeric: list[str]
    categorical: list[str]
    categories: dict
    integer: dict
    low: dict
    high: dict
    dtypes: dict

    @classmethod
    def infer(cls, X: pd.DataFrame, categorical_features: str | Sequence[str] = "auto") -> TableSchema:
        """Learn the schema of ``X``.

        ``categorical_features="auto"`` treats non-numeric and boolean columns as categorical;
        a list of names declares them explicitly (numeric-coded categories included).
        """
        columns = [str(c) for c in X.columns]
        if isinstance(categorical_features, str):
            if categorical_features != "auto":
                raise ValueError(
                    f"categorical_features must be 'auto' or a list of column names, got "
                    f"{categorical_features!r}."
                )
            categorical = [c for c in X.columns if _is_categorical(X[c])]
        else:
            unknown = [c for c in categorical_features if c not in X.columns]
            if unknown:
                raise ValueError(
                    f"categorical_features names columns {unknown} that X does not have; "
                    f"X has {list(X.columns)}."
                )
            categorical = [c for c in X.columns if c in set(categorical_features)]
            non_numeric = [c for c in X.columns if c not in categorical and _is_categorical(X[c])]
            if non_numeric:
                raise ValueError(
                    f"columns {non_numeric} are not numeric but are missing from "
                    "categorical_features; declare them as categorical or encode them."
                )
        numeric = [c for c in X.columns if c not in categorical]
        cats, integer, low, high = {}, {}, {}, {}
        for c in categorical:
            cats[c] = sorted(pd.unique(X[c]).tolist(), key=lambda v: (type(v).__name__, v))
        for c in numeric:
            v = X[c].to_numpy(dtype=float)
            integer[c] = bool(pd.api.types.is_integer_dtype(X[c]) or np.all(np.mod(v, 1) == 0))
            low[c], high[c] = float(v.min()), float(v.max())
        return cls(
            columns=columns,
            numeric=list(numeric),
            categorical=list(categorical),
            categories=cats,
            integer=integer,
            low=low,
            high=high,
            dtypes={c: X[c].dtype for c in X.columns},
        )

    def cast_like(self, X_new: pd.DataFrame, X_ref: pd.DataFrame) -> pd.DataFrame:
        """Return ``X_new`` with the dtypes of ``X_ref`` (integers rounded, categories kept)."""
        out = X_new.copy()
        for c in X_ref.columns:
            dt = X_ref[c].dtype
            if out[c].dtype == dt:
                continue
            if isinstance(dt, pd.CategoricalDtype):
                out[c] = pd.Categorical(out[c], categories=dt.categories, ordered=dt.ordered)
            elif pd.api.types.is_bool_dtype(dt):
                out[c] = out[c].astype(bool)
            elif pd.api.types.is_integer_dtype(dt):
                out[c] = np.round(pd.to_numeric(out[c]).to_numpy(dtype=float)).astype(dt)
            elif pd.api.types.is_float_dtype(dt):
                out[c] = pd.to_numeric(out[c]).astype(dt)
            else:
                out[c] = out[c].astype(dt)
        return out
