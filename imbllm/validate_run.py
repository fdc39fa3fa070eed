"""The checks of one run that need more than its configuration's values: the estimators its
sampler and classifier configurations build, whether its dataset can be split as asked, and
the sampler's arguments that the run's training split decides (``BaseOversampler.check_data``).

A sampler's error names the key the user typed: ``method.sampler.<argument>``, or the
top-level key the argument was interpolated from (``on_shortfall: ${llm_on_shortfall}`` is
reported as ``llm_on_shortfall``, a field of ``llm: ${llm}`` as ``llm.<field>``).

Results are shared between runs (a sweep's cells repeat datasets, classifiers and splits), so
checking a whole grid before it starts costs little more than composing it.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping

import numpy as np
import pandas as pd
from sklearn.base import clone
from sklearn.utils._param_validation import InvalidParameterError

from imbllm.base import declared_error
from imbllm.checks import ConfigError, InputError
from imbllm.data import Dataset, DatasetError
from imbllm.protocol import Split, make_split
from imbllm.runner import _sampler_input
from imbllm.runspec import RunSpec, digest

#: What ``imbllm-bench`` reports as one sentence with exit code 2 (nothing is recorded).
BAD_INPUT = (InputError, DatasetError)

_INTERPOLATION = re.compile(r"\$\{([\w.]+)\}")
_seen: dict[str, str | None] = {}
_built: dict[str, object] = {}  # sampler configuration -> the checked oversampler
_splits: dict[str, Split | str] = {}
_inputs: dict[str, tuple] = {}


def _first_line(exc: BaseException) -> str:
    text = str(exc).strip()
    return (text.splitlines()[0] if text else type(exc).__name__).rstrip(".")


def sampler_sources(raw: Mapping) -> dict[str, str]:
    """Which sampler arguments are a top-level key interpolated whole (``${llm_on_shortfall}``),
    from the sampler's configuration as written (unresolved): argument -> key."""
    out = {}
    for arg, value in raw.items():
        m = _INTERPOLATION.fullmatch(value) if isinstance(value, str) else None
        if m:
            out[str(arg)] = m.group(1)
    return out


def _sampler_error(exc: InvalidParameterError, sampler, sources: Mapping[str, str]) -> ConfigError:
    """A sampler's error under the key the user typed."""
    err = declared_error(exc, sampler.get_params(deep=False))
    head, dot, rest = err.param.partition(".")
    key = sources[head] + dot + rest if head in sources else f"method.sampler.{err.param}"
    return ConfigError(key, err.value, err.fix)


def check_sampler(make_sampler: Callable, config: dict | None = None,
                  sources: Mapping[str, str] | None = None):
    """The oversampler the sampler configuration builds, its arguments checked against its
    constraints.

    With ``config`` (the sampler's resolved configuration) a configuration already found good
    is not built again; ``sources`` (:func:`sampler_sources`) names the keys in errors.
    """
    k = digest({"sampler": config}) if config is not None else None
    if k is not None and k in _built:
        return _built[k]
    try:
        sampler = make_sampler()
    except Exception as exc:
        raise ConfigError("method.sampler", "...", f"it does not build an oversampler ({_first_line(exc)})") from None
    try:
        sampler.check_params()
    except InvalidParameterError as exc:
        raise _sampler_error(exc, sampler, sources or {}) from None
    except ValueError as exc:
        raise ConfigError("method.sampler", type(sampler).__name__, _first_line(exc)) from None
    if k is not None:
        _built[k] = sampler
    return sampler


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


def _split_key(spec: RunSpec, dataset: Dataset) -> str:
    return digest({"data": dataset.sha256, "seed": spec.seed, "ratio": spec.ratio, "test": spec.test_size})


def check_split(spec: RunSpec, dataset: Dataset) -> Split:
    """The dataset can be split and cut as the run asks; the split (made once per table, seed
    and fractions)."""
    k = _split_key(spec, dataset)
    if k not in _splits:
        try:
            _splits[k] = make_split(dataset.X, dataset.y, seed=spec.seed, ratio=spec.ratio,
                                    test_size=spec.test_size)
        except ValueError as exc:
            _splits[k] = f"dataset {dataset.name!r}: {_first_line(exc)}."
    if isinstance(_splits[k], str):
        raise InputError(_splits[k])
    return _splits[k]


def _input(spec: RunSpec, dataset: Dataset) -> tuple[pd.DataFrame, pd.Series, list]:
    """What the run hands its sampler (once per split and coding: a sweep repeats them)."""
    split, m = check_split(spec, dataset), spec.method
    k = digest({"split": _split_key(spec, dataset), "train_on": m.train_on, "mode": spec.protocol,
                "input": m.published_input})
    if k not in _inputs:
        _inputs[k] = _sampler_input(split, m, spec.protocol, list(dataset.spec.categorical))
    return _inputs[k]


def check_data(spec: RunSpec, sampler, dataset: Dataset, sources: Mapping[str, str] | None = None) -> None:
    """The arguments of ``sampler`` (as its configuration builds it) that the data decide, on
    what the run will hand it: its training split, coded as the protocol says (once per
    sampler, split and protocol)."""
    k = digest({"sampler": spec.method_config["sampler"], "method": spec.method.name,
                "split": _split_key(spec, dataset), "protocol": spec.protocol})
    if k in _seen:
        return
    X, y, cats = _input(spec, dataset)
    sampler = clone(sampler).set_params(categorical_features=cats)  # as the runner builds it
    try:
        sampler.check_data(X, y)
    except InvalidParameterError as exc:
        raise _sampler_error(exc, sampler, sources or {}) from None
    _seen[k] = None


def check_cell(spec: RunSpec, make_sampler: Callable, make_classifier: Callable,
               dataset: Dataset | None, raw_sampler: Mapping | None = None) -> None:
    """Every check of one run that its configuration's values alone cannot settle.

    ``raw_sampler`` is the sampler's configuration as written (interpolations unresolved): it
    tells which top-level key an argument came from, so an error names the key the user typed.
    """
    sources = sampler_sources(raw_sampler or {})
    sampler = check_sampler(make_sampler, spec.method_config["sampler"], sources)
    check_classifier(spec, make_classifier)
    if dataset is not None:
        check_data(spec, sampler, dataset, sources)
