"""A researcher's own table: read it, check it, and infer what the harness needs to know.

``dataset=csv dataset.file=table.csv dataset.target=label`` (or ``dataset=openml
dataset.openml_id=<id>``) gives a spec without columns or counts; :func:`infer_table` decides
them from the table and says what it decided (:func:`describe`):

- numeric columns are the numeric, non-boolean ones; every other column is categorical
  (``dataset.numeric=[...]`` / ``dataset.categorical=[...]`` override it);
- rows with a missing value in a used column or the target are dropped, and counted;
- the target must hold class labels; a numeric target with ``dataset.threshold`` is cut into
  ``above``/``below`` (the paper's binarised tables), and a continuous one without it is refused;
- every class needs two rows, or no stratified split can hold it in both parts.

Every refusal is a :class:`~imbllm.data.loader.DatasetError` with one sentence naming the key.
"""

from __future__ import annotations

import csv
import dataclasses
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils.multiclass import type_of_target

from imbllm.data.errors import DatasetError
from imbllm.data.spec import DatasetSpec


def read_table(path: str | Path, key: str = "dataset.file") -> pd.DataFrame:
    """Read a CSV (byte-order mark tolerated), refusing duplicated, empty or unreadable files."""
    path = Path(path)
    if not path.is_file():
        raise DatasetError(f"{key}={str(path)!r} is not a file; give the path of a CSV table.")
    try:
        with open(path, encoding="utf-8-sig", newline="") as fh:
            header = next(csv.reader(fh), [])
        raw = pd.read_csv(path, encoding="utf-8-sig")
    except (UnicodeDecodeError, pd.errors.ParserError, pd.errors.EmptyDataError) as exc:
        reason = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        raise DatasetError(
            f"{key}={str(path)!r} cannot be read as a CSV table ({reason}); check that it is a "
            "comma-separated text file with a header row."
        ) from None
    dup = sorted({c for c in header if header.count(c) > 1})
    if dup:
        raise DatasetError(f"{key}={str(path)!r} has duplicated column names {dup}; rename them so each is unique.")
    if raw.empty:
        raise DatasetError(f"{key}={str(path)!r} holds no rows; give a table with data.")
    return raw


def _roles(raw: pd.DataFrame, spec: DatasetSpec) -> tuple[list[str], list[str]]:
    """Numeric and categorical feature columns: the overrides, the rest inferred."""
    cols = [c for c in raw.columns if c != spec.target and c not in set(spec.drop)]
    for key, names in (("dataset.numeric", spec.numeric), ("dataset.categorical", spec.categorical),
                       ("dataset.drop", spec.drop)):
        for c in names or []:
            if c == spec.target:
                raise DatasetError(
                    f"{key} names the target column {c!r}; a target cannot also be a feature, so "
                    "remove it from the list.")
            if c not in raw.columns:
                raise DatasetError(f"{key} names {c!r}, which the table lacks; it has {list(raw.columns)}.")
    both = set(spec.numeric or []) & set(spec.categorical or [])
    if both:
        raise DatasetError(f"dataset.numeric and dataset.categorical both name {sorted(both)}; keep each column in one.")
    if spec.numeric is not None and spec.categorical is not None:
        cols = [c for c in cols if c in set(spec.numeric) | set(spec.categorical)]
    forced_cat = set(spec.categorical or [])
    forced_num = set(spec.numeric or [])

    def numeric(c):
        s = raw[c]
        return c in forced_num or (c not in forced_cat and pd.api.types.is_numeric_dtype(s)
                                   and not pd.api.types.is_bool_dtype(s))

    if not cols:
        raise DatasetError(f"the table has no feature column besides the target {spec.target!r}; add features.")
    return [c for c in cols if numeric(c)], [c for c in cols if not numeric(c)]


def _labels(y: pd.Series, spec: DatasetSpec) -> pd.Series:
    if spec.binarize is not None:
        b = spec.binarize
        v = pd.to_numeric(y, errors="coerce")
        if v.isna().any():
            raise DatasetError(
                f"dataset.threshold={b.threshold} needs a numeric target, but {spec.target!r} holds "
                f"{y[v.isna()].iloc[0]!r}; drop the threshold or choose a numeric target.")
        return pd.Series(np.where(v >= b.threshold, b.above, b.below), name=spec.target)
    kind = type_of_target(y)
    if kind == "continuous":
        raise DatasetError(
            f"dataset.target={spec.target!r} is continuous ({y.nunique()} distinct numbers), not class "
            "labels; set dataset.threshold=<cut-off> to binarise it.")
    return y.astype(str)


def infer_table(raw: pd.DataFrame, spec: DatasetSpec) -> tuple[DatasetSpec, pd.DataFrame, pd.Series, dict]:
    """Build ``(spec with columns and counts, X, y, report)`` from a raw table."""
    if spec.target not in raw.columns:
        raise DatasetError(f"dataset.target={spec.target!r} is not a column of the table; it has {list(raw.columns)}.")
    numeric, categorical = _roles(raw, spec)
    used = raw[numeric + categorical + [spec.target]]
    df = used.dropna(how="any").reset_index(drop=True)
    dropped = len(used) - len(df)
    if df.empty:
        raise DatasetError(
            f"every row of the table has a missing value in a used column or in {spec.target!r}; "
            "fill them or leave the incomplete columns out with dataset.drop=[...].")
    y = _labels(df.pop(spec.target), spec)
    X = df
    for c in numeric:
        v = pd.to_numeric(X[c], errors="coerce")
        if v.isna().any():
            raise DatasetError(
                f"dataset.numeric names {c!r}, but it holds {X[c][v.isna()].iloc[0]!r}; list it "
                "under dataset.categorical instead.")
        if pd.api.types.is_float_dtype(v) and np.all(np.mod(v.to_numpy(), 1) == 0):
            v = v.astype("int64")  # the text an LLM sees must say 39, not 39.0
        X[c] = v
    for c in categorical:
        X[c] = X[c].astype(str)
    counts = y.value_counts()
    if len(counts) < 2:
        raise DatasetError(
            f"dataset.target={spec.target!r} has a single class ({counts.index[0]!r}) after dropping "
            "rows with missing values; oversampling needs two or more classes.")
    few = counts[counts < 2]
    if len(few):
        raise DatasetError(
            f"class {few.index[0]!r} of {spec.target!r} has {int(few.iloc[0])} row; a stratified "
            "train/test split needs at least 2 rows of every class, so add rows or merge the class.")
    classes = {str(k): int(v) for k, v in sorted(counts.items())}
    out = dataclasses.replace(spec, numeric=numeric, categorical=categorical,
                              expected_rows=len(X), expected_classes=classes)
    report = {"rows_read": len(raw), "rows_dropped_missing": dropped, "rows": len(X),
              "numeric": numeric, "categorical": categorical, "classes": classes,
              "minority": min(classes, key=lambda k: (classes[k], k))}
    return out, X, y, report


def describe(spec: DatasetSpec, report: dict) -> str:
    """The inferred schema in a few lines (what ``imbllm-bench`` prints before running)."""
    return "\n".join([
        f"dataset {spec.name!r} ({spec.source}): {report['rows']} rows used of {report['rows_read']} "
        f"({report['rows_dropped_missing']} dropped for missing values)",
        f"  numeric ({len(report['numeric'])}): {', '.join(report['numeric']) or '-'}",
        f"  categorical ({len(report['categorical'])}): {', '.join(report['categorical']) or '-'}",
        f"  target {spec.target!r}: " + ", ".join(f"{k} ({v})" for k, v in report["classes"].items())
        + f"; minority {report['minority']!r}",
    ])
