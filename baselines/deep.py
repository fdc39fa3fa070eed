"""Deep generative baselines: CTGAN and TVAE (the ``ctgan`` library behind SDV).

As in the paper, each is fitted on the **minority rows only** and then samples the rows the
minority class needs; library defaults otherwise (300 epochs, batch 500). We call the ``ctgan``
models directly rather than through SDV's synthesizers: the networks are the same, and the SDV
wrapper adds metadata detection and constraint handling that this benchmark does not use.
"""

from __future__ import annotations

import time
from numbers import Integral

import pandas as pd
from sklearn.utils._param_validation import Interval

from imbllm.base import BaseOversampler, Generated
from imbllm.optional import require


def _require_ctgan():
    return require("ctgan", "deep", "CTGAN and TVAE")


class _MinorityGenerator(BaseOversampler):
    """Fit a tabular generator on the minority rows, sample ``n_requested_`` rows."""

    _parameter_constraints = {
        **BaseOversampler._parameter_constraints,
        "epochs": [Interval(Integral, 1, None, closed="left")],
        "batch_size": [Interval(Integral, 1, None, closed="left")],
    }

    def __init__(self, epochs=300, batch_size=500, categorical_features="auto", random_state=None):
        self.epochs = epochs
        self.batch_size = batch_size
        self.categorical_features = categorical_features
        self.random_state = random_state

    def _model(self):
        raise NotImplementedError

    def _generate(self, X, y, n):
        rows = X[(y == self.minority_class_).to_numpy()].reset_index(drop=True)
        model = self._model()
        # Seeds torch and numpy inside ctgan's fit and sample, restoring global state after.
        model.set_random_state(self.random_state)
        t0 = time.perf_counter()
        model.fit(rows, discrete_columns=list(self.schema_.categorical))
        t1 = time.perf_counter()
        new = model.sample(n) if n > 0 else rows.iloc[:0]
        t2 = time.perf_counter()
        new = new[list(X.columns)].reset_index(drop=True)
        labels = pd.Series([self.minority_class_] * len(new), name=y.name, dtype=y.dtype)
        return Generated(X=new, y=labels, fit_seconds=t1 - t0, sample_seconds=t2 - t1)


class CTGAN(_MinorityGenerator):
    """CTGAN fitted on the minority rows (``ctgan.CTGAN``).

    Parameters
    ----------
    epochs, batch_size : int
        Library defaults (300, 500) as in the paper.
    categorical_features : "auto" or list of str
        Columns treated as discrete.
    random_state : int or None
        Seed for ctgan's torch and numpy draws.
    """

    def _model(self):
        ctgan = _require_ctgan()
        return ctgan.CTGAN(epochs=self.epochs, batch_size=self.batch_size, enable_gpu=False)


class TVAE(_MinorityGenerator):
    """TVAE fitted on the minority rows (``ctgan.TVAE``); parameters as :class:`CTGAN`."""

    def _model(self):
        ctgan = _require_ctgan()
        return ctgan.TVAE(epochs=self.epochs, batch_size=self.batch_size, enable_gpu=False)
