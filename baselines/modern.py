"""imbalanced-learn's filtered and clustered SMOTE variants behind the project's contract.

* ``BorderlineSMOTE``: interpolates from the minority rows "in danger" (more than half, not
  all, of their ``m_neighbors`` nearest rows of another class).
* ``SVMSMOTE``: interpolates from, and extrapolates away from, the minority support vectors of
  an SVM.
* ``KMeansSMOTE``: clusters the table with K-Means and interpolates inside the clusters where the
  minority is dense enough.

They share SMOTE's encoding (categorical codes interpolated and rounded back to a valid
category), its small-minority fallback to random oversampling, and its strategies. Each
variant can come up short on some tables, and imbalanced-learn then raises (K-Means SMOTE finds
no cluster, SVM-SMOTE sees only noisy support vectors) or makes fewer rows without a word
(Borderline-SMOTE finds no row in danger; SVM-SMOTE with no support vector in danger, or none
safe). In every such case the rows the variant did not make are made by SMOTE with the same
neighbours and seed, and ``fallback_`` says how many and why, as ADASYN's fallback does.
K-Means SMOTE rounds each cluster's share up and can make a few rows more than asked: the
surplus is dropped at random (seeded), so that every method makes ``n_requested_`` rows.

    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": range(40), "b": [0.5, 1.5] * 20})
    >>> y = pd.Series([0] * 30 + [1] * 10)
    >>> s = BorderlineSMOTE(random_state=0)
    >>> Xr, yr = s.fit_resample(X, y)
    >>> int((yr == 1).sum()), s.fallback_ is None
    (30, True)
"""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
import pandas as pd
from imblearn import over_sampling
from sklearn.cluster import MiniBatchKMeans
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import Interval, StrOptions

from baselines.classical import _NEIGHBOURS, _KNeighbours
from imbllm.base import MIN_NEIGHBOUR_ROWS, Generated, class_counts

# The sentences imbalanced-learn (0.14) raises when a variant finds nothing to work from; any
# other error of the library is a bug to see, not a table to fall back on.
_CANNOT_RUN = ("No clusters found with sufficient samples",
               "All support vectors are considered as noise")


class _SMOTEVariant(_KNeighbours):
    """SMOTE's plumbing, plus: rows the variant cannot make come from SMOTE, recorded."""

    #: What the fallback sentence calls the method.
    _title = "SMOTE variant"
    #: Why the variant makes fewer rows than asked without raising (for the fallback sentence).
    _short_reason = "it made fewer rows than asked"

    def _generate(self, X, y, n):
        if int(class_counts(y).min()) <= MIN_NEIGHBOUR_ROWS:
            return super()._generate(X, y, n)  # random oversampling, recorded by the base
        try:
            gen = super()._generate(X, y, n)
        except (RuntimeError, ValueError) as err:
            if not str(err).startswith(_CANNOT_RUN):
                raise
            gen = Generated(X=X.iloc[:0], y=y.iloc[:0])
            reason = str(err).split(".")[0].lower()
        else:
            reason = self._short_reason
        return self._to_target(X, y, gen, reason)

    def _targets(self, y: pd.Series) -> dict:
        """Rows each oversampled class should hold after resampling."""
        strategy = self._strategy(y)
        if isinstance(strategy, dict):
            return strategy
        counts = class_counts(y)
        return {c: int(counts.max()) for c, k in counts.items() if k < counts.max()}

    def _to_target(self, X, y, gen: Generated, reason: str) -> Generated:
        """``gen`` brought to each class's target: SMOTE makes what is missing, a seeded draw
        drops a surplus, and the fallback says what happened."""
        counts = class_counts(y)
        made = gen.y.value_counts()
        missing = {c: t - int(counts[c]) - int(made.get(c, 0)) for c, t in self._targets(y).items()}
        keep = np.ones(len(gen.y), dtype=bool)
        rng = check_random_state(self.random_state)
        for c, gap in missing.items():
            if gap < 0:  # K-Means SMOTE's rounding up
                rows = np.flatnonzero(gen.y.to_numpy() == c)
                keep[rng.choice(rows, size=-gap, replace=False)] = False
        X_new = gen.X[keep].reset_index(drop=True)
        y_new = gen.y[keep].reset_index(drop=True)
        short = {c: gap for c, gap in missing.items() if gap > 0}
        if not short:
            return Generated(X=X_new, y=y_new)
        smote = over_sampling.SMOTE(
            sampling_strategy={c: int(counts[c]) + gap for c, gap in short.items()},
            k_neighbors=self.k_neighbors, random_state=self.random_state)
        X_res, y_res = smote.fit_resample(self._encode(X), y)
        X_top = self._decode(X_res.iloc[len(X):].reset_index(drop=True))
        y_top = pd.Series(np.asarray(y_res)[len(X):], name=y.name)
        n_top = len(y_top)
        fallback = (f"{self._title} could not make {n_top} of its {n_top + len(y_new)} rows "
                    f"({reason}); SMOTE made them instead")
        return Generated(X=pd.concat([X_new, X_top], ignore_index=True),
                         y=pd.concat([y_new, y_top], ignore_index=True),
                         fallback=fallback)


class BorderlineSMOTE(_SMOTEVariant):
    """Borderline-SMOTE (imbalanced-learn ``BorderlineSMOTE``) on encoded features.

    Parameters
    ----------
    k_neighbors : int
        Neighbours of the same class to interpolate with (default 5).
    m_neighbors : int
        Neighbours that decide whether a row is in danger (default 10).
    kind : {"borderline-1", "borderline-2"}
        Interpolate towards the same class only, or towards any class (default 1).
    sampling_strategy, categorical_features, random_state
        As :class:`baselines.classical.SMOTE`.
    """

    _parameter_constraints = {**_KNeighbours._parameter_constraints, "m_neighbors": _NEIGHBOURS,
                              "kind": [StrOptions({"borderline-1", "borderline-2"})]}
    _title = "Borderline-SMOTE"
    _short_reason = "no minority row is in danger"

    def __init__(self, k_neighbors=5, m_neighbors=10, kind="borderline-1",
                 sampling_strategy="minority", categorical_features="auto", random_state=None):
        self.k_neighbors = k_neighbors
        self.m_neighbors = m_neighbors
        self.kind = kind
        self.sampling_strategy = sampling_strategy
        self.categorical_features = categorical_features
        self.random_state = random_state

    def _make(self, strategy):
        return over_sampling.BorderlineSMOTE(
            sampling_strategy=strategy, k_neighbors=self.k_neighbors,
            m_neighbors=self.m_neighbors, kind=self.kind, random_state=self.random_state)


class SVMSMOTE(_SMOTEVariant):
    """SVM-SMOTE (imbalanced-learn ``SVMSMOTE``, its default linear-kernel ``SVC``).

    Parameters
    ----------
    k_neighbors, m_neighbors : int
        As :class:`BorderlineSMOTE`.
    out_step : float
        How far rows are extrapolated away from safe support vectors (default 0.5).
    """

    _parameter_constraints = {**_KNeighbours._parameter_constraints, "m_neighbors": _NEIGHBOURS,
                              "out_step": [Interval(Real, 0, None, closed="left")]}
    _title = "SVM-SMOTE"
    _short_reason = "its support vectors were all in danger or all safe"

    def __init__(self, k_neighbors=5, m_neighbors=10, out_step=0.5,
                 sampling_strategy="minority", categorical_features="auto", random_state=None):
        self.k_neighbors = k_neighbors
        self.m_neighbors = m_neighbors
        self.out_step = out_step
        self.sampling_strategy = sampling_strategy
        self.categorical_features = categorical_features
        self.random_state = random_state

    def _make(self, strategy):
        return over_sampling.SVMSMOTE(
            sampling_strategy=strategy, k_neighbors=self.k_neighbors,
            m_neighbors=self.m_neighbors, out_step=self.out_step, random_state=self.random_state)


class KMeansSMOTE(_SMOTEVariant):
    """K-Means SMOTE (imbalanced-learn ``KMeansSMOTE``, its ``MiniBatchKMeans``).

    Parameters
    ----------
    k_neighbors : int
        Neighbours inside a cluster (imbalanced-learn's default is 2; 5 here, as SMOTE).
    n_clusters : int
        K-Means clusters (imbalanced-learn's default, 8).
    cluster_balance_threshold : "share", "auto" or float
        The share of a class a cluster needs for that class to be oversampled in it.
        ``"share"`` (default): the class's share of the whole table, so that a cluster at
        least as dense in the class as the table qualifies. ``"auto"`` is imbalanced-learn's:
        half the class's share of the rows to make, which is 0.5 when one class is
        oversampled; on the benchmark's tables (minority a sixth of the rows or less) no
        cluster of 8 reached it on german, bank or sick, and every row came from the fallback.
    """

    _parameter_constraints = {**_KNeighbours._parameter_constraints,
                              "n_clusters": [Interval(Integral, 1, None, closed="left")],
                              "cluster_balance_threshold": [StrOptions({"share", "auto"}),
                                                            Interval(Real, 0, 1, closed="both")]}
    _title = "K-Means SMOTE"

    def __init__(self, k_neighbors=5, n_clusters=8, cluster_balance_threshold="share",
                 sampling_strategy="minority", categorical_features="auto", random_state=None):
        self.k_neighbors = k_neighbors
        self.n_clusters = n_clusters
        self.cluster_balance_threshold = cluster_balance_threshold
        self.sampling_strategy = sampling_strategy
        self.categorical_features = categorical_features
        self.random_state = random_state

    def _generate(self, X, y, n):
        counts = class_counts(y)
        oversampled = [c for c in self._targets(y) if counts[c] < counts.max()] or [counts.idxmin()]
        self.cluster_threshold_ = (
            float(counts[oversampled].min() / counts.sum())
            if self.cluster_balance_threshold == "share" else self.cluster_balance_threshold)
        return super()._generate(X, y, n)

    def _make(self, strategy):
        # n_init fixed to sklearn's current default so a version change cannot move rows.
        kmeans = MiniBatchKMeans(n_clusters=self.n_clusters, n_init=3,
                                 random_state=self.random_state)
        return over_sampling.KMeansSMOTE(
            sampling_strategy=strategy, k_neighbors=self.k_neighbors, kmeans_estimator=kmeans,
            cluster_balance_threshold=self.cluster_threshold_,
            random_state=self.random_state)
