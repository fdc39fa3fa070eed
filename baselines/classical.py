"""Classical oversamplers behind the project's contract: thin wrappers of imbalanced-learn.

* ``Standard``: no oversampling (the reference row).
* ``RandomOversampler``: random duplication of minority rows.
* ``SMOTE`` / ``ADASYN``: interpolate numerically encoded features. Categorical columns named in
  ``categorical_features`` are ordinal-coded for the interpolation and rounded back to the
  nearest valid category (the corrected mode's fix); with ``categorical_features=[]`` every
  column is treated as continuous, which is what the published protocol does with its codes.
* ``SMOTENC``: categorical columns declared.

With ``MIN_NEIGHBOUR_ROWS`` (5) minority rows or fewer, the neighbour-based methods fall back
to random oversampling, as the authors' code does, and record it in ``fallback_``.

``sampling_strategy``: ``"minority"`` (default) brings the minority class up to the largest
class, the ``n_gen`` rows every method of the benchmark generates; ``"auto"`` is
imbalanced-learn's default (every class but the majority), which the published protocol uses.
"""

from __future__ import annotations

from numbers import Integral

import numpy as np
import pandas as pd
from imblearn import over_sampling
from sklearn.neighbors import NearestNeighbors
from sklearn.utils._param_validation import Interval, StrOptions

from imbllm.base import MIN_NEIGHBOUR_ROWS, BaseOversampler, Generated, ParameterError, class_counts

_STRATEGY = {"sampling_strategy": [StrOptions({"minority", "auto"})]}
_NEIGHBOURS = [Interval(Integral, 1, None, closed="left")]


class Standard(BaseOversampler):
    """No oversampling: returns the input unchanged (the "standard" reference row)."""

    generates = False

    def __init__(self, categorical_features="auto", random_state=None):
        self.categorical_features = categorical_features
        self.random_state = random_state

    def _generate(self, X, y, n):
        return Generated(X=X.iloc[:0], y=y.iloc[:0])


class _ImblearnSampler(BaseOversampler):
    """Shared plumbing: strategy, encoding, the small-minority fallback."""

    _parameter_constraints = {**BaseOversampler._parameter_constraints, **_STRATEGY}
    #: Whether categorical columns are coded to numbers before the sampler sees them.
    _encode_categories = True
    #: The argument that counts a row's neighbours (None: the method has none).
    _neighbours: str | None = None

    def check_data(self, X, y):
        """The neighbours asked for exist: more rows in the smallest class to oversample than
        neighbours (unless it is small enough for the random fallback, or nothing is made)."""
        super().check_data(X, y)
        counts = class_counts(y)
        smallest = int(counts.min())
        if self._neighbours is None or smallest <= MIN_NEIGHBOUR_ROWS or not self._n_requested(y):
            return
        k, label = getattr(self, self._neighbours), counts.idxmin()
        label = label.item() if isinstance(label, np.generic) else label
        if k >= smallest:
            raise ParameterError(
                self._neighbours, k,
                f"{type(self).__name__} interpolates between a row and its {self._neighbours} "
                f"nearest rows of its class, and class {label!r} has {smallest} training "
                f"rows; use {self._neighbours} <= {smallest - 1} (the default is 5)")

    def _strategy(self, y: pd.Series):
        if self.sampling_strategy == "minority":
            counts = class_counts(y)
            return {self.minority_class_: int(counts.max())}
        return "auto"  # check_params admits only the two

    def _n_requested(self, y):
        counts = class_counts(y)
        if self.sampling_strategy == "auto":
            return int((counts.max() - counts).sum())
        return int(counts.max() - counts.min())

    def _make(self, strategy):
        raise NotImplementedError

    def _encode(self, X: pd.DataFrame) -> pd.DataFrame:
        if not self._encode_categories:
            return X
        out = X.copy()
        for c in self.schema_.categorical:
            out[c] = pd.Categorical(X[c], categories=self.schema_.categories[c]).codes.astype(float)
        return out

    def _decode(self, Xn: pd.DataFrame) -> pd.DataFrame:
        """Interpolated codes back to the nearest valid category (the corrected mode's fix)."""
        if not self._encode_categories:
            return Xn
        cats = {c: np.asarray(self.schema_.categories[c], dtype=object) for c in self.schema_.categorical}
        nearest = {c: v[np.clip(np.rint(Xn[c].to_numpy(dtype=float)), 0, len(v) - 1).astype(int)]
                   for c, v in cats.items()}
        return Xn.assign(**nearest)

    def _generate(self, X, y, n):
        strategy = self._strategy(y)
        small = int(class_counts(y).min()) <= MIN_NEIGHBOUR_ROWS
        fallback = None
        if small:
            sampler = over_sampling.RandomOverSampler(
                sampling_strategy=strategy, random_state=self.random_state
            )
            fallback = (
                f"{int(class_counts(y).min())} minority rows (<= {MIN_NEIGHBOUR_ROWS}): "
                "random oversampling instead of " + type(self).__name__
            )
            Xn = X
        else:
            sampler = self._make(strategy)
            Xn = self._encode(X)
        X_res, y_res = sampler.fit_resample(Xn, y)
        X_new = X_res.iloc[len(X):].reset_index(drop=True)
        y_new = pd.Series(np.asarray(y_res)[len(X):], name=y.name)
        if not small:
            X_new = self._decode(X_new)
        return Generated(X=X_new, y=y_new, fallback=fallback)


class RandomOversampler(_ImblearnSampler):
    """Random duplication of minority rows (imbalanced-learn ``RandomOverSampler``)."""

    _encode_categories = False

    def __init__(self, sampling_strategy="minority", categorical_features="auto", random_state=None):
        self.sampling_strategy = sampling_strategy
        self.categorical_features = categorical_features
        self.random_state = random_state

    def _make(self, strategy):
        return over_sampling.RandomOverSampler(sampling_strategy=strategy, random_state=self.random_state)


class _KNeighbours(_ImblearnSampler):
    """The constructor SMOTE and SMOTE-NC share (imbalanced-learn's argument names)."""

    _parameter_constraints = {**_ImblearnSampler._parameter_constraints, "k_neighbors": _NEIGHBOURS}
    _neighbours = "k_neighbors"

    def __init__(self, k_neighbors=5, sampling_strategy="minority", categorical_features="auto", random_state=None):
        self.k_neighbors = k_neighbors
        self.sampling_strategy = sampling_strategy
        self.categorical_features = categorical_features
        self.random_state = random_state


class SMOTE(_KNeighbours):
    """SMOTE (imbalanced-learn) on numerically encoded features.

    Examples
    --------
    >>> import pandas as pd
    >>> X = pd.DataFrame({"a": range(20), "c": ["x", "y"] * 10})
    >>> y = pd.Series([0] * 14 + [1] * 6)
    >>> Xr, yr = SMOTE(random_state=0).fit_resample(X, y)
    >>> int((yr == 1).sum()), sorted(Xr["c"].unique())
    (14, ['x', 'y'])
    """

    def _make(self, strategy):
        return over_sampling.SMOTE(
            sampling_strategy=strategy, k_neighbors=self.k_neighbors, random_state=self.random_state
        )


class ADASYN(_ImblearnSampler):
    """ADASYN (imbalanced-learn) on numerically encoded features.

    ADASYN decides per seed row how many rows to create and rounds each count, so its total can
    differ from ``n_requested_`` by a few rows; ``n_generated_`` records what it made. When no
    neighbour of any row of a class it oversamples belongs to another class, ADASYN cannot
    weight its seeds (imbalanced-learn raises): this sampler sees that in the data first, uses
    SMOTE instead and records it.
    """

    _parameter_constraints = {**_ImblearnSampler._parameter_constraints, "n_neighbors": _NEIGHBOURS}
    _neighbours = "n_neighbors"

    def __init__(self, n_neighbors=5, sampling_strategy="minority", categorical_features="auto", random_state=None):
        self.n_neighbors = n_neighbors
        self.sampling_strategy = sampling_strategy
        self.categorical_features = categorical_features
        self.random_state = random_state

    def _make(self, strategy):
        return over_sampling.ADASYN(
            sampling_strategy=strategy, n_neighbors=self.n_neighbors, random_state=self.random_state
        )

    def _unweighted_class(self, X: pd.DataFrame, y: pd.Series):
        """The first class to oversample whose rows have only same-class neighbours, else None.

        The test imbalanced-learn's ADASYN applies (the ``n_neighbors`` nearest rows of each
        row of the class, itself excluded), on the features it would see.
        """
        counts = class_counts(y)
        if self.sampling_strategy == "minority":
            classes = [self.minority_class_]
        else:  # "auto": every class below the largest
            classes = [c for c, k in counts.items() if k < counts.max()]
        Xn = self._encode(X).to_numpy(dtype=float)
        nn = NearestNeighbors(n_neighbors=self.n_neighbors + 1).fit(Xn)
        labels = y.to_numpy()
        for c in classes:
            rows = labels == c
            idx = nn.kneighbors(Xn[rows], return_distance=False)[:, 1:]
            if not (labels[idx] != c).any():
                return c
        return None

    def _generate(self, X, y, n):
        small = int(class_counts(y).min()) <= MIN_NEIGHBOUR_ROWS
        stuck = None if small else self._unweighted_class(X, y)
        if stuck is None:
            return super()._generate(X, y, n)
        out = SMOTE(
            k_neighbors=self.n_neighbors,
            sampling_strategy=self.sampling_strategy,
            random_state=self.random_state,
        )
        out.schema_, out.minority_class_ = self.schema_, self.minority_class_
        gen = out._generate(X, y, n)
        gen.fallback = (
            f"ADASYN could not weight its seeds: no row of class {stuck!r} has a neighbour of "
            f"another class among its {self.n_neighbors} nearest; SMOTE used instead"
        )
        return gen


class SMOTENC(_KNeighbours):
    """SMOTE-NC (imbalanced-learn) with the categorical columns declared.

    Continuous columns are handed over as floats: with integer-only continuous columns
    imbalanced-learn (0.14) builds an integer matrix, which truncates the scaled one-hot
    categorical block to zeros (categories then drop out of the distances and the new rows'
    categories are drawn at random) and truncates interpolated values. The output is cast back
    to the input dtypes (integers rounded) by the base class.
    """

    _encode_categories = False

    def _encode(self, X: pd.DataFrame) -> pd.DataFrame:
        out = X.copy()
        for c in self.schema_.numeric:
            out[c] = X[c].astype("float64")
        return out

    def _make(self, strategy):
        cats = self.schema_.categorical
        if not cats:
            # SMOTE-NC needs a categorical column; without one it is SMOTE.
            return over_sampling.SMOTE(
                sampling_strategy=strategy, k_neighbors=self.k_neighbors, random_state=self.random_state
            )
        if len(cats) == len(self.schema_.columns):
            return over_sampling.SMOTEN(
                sampling_strategy=strategy, k_neighbors=self.k_neighbors, random_state=self.random_state
            )
        return over_sampling.SMOTENC(
            categorical_features=cats,
            sampling_strategy=strategy,
            k_neighbors=self.k_neighbors,
            random_state=self.random_state,
        )
