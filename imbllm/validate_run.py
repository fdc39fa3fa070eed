"""The checks of one run that need more than its configuration's values: the estimators its
sampler and classifier configurations build, and whether its dataset can be split as asked.

Results are shared between runs (a sweep's cells repeat datasets, classifiers and splits), so
checking a whole grid before it starts costs little more than composing it.
"""

from __future__ import annotations

import re
from collections.abc import Callable

import numpy as np
import pandas as pd

from imbllm.checks import ConfigError, InputError
from imbllm.data import Dataset, DatasetError
from imbllm.protocol import make_split
from imbllm.runspec import RunSpec, digest

#: What ``imbllm-bench`` reports as one sentence with exit code 2 (nothing is recorded).
BAD_INPUT = (InputError, DatasetError)

_SKLEARN = re.compile(r"The '(\w+)' parameter of \w+ (must be .*?)\. Got (.*) instead\.", re.S)
_seen: dict[str, str | None] = {}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__).rstrip(".")


def check_sampler(make_sampler: Callable, config: dict | None = None) -> None:
    """The sampler configuration builds an oversampler whose arguments pass its constraints.

    With ``config`` (the sampler's resolved configuration) a configuration already found good
    is not built again.
    """
    k = digest({"sampler": config}) if config is not None else None
    if k is not None and _seen.get(k, "unseen") is None:
        return
    try:
        sampler = make_sampler()
    except Exception as exc:
        raise ConfigError("method.sampler", "...", f"it does not build an oversampler ({_first_line(exc)})") from None
    try:
        sampler.check_params()
    except ValueError as exc:
        m = _SKLEARN.search(str(exc))
        if m is None:
            raise ConfigError("method.sampler", type(sampler).__name__, _first_line(exc)) from None
        raise ConfigError(f"method.sampler.{m.group(1)}", getattr(sampler, m.group(1)),
                          f"{m.group(2)}") from None
    if k is not None:
        _seen[k] = None


def _tiny_table() -> tuple[pd.DataFrame, np.ndarray]:
    rng = np.random.default_rng(0)
    X = pd.DataFrame({"a": rng.normal(size=24), "c": pd.Categorical(list("xyz") * 8)})
    return X, np.array([0, 1] * 12)


def check_classifier(spec: RunSpec, make_classifier: Callable) -> None:
    """The classifier configuration builds a model that fits a tiny table (once per config)."""
    k = digest({k: v for k, v in spec.classifier_config["model"].items() if k != "random_state"})
    if k not in _seen:
        try:
            make_classifier().fit(*_tiny_table())
            _seen[k] = None
        except Exception as exc:
            _seen[k] = _first_line(exc)
    if _seen[k] is not None:
        raise ConfigError("classifier.model", spec.classifier_config["model"],
                          f"the {spec.classifier} classifier rejects it ({_seen[k]})")


def check_split(spec: RunSpec, dataset: Dataset) -> None:
    """The dataset can be split and cut as the run asks (once per table, seed and fractions)."""
    k = digest({"data": dataset.sha256, "seed": spec.seed, "ratio": spec.ratio, "test": spec.test_size})
    if k not in _seen:
        try:
            make_split(dataset.X, dataset.y, seed=spec.seed, ratio=spec.ratio, test_size=spec.test_size)
            _seen[k] = None
        except ValueError as exc:
            _seen[k] = f"dataset {dataset.name!r}: {_first_line(exc)}."
    if _seen[k] is not None:
        raise InputError(_seen[k])


def check_cell(spec: RunSpec, make_sampler: Callable, make_classifier: Callable,
               dataset: Dataset | None) -> None:
    """Every check of one run that its configuration's values alone cannot settle."""
    check_sampler(make_sampler, spec.method_config["sampler"])
    check_classifier(spec, make_classifier)
    if dataset is not None:
        check_split(spec, dataset)
