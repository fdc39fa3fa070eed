"""How categories reach the oversamplers and the classifiers, in each protocol mode.

Published mode reproduces two quirks of the authors' code (protocol.md §3):

* SMOTE, SMOTE-NC, ADASYN, "standard" and "balance" receive **ordinal codes computed per
  frame** (each frame's sorted categories), all columns as floats. SMOTE and ADASYN then
  interpolate those codes as if they were continuous, producing codes such as 2.37.
* The classifier sees each frame's categorical columns as pandas categories **coded per
  frame**: XGBoost 2.0 (the authors' version) reads ``Series.cat.codes``, so a value's code is
  its position among the sorted values *present in that frame*. Train and test codes can
  therefore disagree. XGBoost >= 3.1 re-codes categories by value, which would silently fix
  the quirk, so we hand it the per-frame codes over one shared integer category set.

Corrected mode fits one category list on the training frame and applies it to the test frame
(categories unseen in training become missing values, which both classifiers handle).
"""

from __future__ import annotations

import numpy as np
import pandas as pd


def ordinal_per_frame(X: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """Published-mode input of the SMOTE family: per-frame category codes, every column float."""
    out = X.copy()
    for c in categorical:
        out[c] = pd.Categorical(X[c]).codes.astype("float64")
    for c in X.columns:
        if c not in categorical:
            out[c] = X[c].astype("float64")
    return out


def decode_ordinal(X_codes: pd.DataFrame, reference: pd.DataFrame, categorical: list[str]) -> pd.DataFrame:
    """Map (possibly interpolated) per-frame codes back to ``reference``'s categories.

    Used only to measure synthetic rows of published-mode runs in the original space:
    a code is rounded to the nearest valid one.
    """
    out = X_codes.copy()
    for c in categorical:
        cats = pd.Categorical(reference[c]).categories
        idx = np.clip(np.rint(X_codes[c].to_numpy(dtype=float)), 0, len(cats) - 1).astype(int)
        out[c] = np.asarray(cats)[idx]
    for c in X_codes.columns:
        if c not in categorical and c in reference.columns:
            out[c] = X_codes[c].astype(reference[c].dtype) if np.all(
                np.mod(X_codes[c].to_numpy(dtype=float), 1) == 0
            ) else X_codes[c]
    return out


def classifier_frames(
    X_train: pd.DataFrame,
    X_test: pd.DataFrame,
    numeric: list[str],
    categorical: list[str],
    mode: str,
) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Frames ready for a classifier with native categorical support.

    Numeric columns become float64; categorical columns become pandas ``category``.
    """
    if mode not in ("published", "corrected"):
        raise ValueError(f"protocol mode must be 'published' or 'corrected', got {mode!r}.")
    Xtr = pd.DataFrame(index=range(len(X_train)))
    Xte = pd.DataFrame(index=range(len(X_test)))
    for c in numeric:
        Xtr[c] = X_train[c].to_numpy(dtype="float64")
        Xte[c] = X_test[c].to_numpy(dtype="float64")
    for c in categorical:
        if mode == "published":
            # Each frame coded on its own sorted values (the authors' encode_data + astype).
            ctr = pd.Categorical(X_train[c].to_numpy()).codes
            cte = pd.Categorical(X_test[c].to_numpy()).codes
            dtype = pd.CategoricalDtype(list(range(int(max(ctr.max(), cte.max())) + 1)))
            Xtr[c] = pd.Categorical.from_codes(ctr, dtype=dtype)
            Xte[c] = pd.Categorical.from_codes(cte, dtype=dtype)
        else:
            cats = sorted(pd.unique(X_train[c].astype(str)))
            dtype = pd.CategoricalDtype(cats)
            Xtr[c] = pd.Categorical(X_train[c].astype(str), dtype=dtype)
            Xte[c] = pd.Categorical(X_test[c].astype(str), dtype=dtype)
    return Xtr[numeric + categorical], Xte[numeric + categorical]
