"""The downstream classifiers: XGBoost (the paper's) and CatBoost, both seeded.

Each takes frames from :func:`imbllm.encoding.classifier_frames` (numeric float64,
categorical pandas ``category``) and integer label codes.
"""

from __future__ import annotations

import numpy as np
import pandas as pd


class XGBoost:
    """XGBoost with default settings and native categorical support, as in the paper.

    Parameters
    ----------
    random_state : int
        Seed (the paper uses the run's seed).
    n_jobs : int or None
        Threads; ``None`` lets XGBoost decide.
    **params
        Any other ``xgboost.XGBClassifier`` argument (defaults are the paper's).
    """

    name = "xgboost"

    def __init__(self, random_state: int = 0, n_jobs: int | None = None, **params):
        self.random_state = random_state
        self.n_jobs = n_jobs
        self.params = params

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> XGBoost:
        from xgboost import XGBClassifier

        self.model_ = XGBClassifier(
            random_state=self.random_state,
            enable_categorical=True,
            n_jobs=self.n_jobs,
            **self.params,
        )
        self.model_.fit(X, y)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        return self.model_.predict_proba(X)


class CatBoost:
    """CatBoost with categorical columns given natively.

    Parameters
    ----------
    random_state : int
        Seed (``random_seed``).
    thread_count : int
        Threads (-1: all cores).
    **params
        Any other ``catboost.CatBoostClassifier`` argument (library defaults otherwise).
    """

    name = "catboost"

    def __init__(self, random_state: int = 0, thread_count: int = -1, **params):
        self.random_state = random_state
        self.thread_count = thread_count
        self.params = params

    @staticmethod
    def _frame(X: pd.DataFrame) -> tuple[pd.DataFrame, list[str]]:
        # CatBoost wants categorical values as strings or ints, not pandas categories.
        cats = [c for c in X.columns if isinstance(X[c].dtype, pd.CategoricalDtype)]
        out = X.copy()
        for c in cats:
            out[c] = X[c].astype(str)
        return out, cats

    def fit(self, X: pd.DataFrame, y: np.ndarray) -> CatBoost:
        from catboost import CatBoostClassifier

        Xc, cats = self._frame(X)
        self.model_ = CatBoostClassifier(
            random_seed=self.random_state,
            thread_count=self.thread_count,
            verbose=0,
            allow_writing_files=False,
            **self.params,
        )
        self.model_.fit(Xc, y, cat_features=cats)
        return self

    def predict_proba(self, X: pd.DataFrame) -> np.ndarray:
        Xc, _ = self._frame(X)
        return self.model_.predict_proba(Xc)


def predict_codes(proba: np.ndarray, classes_fitted: np.ndarray) -> np.ndarray:
    """Hard predictions (label codes) from probabilities over the fitted classes."""
    return np.asarray(classes_fitted)[np.argmax(proba, axis=1)]
