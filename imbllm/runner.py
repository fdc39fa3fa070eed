"""One benchmark run, without Hydra: split, oversample, classify, score (protocol.md §2).

The Hydra entry point (:mod:`imbllm.cli`) builds the objects from YAML and calls
:func:`execute_run`; scripts and tests call it directly.
"""

from __future__ import annotations

import hashlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

import joblib
import numpy as np
import pandas as pd

from imbllm.base import BaseOversampler
from imbllm.classifiers import predict_codes
from imbllm.data import Dataset
from imbllm.encoding import classifier_frames, decode_ordinal, ordinal_per_frame
from imbllm.metrics.classification import classification_metrics
from imbllm.protocol import Split, make_split

log = logging.getLogger(__name__)

PUBLISHED_INPUTS = ("original", "ordinal", "ordinal_as_numeric")


@dataclass
class MethodSpec:
    """A method as the benchmark sees it (``conf/method/<name>.yaml`` minus the sampler).

    ``published_input`` says what the published protocol feeds the sampler: ``original``
    values, ``ordinal`` per-frame codes with the categorical columns declared (SMOTE-NC and
    the reference rows), or ``ordinal_as_numeric`` codes treated as continuous (SMOTE, ADASYN).
    ``train_on="full_split"`` is the "balance" reference: the training split before the cut.
    """

    name: str
    family: str = "classical"
    published_input: str = "original"
    train_on: str = "imbalanced"

    def __post_init__(self):
        if self.published_input not in PUBLISHED_INPUTS:
            raise ValueError(
                f"method {self.name!r}: published_input must be one of {PUBLISHED_INPUTS}, got "
                f"{self.published_input!r}."
            )
        if self.train_on not in ("imbalanced", "full_split"):
            raise ValueError(f"method {self.name!r}: train_on must be 'imbalanced' or 'full_split'.")


@dataclass
class RunRecord:
    """Everything one run produced: metrics, tags and the synthetic minority rows."""

    metrics: dict[str, float]
    tags: dict[str, str]
    synthetic: pd.DataFrame
    timings: dict[str, float] = field(default_factory=dict)


def frame_digest(*frames: pd.DataFrame | pd.Series) -> str:
    """Content hash of frames (values, columns, dtypes): a cache key part."""
    h = hashlib.sha256()
    for f in frames:
        h.update(pd.util.hash_pandas_object(f, index=False).to_numpy().tobytes())
        if isinstance(f, pd.DataFrame):
            meta = (list(f.columns), [str(t) for t in f.dtypes])
        else:
            meta = ([f.name], [str(f.dtype)])
        h.update(repr(meta).encode())
    return h.hexdigest()


#: Code whose change must invalidate cached oversampled sets (the samplers and what they use).
_CODE_PATHS = ("imbllm/base.py", "imbllm/schema.py", "imbllm/llm", "baselines")


def code_digest() -> str:
    """Hash of the oversamplers' source: a cached set made by older code is never reused."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for rel in _CODE_PATHS:
        p = root / rel
        for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


class ResampleCache:
    """On-disk cache of oversampled training sets, keyed by sampler config and input content.

    A CTGAN or LLM run is then paid once per (data, sampler, seed), not once per classifier.
    The key includes :func:`code_digest`, so editing a sampler invalidates its entries. Writes
    are atomic, so a killed run never leaves a half entry.
    """

    def __init__(self, root: str | Path):
        self.root = Path(root)

    def _path(self, key: str) -> Path:
        return self.root / "resample" / f"{key}.joblib"

    def get(self, key: str):
        p = self._path(key)
        return joblib.load(p) if p.exists() else None

    def put(self, key: str, value) -> None:
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        tmp = p.with_suffix(".tmp")
        joblib.dump(value, tmp)
        tmp.replace(p)


def _sampler_input(split: Split, method: MethodSpec, mode: str, numeric, categorical):
    """What the sampler is fitted on, and the categorical columns it is told about."""
    X = split.X_train if method.train_on == "full_split" else split.X_imb
    y = split.y_train if method.train_on == "full_split" else split.y_imb
    if mode == "published" and method.published_input != "original":
        X = ordinal_per_frame(X, categorical)
        cats = [] if method.published_input == "ordinal_as_numeric" else list(categorical)
        return X, y, cats
    return X, y, list(categorical)


def execute_run(
    dataset: Dataset,
    method: MethodSpec,
    make_sampler: Callable[[], BaseOversampler],
    make_classifier: Callable[[], object],
    *,
    mode: str,
    seed: int,
    ratio: float = 0.2,
    test_size: float = 0.2,
    sampler_key: str = "",
    cache: ResampleCache | None = None,
    synthetic_metrics: Callable[..., dict] | None = None,
) -> RunRecord:
    """Run the protocol once and return its metrics, tags and synthetic rows.

    Parameters
    ----------
    make_sampler, make_classifier : callables
        Build a fresh oversampler / classifier (so a run never reuses fitted state).
    sampler_key : str
        Canonical text of the sampler's configuration; with ``cache`` it keys the resample
        cache together with the content of the sampler's input.
    synthetic_metrics : callable, optional
        ``f(S, R, U, numeric, categorical) -> dict``, logged with the classification metrics.
    """
    numeric, categorical = list(dataset.spec.numeric), list(dataset.spec.categorical)
    t0 = time.perf_counter()
    split = make_split(dataset.X, dataset.y, seed=seed, ratio=ratio, test_size=test_size)
    X_in, y_in, cats = _sampler_input(split, method, mode, numeric, categorical)

    key = None
    if cache is not None:
        key = hashlib.sha256(
            f"{sampler_key}|{cats}|{seed}|{frame_digest(X_in, y_in)}|{code_digest()}".encode()
        ).hexdigest()[:32]
    hit = cache.get(key) if key else None
    if hit is not None:
        X_res, y_res, telemetry, fallback, tags = hit
    else:
        sampler = make_sampler()
        sampler.set_params(categorical_features=cats)
        X_res, y_res = sampler.fit_resample(X_in, y_in)
        telemetry = sampler.telemetry()
        tags = telemetry.pop("tags", {}) or {}
        telemetry = {k: float(v) for k, v in telemetry.items() if v is not None}
        fallback = sampler.fallback_
        if key:
            cache.put(key, (X_res, y_res, telemetry, fallback, tags))
    t1 = time.perf_counter()

    classes = split.classes
    code = {c: i for i, c in enumerate(classes)}
    unknown = set(pd.unique(y_res)) - set(code)
    if unknown:
        raise RuntimeError(f"{method.name} returned labels {sorted(map(str, unknown))} not in {classes}.")
    y_fit = y_res.map(code).to_numpy()
    y_true = split.y_test.map(code).to_numpy()
    Xtr, Xte = classifier_frames(X_res, split.X_test, numeric, categorical, mode)
    clf = make_classifier().fit(Xtr, y_fit)
    proba = clf.predict_proba(Xte)
    fitted = np.unique(y_fit)
    if len(fitted) != len(classes):  # a class absent from training: pad its probability column
        full = np.zeros((len(Xte), len(classes)))
        full[:, fitted] = proba
        proba = full
    y_pred = predict_codes(proba, np.arange(len(classes)))
    metrics = classification_metrics(y_true, y_pred, proba, code[split.minority], len(classes))
    t2 = time.perf_counter()

    # The synthetic minority rows, in the original space (published codes decoded).
    new = X_res.iloc[len(X_in):]
    S = new[(y_res.iloc[len(X_in):] == split.minority).to_numpy()].reset_index(drop=True)
    if mode == "published" and method.published_input != "original":
        S = decode_ordinal(S, split.X_train if method.train_on == "full_split" else split.X_imb, categorical)
    # "balance" trains on other real rows, not synthetic ones: nothing to judge. "standard" has
    # no synthetic rows, but its dum_reference (real minority vs unseen minority) is the baseline.
    if synthetic_metrics is not None and method.train_on == "imbalanced":
        R = split.X_imb[(split.y_imb == split.minority).to_numpy()].reset_index(drop=True)
        U = split.X_test[(split.y_test == split.minority).to_numpy()].reset_index(drop=True)
        metrics.update(synthetic_metrics(S, R, U, numeric, categorical))
    t3 = time.perf_counter()

    telemetry.setdefault("n_requested", 0.0)
    metrics.update(telemetry)
    metrics.update(
        {
            "n_train_minority": float((split.y_imb == split.minority).sum()),
            "n_gen": float(split.n_gen),
            "resample_seconds": t1 - t0,
            "classify_seconds": t2 - t1,
            "synthetic_metrics_seconds": t3 - t2,
            "resample_cache_hit": float(hit is not None),
        }
    )
    tags = dict(tags)
    tags["fallback"] = fallback or "none"
    tags["minority_class"] = str(split.minority)
    synthetic = S.copy()
    synthetic[dataset.spec.target] = split.minority
    return RunRecord(metrics=metrics, tags=tags, synthetic=synthetic)
