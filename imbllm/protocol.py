"""The paper's protocol for one run (protocol.md §2): split, then cut the minority.

1. Stratified 80/20 train/test split, shuffled, ``random_state = seed``.
2. In the training split only, keep ``int(ratio * n_min)`` randomly chosen rows of the
   minority class (imbalanced-learn ``make_imbalance``, ``random_state = seed``).
3. ``n_gen = n_majority - n_minority`` rows are what an oversampler must add.

Both steps use the same library calls, in the same order, as the authors' code, so the same
seed selects the same rows.
"""

from __future__ import annotations

from collections.abc import Hashable
from dataclasses import dataclass

import pandas as pd
from imblearn.datasets import make_imbalance
from sklearn.model_selection import train_test_split

from imbllm.base import class_counts, minority_class, n_to_generate


@dataclass
class Split:
    """The frames of one run. ``X_train``/``y_train`` are the split before the cut."""

    X_train: pd.DataFrame
    y_train: pd.Series
    X_imb: pd.DataFrame
    y_imb: pd.Series
    X_test: pd.DataFrame
    y_test: pd.Series
    minority: Hashable
    n_gen: int
    seed: int
    ratio: float

    @property
    def classes(self) -> list:
        """Classes in label-code order (sorted), as the authors code them."""
        return class_counts(self.y_train).index.tolist()


def make_split(
    X: pd.DataFrame, y: pd.Series, *, seed: int, ratio: float = 0.2, test_size: float = 0.2
) -> Split:
    """Build the train/test split and the imbalanced training set of one run."""
    if not 0.0 < ratio <= 1.0:
        raise ValueError(
            f"ratio={ratio} is not a keep-fraction in (0, 1]: it is the share of training "
            "minority rows kept (the paper uses 0.2)."
        )
    if not 0.0 < test_size < 1.0:
        raise ValueError(f"test_size={test_size} must lie in (0, 1).")
    X_tr, X_te, y_tr, y_te = train_test_split(
        X, y, test_size=test_size, shuffle=True, stratify=y, random_state=seed
    )
    X_tr, y_tr = X_tr.reset_index(drop=True), y_tr.reset_index(drop=True)
    X_te, y_te = X_te.reset_index(drop=True), y_te.reset_index(drop=True)
    minority = minority_class(y_tr)
    keep = int(ratio * int((y_tr == minority).sum()))
    if keep < 1:
        raise ValueError(
            f"ratio={ratio} keeps {keep} of the {int((y_tr == minority).sum())} training rows of "
            f"class {minority!r}; at least one must remain. Raise the ratio."
        )
    X_imb, y_imb = make_imbalance(
        X_tr, y_tr, sampling_strategy={minority: keep}, random_state=seed
    )
    X_imb, y_imb = X_imb.reset_index(drop=True), y_imb.reset_index(drop=True)
    return Split(
        X_train=X_tr,
        y_train=y_tr,
        X_imb=X_imb,
        y_imb=y_imb,
        X_test=X_te,
        y_test=y_te,
        minority=minority,
        n_gen=n_to_generate(y_imb),
        seed=seed,
        ratio=ratio,
    )
