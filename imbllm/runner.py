"""One benchmark run, without Hydra: split -> resample -> classify -> score (protocol.md §2).

:func:`execute_run` reads top to bottom, one stage a function. Logging the result is the
caller's (:func:`imbllm.pipeline.run_spec`, which the Hydra entry point calls); scripts and
tests call :func:`execute_run` directly.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass

import numpy as np
import pandas as pd

from imbllm.base import BaseOversampler
from imbllm.classifiers import predict_codes
from imbllm.data import Dataset
from imbllm.encoding import classifier_frames, decode_ordinal, ordinal_per_frame
from imbllm.metrics.classification import classification_metrics
from imbllm.protocol import Split, make_split
from imbllm.runspec import MethodSpec
from imbllm.store import ResampleStore

log = logging.getLogger(__name__)


@dataclass
class RunRecord:
    """Everything one run produced: metrics (numbers), tags (text), synthetic minority rows."""

    metrics: dict[str, float]
    tags: dict[str, str]
    synthetic: pd.DataFrame


@dataclass
class Resampled:
    """The oversampled training set and what the sampler reported about making it."""

    X: pd.DataFrame
    y: pd.Series
    n_input: int
    telemetry: dict[str, float]
    tags: dict[str, str]
    fallback: str | None
    cache_hit: bool


def _sampler_input(split: Split, method: MethodSpec, mode: str, categorical):
    """What the sampler is fitted on, and the categorical columns it is told about."""
    X = split.X_train if method.train_on == "full_split" else split.X_imb
    y = split.y_train if method.train_on == "full_split" else split.y_imb
    if mode == "published" and method.published_input != "original":
        X = ordinal_per_frame(X, categorical)
        cats = [] if method.published_input == "ordinal_as_numeric" else list(categorical)
        return X, y, cats
    return X, y, list(categorical)


def resample(
    split: Split,
    method: MethodSpec,
    make_sampler: Callable[..., BaseOversampler],
    *,
    mode: str,
    categorical: list[str],
    seed: int,
    sampler_key: str = "",
    store: ResampleStore | None = None,
) -> Resampled:
    """Stage 2: oversample the training split (or take the stored set made from the same input)."""
    X_in, y_in, cats = _sampler_input(split, method, mode, categorical)
    key = None
    if store is not None:
        key = ResampleStore.address(sampler_key, cats, seed, X_in, y_in, family=method.family)
    hit = store.get(key) if key else None
    if hit is not None:
        X_res, y_res, telemetry, fallback, tags = hit
    else:
        sampler = make_sampler(categorical_features=cats)
        X_res, y_res = sampler.fit_resample(X_in, y_in)
        telemetry, tags, fallback = sampler.run_metrics(), dict(sampler.tags_), sampler.fallback_
        if key:
            store.put(key, (X_res, y_res, telemetry, fallback, tags))
    return Resampled(X_res, y_res, len(X_in), telemetry, tags, fallback, hit is not None)


def classify(split: Split, res: Resampled, make_classifier, numeric, categorical, mode: str, name: str) -> dict:
    """Stage 3: train the classifier on the oversampled set, score the test split (§3)."""
    classes = split.classes
    code = {c: i for i, c in enumerate(classes)}
    unknown = set(pd.unique(res.y)) - set(code)
    if unknown:
        raise RuntimeError(f"{name} returned labels {sorted(map(str, unknown))} not in {classes}.")
    y_fit = res.y.map(code).to_numpy()
    y_true = split.y_test.map(code).to_numpy()
    Xtr, Xte = classifier_frames(res.X, split.X_test, numeric, categorical, mode)
    clf = make_classifier().fit(Xtr, y_fit)
    proba = clf.predict_proba(Xte)
    fitted = np.unique(y_fit)
    if len(fitted) != len(classes):  # a class absent from training: pad its probability column
        full = np.zeros((len(Xte), len(classes)))
        full[:, fitted] = proba
        proba = full
    y_pred = predict_codes(proba, np.arange(len(classes)))
    return classification_metrics(y_true, y_pred, proba, code[split.minority], len(classes))


def synthetic_minority(split: Split, res: Resampled, method: MethodSpec, mode: str, categorical) -> pd.DataFrame:
    """The synthetic minority rows, in the original space (published codes decoded)."""
    new = res.X.iloc[res.n_input:]
    S = new[(res.y.iloc[res.n_input:] == split.minority).to_numpy()].reset_index(drop=True)
    if mode == "published" and method.published_input != "original":
        seen = split.X_train if method.train_on == "full_split" else split.X_imb
        S = decode_ordinal(S, seen, categorical)
    return S


def execute_run(
    dataset: Dataset,
    method: MethodSpec,
    make_sampler: Callable[..., BaseOversampler],
    make_classifier: Callable[[], object],
    *,
    mode: str,
    seed: int,
    ratio: float = 0.2,
    test_size: float = 0.2,
    sampler_key: str = "",
    store: ResampleStore | None = None,
    synthetic_metrics: Callable[..., dict] | None = None,
) -> RunRecord:
    """Run the protocol once and return its metrics, tags and synthetic rows.

    Parameters
    ----------
    make_sampler : callable
        ``make_sampler(categorical_features=[...])`` builds a fresh oversampler, told which
        columns are categorical in what it will be fitted on.
    make_classifier : callable
        Builds a fresh classifier (so a run never reuses fitted state).
    sampler_key : str
        Canonical text of the sampler's configuration; with ``store`` it addresses the stored
        oversampled set together with the content of the sampler's input.
    synthetic_metrics : callable, optional
        ``f(S, R, U, numeric, categorical) -> dict``, logged with the classification metrics.
    """
    numeric, categorical = list(dataset.spec.numeric), list(dataset.spec.categorical)
    t0 = time.perf_counter()
    split = make_split(dataset.X, dataset.y, seed=seed, ratio=ratio, test_size=test_size)
    res = resample(split, method, make_sampler, mode=mode, categorical=categorical, seed=seed,
                   sampler_key=sampler_key, store=store)
    t1 = time.perf_counter()
    metrics = classify(split, res, make_classifier, numeric, categorical, mode, method.name)
    t2 = time.perf_counter()
    S = synthetic_minority(split, res, method, mode, categorical)
    # "balance" trains on other real rows, not synthetic ones: nothing to judge. "standard" has
    # no synthetic rows, but its dum_reference (real minority vs unseen minority) is the baseline.
    if synthetic_metrics is not None and method.train_on == "imbalanced":
        R = split.X_imb[(split.y_imb == split.minority).to_numpy()].reset_index(drop=True)
        U = split.X_test[(split.y_test == split.minority).to_numpy()].reset_index(drop=True)
        metrics.update(synthetic_metrics(S, R, U, numeric, categorical))
    t3 = time.perf_counter()

    metrics.update({"n_requested": 0.0, **res.telemetry})
    metrics.update(
        {
            "n_train_minority": float((split.y_imb == split.minority).sum()),
            "n_gen": float(split.n_gen),
            # Rows the classifier saw as synthetic minority: a labeller may relabel or drop rows.
            "n_synthetic_minority": float(len(S)),
            "resample_seconds": t1 - t0,
            "classify_seconds": t2 - t1,
            "synthetic_metrics_seconds": t3 - t2,
            "resample_cache_hit": float(res.cache_hit),
        }
    )
    tags = {**res.tags, "fallback": res.fallback or "none", "minority_class": str(split.minority)}
    synthetic = S.copy()
    synthetic[dataset.spec.target] = split.minority
    return RunRecord(metrics=metrics, tags=tags, synthetic=synthetic)
