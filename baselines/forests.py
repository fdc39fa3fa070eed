"""Tree-based generators beyond the paper's: ForestFlow and adversarial random forests.

* ``ForestFlow`` (``forestdiffusion``, Jolicoeur-Martineau et al., AISTATS 2024): flow matching
  whose vector field is a set of XGBoost regressors, one per noise level, on CPUs.
* ``ARF`` (``arfpy``, Watson et al., AISTATS 2023): a random forest trained adversarially until
  it cannot tell real rows from its own, then sampled leaf by leaf.

Both fit on the minority rows only, as CTGAN does: each library learns one model per class
(ForestDiffusion's ``label_y``) or one joint model, so a model of the whole table would spend
its trees on the majority rows it never samples. They need the ``modern`` extra
(``pip install 'imbllm[modern]'``).

Both libraries draw from numpy's global random state. The draws are seeded from
``random_state`` inside :func:`_global_seed`, which restores the caller's state afterwards, so
the same seed gives the same rows and nothing outside the call is touched.

    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": range(40), "c": ["x", "y"] * 20})
    >>> y = pd.Series([0] * 30 + [1] * 10)
    >>> s = ARF(num_trees=5, max_iters=1, random_state=0)
    >>> Xr, yr = s.fit_resample(X, y)
    >>> int((yr == 1).sum()), sorted(Xr["c"].unique())
    (30, ['x', 'y'])
"""

from __future__ import annotations

import contextlib
import time
import warnings
from numbers import Integral, Real

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from imbllm.base import BaseOversampler, Generated
from imbllm.optional import require

_POSITIVE = [Interval(Integral, 1, None, closed="left")]


@contextlib.contextmanager
def _global_seed(seed: int):
    """numpy's global random state seeded with ``seed`` inside, the caller's restored after."""
    state = np.random.get_state()
    np.random.seed(seed)
    try:
        yield
    finally:
        np.random.set_state(state)


@contextlib.contextmanager
def _numpy_in1d():
    """``np.in1d`` for the duration of the call: arfpy 0.1.1 (its latest release) prunes its
    trees with it, and NumPy 2.4 removed it; ``np.isin`` is NumPy's named replacement, the same
    result on the 1-D arrays arfpy passes."""
    had = hasattr(np, "in1d")
    if not had:
        np.in1d = np.isin
    try:
        yield
    finally:
        if not had:
            del np.in1d


def _int_seed(random_state) -> int:
    """An int seed for a library that takes only ints: the int itself, else one drawn from it."""
    if isinstance(random_state, Integral):
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    return int(check_random_state(random_state).randint(2**31 - 1))


class _MinorityForest(BaseOversampler):
    """Fit on the minority rows, sample ``n`` rows, time the two stages."""

    def _fit_sample(self, rows: pd.DataFrame, n: int, seed: int) -> tuple[pd.DataFrame, float]:
        raise NotImplementedError

    def _generate(self, X, y, n):
        rows = X[(y == self.minority_class_).to_numpy()].reset_index(drop=True)
        seed = _int_seed(self.random_state)
        with _global_seed(seed):
            new, fit_seconds, sample_seconds = self._fit_sample(rows, n, seed)
        labels = pd.Series([self.minority_class_] * len(new), name=y.name, dtype=y.dtype)
        return Generated(X=new[list(X.columns)].reset_index(drop=True), y=labels,
                         fit_seconds=fit_seconds, sample_seconds=sample_seconds,
                         extra=self._budget_used())

    def _budget_used(self) -> dict:
        """Settings the data decided, logged as metrics (none by default)."""
        return {}


class ForestFlow(_MinorityForest):
    """ForestFlow (``ForestDiffusion.ForestDiffusionModel``, ``diffusion_type="flow"``).

    Categorical columns are one-hot coded here and decoded by the largest of their columns:
    the library's own coding matches a column's dummies by a name prefix, so column 1 also
    takes column 11's ("1_" is in "11_0.0") once a table has more than ten columns.

    Parameters
    ----------
    n_t : int
        Noise levels, one XGBoost model each (library default 50).
    duplicate_K : int
        Noise draws per real row (library default 100).
    n_estimators, max_depth : int
        Each level's XGBoost model (library defaults 100, 7).
    max_cells : int or None
        At most this many values for each level's trees to fit: minority rows times
        ``duplicate_K`` times coded columns (numbers, plus one per category), which a level's
        cost grows with. ``duplicate_K`` is lowered to fit (at least 1) and the value used is
        logged as the metric ``duplicate_K``. None: the library's ``duplicate_K`` on any table.
    n_jobs : int
        Processes for the levels (1: one core per cell, as the benchmark runs).
    categorical_features, random_state
        As :class:`baselines.deep.CTGAN`.
    """

    _parameter_constraints = {
        **BaseOversampler._parameter_constraints,
        # One level leaves Euler's step 1 / (n_t - 1) undefined (ForestDiffusion divides by 0).
        "n_t": [Interval(Integral, 2, None, closed="left")],
        "duplicate_K": _POSITIVE, "n_estimators": _POSITIVE, "max_depth": _POSITIVE,
        "max_cells": [Interval(Integral, 1, None, closed="left"), None], "n_jobs": [Integral],
    }

    def __init__(self, n_t=50, duplicate_K=100, n_estimators=100, max_depth=7, max_cells=None,
                 n_jobs=1, categorical_features="auto", random_state=None):
        self.n_t = n_t
        self.duplicate_K = duplicate_K
        self.n_estimators = n_estimators
        self.max_depth = max_depth
        self.max_cells = max_cells
        self.n_jobs = n_jobs
        self.categorical_features = categorical_features
        self.random_state = random_state

    def _fit_sample(self, rows, n, seed):
        fd = require("ForestDiffusion", "modern", "ForestFlow")
        cats = list(self.schema_.categorical)
        numeric = [c for c in rows.columns if c not in cats]
        # Only the levels the minority rows hold: the model can make no other.
        levels = {c: sorted(rows[c].unique(), key=lambda v: (type(v).__name__, v)) for c in cats}
        parts = [rows[numeric].astype(float)] + [
            pd.DataFrame({f"{c}={v}": (rows[c] == v).astype(float) for v in levels[c]})
            for c in cats]
        data = pd.concat(parts, axis=1).to_numpy()
        self.duplicate_K_ = self.duplicate_K
        if self.max_cells is not None and data.size * self.duplicate_K > self.max_cells:
            self.duplicate_K_ = max(1, self.max_cells // data.size)
        t0 = time.perf_counter()
        model = fd.ForestDiffusionModel(
            data, n_t=self.n_t, duplicate_K=self.duplicate_K_, n_estimators=self.n_estimators,
            max_depth=self.max_depth, diffusion_type="flow", model="xgboost",
            n_jobs=self.n_jobs, seed=seed)
        t1 = time.perf_counter()
        out = model.generate(batch_size=n) if n > 0 else np.empty((0, data.shape[1]))
        t2 = time.perf_counter()
        new = pd.DataFrame(out[:, :len(numeric)], columns=numeric)
        at = len(numeric)
        for c in cats:
            block = out[:, at:at + len(levels[c])]
            new[c] = np.asarray(levels[c], dtype=object)[block.argmax(axis=1)]
            at += len(levels[c])
        return new, t1 - t0, t2 - t1


    def _budget_used(self) -> dict:
        return {"duplicate_K": self.duplicate_K_}


class ARF(_MinorityForest):
    """Adversarial random forest (``arfpy.arf``): FORDE densities, FORGE sampling.

    Parameters
    ----------
    num_trees, max_iters, min_node_size : int
        Library defaults (30, 10, 5): trees per forest, adversarial rounds, rows per leaf.
    delta : float
        Stop when the discriminator's accuracy is at most 0.5 + delta (default 0).
    dist : {"truncnorm"}
        Leaf density of numeric columns (the library's only one that samples).
    n_jobs : int
        Processes of each forest (1: one core per cell).
    """

    _parameter_constraints = {
        **BaseOversampler._parameter_constraints,
        "num_trees": _POSITIVE, "max_iters": [Interval(Integral, 0, None, closed="left")],
        "min_node_size": _POSITIVE, "delta": [Interval(Real, 0, 0.5, closed="both")],
        "dist": [StrOptions({"truncnorm"})], "n_jobs": [Integral],
    }

    def __init__(self, num_trees=30, max_iters=10, min_node_size=5, delta=0.0, dist="truncnorm",
                 n_jobs=1, categorical_features="auto", random_state=None):
        self.num_trees = num_trees
        self.max_iters = max_iters
        self.min_node_size = min_node_size
        self.delta = delta
        self.dist = dist
        self.n_jobs = n_jobs
        self.categorical_features = categorical_features
        self.random_state = random_state

    def _fit_sample(self, rows, n, seed):
        arf = require("arfpy.arf", "modern", "ARF")
        cats = list(self.schema_.categorical)
        # arfpy treats category columns as factors and every other one as continuous.
        table = rows.assign(**{c: pd.Categorical(rows[c]) for c in cats},
                            **{c: rows[c].astype(float) for c in rows.columns if c not in cats})
        t0 = time.perf_counter()
        # arfpy indexes Series by position, which pandas 2 warns about on every column and
        # row draw; the warnings say nothing about this run.
        with _numpy_in1d(), warnings.catch_warnings():
            warnings.filterwarnings("ignore", category=FutureWarning, module="arfpy")
            model = arf.arf(x=table, num_trees=self.num_trees, delta=self.delta,
                            max_iters=self.max_iters, min_node_size=self.min_node_size,
                            verbose=False, random_state=seed, n_jobs=self.n_jobs)
            model.forde(dist=self.dist)
            t1 = time.perf_counter()
            new = model.forge(n) if n > 0 else table.iloc[:0]
        t2 = time.perf_counter()
        new = new.assign(**{c: new[c].astype(object) for c in cats})
        return new, t1 - t0, t2 - t1
