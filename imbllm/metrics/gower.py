"""Gower distance on mixed-type tables, with one encoding shared by every method.

protocol.md §4 fixes the distance: a numeric cell contributes ``|a - b| / range``, the range
taken over the real rows ``R ∪ U``; a categorical cell contributes 0 if equal, else 1; the
distance is the mean over features. :class:`GowerEncoder` learns the ranges and category codes
once (from the real rows) and turns any frame with the same columns into a
:class:`GowerMatrix`; :func:`gower_cdist` compares two encoded sets with one scipy ``cdist``
(city-block on the scaled numeric block) and one matrix product (one-hot codes: the number of
equal categorical cells), not a Python loop over pairs.

Two choices the protocol leaves open, made here:

* A numeric column whose range over ``R ∪ U`` is zero (a constant column) is compared like a
  categorical one: 0 if equal, else 1. Dividing by zero is undefined, and dividing by one would
  make the column's weight depend on its unit.
* Synthetic values outside the real range are not clipped: a cell can then contribute more
  than 1, which is the honest penalty for a value far from every real row.

Example
-------
>>> import pandas as pd
>>> real = pd.DataFrame({"age": [20, 40], "job": ["a", "b"]})
>>> enc = GowerEncoder(["age"], ["job"]).fit(real)
>>> float(gower_cdist(enc.transform(real.iloc[:1]), enc.transform(real.iloc[1:]))[0, 0])
1.0
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
import pandas as pd
from scipy.spatial.distance import cdist


@dataclass
class GowerMatrix:
    """An encoded set of rows: scaled numerics and integer category codes.

    ``num`` holds numeric cells divided by their range (``n x p_num``, float64, C order);
    ``cat`` holds codes of categorical cells and of constant numeric columns (``n x p_cat``,
    int64); ``n_features`` is the Gower denominator. ``hot``, set by :func:`share_one_hot`,
    is the one-hot form of ``cat`` over widths shared with the sets it will be compared to.
    """

    num: np.ndarray
    cat: np.ndarray
    n_features: int
    hot: np.ndarray | None = None

    def __len__(self) -> int:
        return self.num.shape[0]

    def take(self, idx: np.ndarray | slice) -> GowerMatrix:
        """The rows at ``idx``."""
        hot = None if self.hot is None else self.hot[idx]
        return GowerMatrix(self.num[idx], self.cat[idx], self.n_features, hot)


class GowerEncoder:
    """Learn Gower scales and category codes from the real rows; encode any frame alike.

    Parameters
    ----------
    numeric, categorical : sequence of str
        Column roles. Numeric columns must hold numbers; categorical cells are compared as
        strings (so ``1`` and ``"1"`` are the same category).
    """

    def __init__(self, numeric: Sequence[str], categorical: Sequence[str]):
        self.numeric = numeric
        self.categorical = categorical

    def fit(self, *frames: pd.DataFrame) -> GowerEncoder:
        """Learn ranges and codes from the union of ``frames`` (the protocol: ``R`` and ``U``)."""
        numeric, categorical = list(self.numeric), list(self.categorical)
        if not numeric and not categorical:
            raise ValueError(
                "GowerEncoder needs at least one column: numeric and categorical are both empty."
            )
        if not frames or sum(len(f) for f in frames) == 0:
            raise ValueError("GowerEncoder.fit needs at least one real row to learn ranges from.")
        for f in frames:
            _check_columns(f, numeric + categorical)
        real = pd.concat([f[numeric + categorical] for f in frames], ignore_index=True)
        values = real[numeric].to_numpy(dtype=float) if numeric else np.empty((len(real), 0))
        span = values.max(axis=0) - values.min(axis=0) if numeric else np.empty(0)
        self.scaled_ = [c for c, s in zip(numeric, span, strict=True) if s > 0]
        self.range_ = {c: float(s) for c, s in zip(numeric, span, strict=True) if s > 0}
        # Constant numeric columns join the categorical block (see the module docstring).
        self.constant_ = [c for c, s in zip(numeric, span, strict=True) if s == 0]
        self.coded_ = self.constant_ + categorical
        self.codes_ = {
            c: pd.Index(pd.unique(real[c].to_numpy(dtype=float)))
            if c in self.constant_
            else pd.Index(pd.unique(real[c].astype(str).to_numpy()))
            for c in self.coded_
        }
        self.unseen_ = {c: {} for c in self.coded_}
        self.n_features_ = len(numeric) + len(categorical)
        return self

    def transform(self, X: pd.DataFrame) -> GowerMatrix:
        """Encode ``X``; a category never seen before gets a fresh code (it matches nothing)."""
        if not hasattr(self, "codes_"):
            raise RuntimeError("GowerEncoder.transform called before fit; call fit(R, U) first.")
        _check_columns(X, list(self.numeric) + list(self.categorical))
        if self.scaled_:
            scale = np.array([self.range_[c] for c in self.scaled_])
            # C order: scipy's cdist copies a Fortran-ordered input on every call.
            num = np.ascontiguousarray(X[self.scaled_].to_numpy(dtype=float) / scale)
        else:
            num = np.zeros((len(X), 0))
        cat = np.empty((len(X), len(self.coded_)), dtype=np.int64)
        for j, c in enumerate(self.coded_):
            keys = X[c].to_numpy(dtype=float) if c in self.constant_ else X[c].astype(str)
            keys = np.asarray(keys)
            codes = self.codes_[c].get_indexer(keys)
            unknown = codes < 0
            if unknown.any():
                # A value unseen in the real rows gets a fresh code, remembered across calls,
                # so that it matches itself in any set and nothing real.
                table = self.unseen_[c]
                for v in pd.unique(keys[unknown]):
                    table.setdefault(v, len(self.codes_[c]) + len(table))
                codes[unknown] = [table[v] for v in keys[unknown]]
            cat[:, j] = codes
        return GowerMatrix(num=num, cat=cat, n_features=self.n_features_)


def _check_columns(X: pd.DataFrame, columns: list[str]) -> None:
    if not isinstance(X, pd.DataFrame):
        raise TypeError(f"Expected a pandas DataFrame, got {type(X).__name__}.")
    missing = [c for c in columns if c not in X.columns]
    if missing:
        raise ValueError(
            f"The frame lacks columns {missing}; every set compared must have the columns "
            f"{columns}."
        )


def gower_cdist(A: GowerMatrix, B: GowerMatrix) -> np.ndarray:
    """Gower distances between every row of ``A`` and every row of ``B`` (``len(A) x len(B)``)."""
    out = gower_sums(A, B)
    out /= A.n_features
    return out


def gower_sums(A: GowerMatrix, B: GowerMatrix) -> np.ndarray:
    """:func:`gower_cdist` times ``n_features``: the per-feature distances summed, not averaged.

    Callers that only compare distances, or average them, divide once at the end instead of
    making a pass over the whole matrix. Memory: 12 bytes per pair (float64 result and the
    float32 count of equal categorical cells); compare large sets block by block.
    """
    p_num, p_cat = A.num.shape[1], A.cat.shape[1]
    if len(A) == 0 or len(B) == 0:
        return np.zeros((len(A), len(B)))
    out = cdist(A.num, B.num, metric="cityblock") if p_num else np.zeros((len(A), len(B)))
    if p_cat:
        if A.hot is None or B.hot is None or A.hot.shape[1] != B.hot.shape[1]:
            A, B = share_one_hot(A, B)
        # Mismatches = p_cat - matches; float32 counts are exact far beyond any p_cat.
        out += p_cat
        out -= A.hot @ B.hot.T
    return out


def share_one_hot(*mats: GowerMatrix) -> tuple[GowerMatrix, ...]:
    """The same sets with ``hot`` set over common widths, so that any two can be compared.

    Build it once per set when a set is compared many times (block by block).
    """
    seen = [m.cat.max(axis=0) for m in mats if len(m)]
    p_cat = mats[0].cat.shape[1]
    widths = np.max(seen, axis=0) + 1 if seen else np.zeros(p_cat, dtype=np.int64)
    offsets = np.concatenate([[0], np.cumsum(widths)[:-1]])
    out = []
    for m in mats:
        hot = np.zeros((len(m), int(widths.sum())), dtype=np.float32)
        hot[np.arange(len(m))[:, None], m.cat + offsets] = 1.0
        out.append(GowerMatrix(m.num, m.cat, m.n_features, hot))
    return tuple(out)
