"""A run, described once: :class:`RunSpec`, built from the composed configuration, and its key.

The key (:func:`run_key`) hashes only what decides the result: the dataset's identity, the
method's configuration, the classifier's, the protocol mode, ratio, seed, test size and the
synthetic-metrics settings. Where caches live, progress bars, the tracking store and the
experiment name do not change a run's rows or scores, so they are not part of it.

Runs logged before this key (``key_version`` 1: a hash of the whole method configuration,
cache folder and progress flag included) are recognised by recomputing the key from the
configuration they logged as ``config.*`` params (:func:`key_from_logged_params`).

    >>> spec = RunSpec.from_config(cfg_dict)          # doctest: +SKIP
    >>> run_key(spec)                                 # doctest: +SKIP
    '3f0c...'
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import re
from dataclasses import dataclass, field

from imbllm.checks import (
    ConfigError,
    check_choice,
    check_claims,
    check_positive_number,
    check_run_numbers,
    check_tracking_uri,
    check_writable_path,
)
from imbllm.data.spec import DatasetSpec
from imbllm.registry import REGISTRY_FIELDS

#: Version of :func:`run_key`, logged as the tag ``key_version`` beside ``run_key``.
KEY_VERSION = "2"
#: Sampler arguments that never change the rows a sampler makes (where it caches, bars).
NON_RESULT_SAMPLER_KEYS = ("cache_dir", "progress")
PROTOCOLS = ("published", "corrected")
FAMILIES = ("reference", "classical", "deep", "forest", "llm")
PUBLISHED_INPUTS = ("original", "ordinal", "ordinal_as_numeric")
TRAIN_ON = ("imbalanced", "full_split")


def flatten(d: dict, prefix: str = "") -> dict[str, str]:
    """``{"a": {"b": 1}} -> {"a.b": "1"}``, values as strings (MLflow params)."""
    out: dict[str, str] = {}
    for k, v in d.items():
        # MLflow keys allow only alphanumerics and _ - . space : / (class names like "<=50K" do not).
        name = re.sub(r"[^\w\-. :/]", "_", f"{prefix}{k}")
        if isinstance(v, dict):
            out.update(flatten(v, name + "."))
        else:
            out[name] = str(v)
    return out


def digest(parts: dict) -> str:
    """Stable 24-hex hash of a JSON-able dict."""
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


@dataclass(frozen=True)
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
        check_choice(self.family, "method.family", FAMILIES)
        check_choice(self.published_input, "method.published_input", PUBLISHED_INPUTS)
        check_choice(self.train_on, "method.train_on", TRAIN_ON)


@dataclass(frozen=True)
class RunSpec:
    """One benchmark run: what decides its result, and where it reads and writes.

    ``method_config`` and ``classifier_config`` are the resolved ``conf/method/<name>.yaml``
    and ``conf/classifier/<name>.yaml`` (the sampler and model are built from them by the
    entry point); ``config`` is the whole resolved configuration, logged with the run.
    """

    experiment: str
    dataset: DatasetSpec
    method: MethodSpec
    method_config: dict
    classifier: str
    classifier_config: dict
    protocol: str
    ratio: float
    seed: int
    test_size: float
    synthetic_metrics: bool = True
    synthetic_max_rows: int = 2000
    # -- outside the key ---------------------------------------------------------------
    tracking_uri: str = "sqlite:///results/mlruns.db"
    claims_uri: str | None = None
    claim_timeout: float = 300.0
    cache_dir: str = "results/cache"
    cache_max_gb: float | None = None  # prune the model cache to this after the run
    data_dir: str | None = None
    data_cache_dir: str | None = None
    force: bool = False
    config: dict = field(default_factory=dict, repr=False)

    @classmethod
    def from_config(cls, cfg: dict) -> RunSpec:
        """Check the resolved configuration (a plain dict) and build the spec.

        Raises :class:`~imbllm.checks.ConfigError` naming the first bad key.
        """
        check_run_numbers(cfg)
        method_cfg = dict(cfg["method"])
        if not isinstance(method_cfg.get("sampler"), dict) or "_target_" not in method_cfg["sampler"]:
            raise ConfigError("method.sampler", method_cfg.get("sampler"), "a method needs a sampler with a _target_")
        method = MethodSpec(
            name=method_cfg["name"],
            family=method_cfg.get("family", "classical"),
            published_input=method_cfg.get("published_input", "original"),
            train_on=method_cfg.get("train_on", "imbalanced"),
        )
        protocol = check_choice(cfg["protocol"].get("mode"), "protocol.mode", PROTOCOLS)
        clf = dict(cfg["classifier"])
        if not isinstance(clf.get("model"), dict) or "_target_" not in clf["model"]:
            raise ConfigError("classifier.model", clf.get("model"), "a classifier needs a model with a _target_")
        paths, data, tracking = cfg.get("paths", {}), cfg.get("data", {}), cfg.get("tracking", {})
        check_writable_path(paths.get("cache"), "paths.cache", folder=True)
        max_gb = paths.get("cache_max_gb")
        if max_gb is not None:
            max_gb = check_positive_number(max_gb, "paths.cache_max_gb",
                                           "the model cache's budget in GB; null keeps every model")
        check_tracking_uri(tracking.get("uri"))
        check_claims(tracking)
        config = {k: v for k, v in cfg.items() if k != "hydra"}
        return cls(
            experiment=cfg["experiment_name"],
            dataset=dataset_spec(cfg["dataset"], data.get("dir")),
            method=method,
            method_config=method_cfg,
            classifier=clf["name"],
            classifier_config=clf,
            protocol=protocol,
            ratio=float(cfg["ratio"]),
            seed=int(cfg["seed"]),
            test_size=float(cfg["test_size"]),
            synthetic_metrics=cfg["synthetic_metrics"]["enabled"],
            synthetic_max_rows=int(cfg["synthetic_metrics"]["max_rows"]),
            tracking_uri=tracking["uri"],
            claims_uri=tracking.get("claims_uri"),
            claim_timeout=float(tracking.get("claim_timeout", 300)),
            cache_dir=str(paths["cache"]),
            cache_max_gb=max_gb,
            data_dir=data.get("dir"),
            data_cache_dir=data.get("cache_dir"),
            force=cfg["force"],
            config=config,
        )

    @property
    def sampler_config(self) -> dict:
        """The sampler's configuration as it decides the rows (no cache folder, no bars)."""
        s = self.method_config["sampler"]
        return {k: v for k, v in s.items() if k not in NON_RESULT_SAMPLER_KEYS}

    @property
    def name(self) -> str:
        return (f"{self.dataset.name}-{self.method.name}-{self.classifier}-{self.protocol}"
                f"-r{self.ratio}-s{self.seed}")

    def with_dataset(self, dataset: DatasetSpec) -> RunSpec:
        return dataclasses.replace(self, dataset=dataset)


def dataset_spec(d: dict, data_dir: str | None = None) -> DatasetSpec:
    """The dataset part of the config as a spec; an own CSV table gets its content digest."""
    source = check_choice(d.get("source", "registered"), "dataset.source", ("registered", "csv", "openml"))
    if source == "csv" and not d.get("file"):
        raise ConfigError("dataset.file", d.get("file"), "name your table: dataset.file=<path to a .csv>")
    if source == "openml" and (not isinstance(d.get("openml_id"), int) or d["openml_id"] < 1):
        raise ConfigError("dataset.openml_id", d.get("openml_id"), "give the OpenML dataset id, e.g. dataset.openml_id=37")
    if source != "openml" and not d.get("target"):
        raise ConfigError("dataset.target", d.get("target"), "name the label column: dataset.target=<column>")
    spec = DatasetSpec.from_dict(d)
    if source == "csv":
        from imbllm.data.loader import DatasetError, resolve_file, sha256_of

        path = resolve_file(spec, data_dir)
        if not path.is_file():
            raise DatasetError(f"dataset.file={spec.file!r} is not a file (looked for {path}); give the path of a CSV table.")
        if spec.sha256 is None:
            spec = dataclasses.replace(spec, sha256=sha256_of(path))
    return spec


def key_material(spec: RunSpec) -> dict[str, str]:
    """The flat text of everything that decides a run's result (what :func:`run_key` hashes).

    The method's registry fields (how the report places it: role, order, label; see
    :mod:`imbllm.registry`) decide nothing and are left out.
    """
    method = {k: v for k, v in spec.method_config.items() if k not in REGISTRY_FIELDS}
    method["sampler"] = spec.sampler_config
    return flatten({
        "dataset": spec.dataset.identity(),
        "method": method,
        "classifier": spec.classifier_config,
        "protocol": spec.protocol,
        "ratio": str(spec.ratio),
        "seed": str(spec.seed),
        "test_size": str(spec.test_size),
        "synthetic_metrics": {"enabled": spec.synthetic_metrics, "max_rows": spec.synthetic_max_rows},
    })


def run_key(spec: RunSpec) -> str:
    """The run's identity in the store (tag ``run_key``): equal keys, equal results."""
    return digest(key_material(spec))


def key_from_logged_params(params: dict[str, str]) -> str | None:
    """The current :func:`run_key` of a run logged with its resolved config as ``config.*``.

    Runs logged before ``key_version`` 2 carry an older key; this maps them to the new one
    (only registered datasets: own tables had no key before). None when params are missing.
    """
    try:
        material = {
            "dataset.name": params["config.dataset.name"],
            "protocol": params["config.protocol.mode"],
            "ratio": str(float(params["config.ratio"])),
            "seed": str(int(params["config.seed"])),
            "test_size": str(float(params["config.test_size"])),
        }
    except (KeyError, ValueError):
        return None
    skip = {f"config.method.sampler.{k}" for k in NON_RESULT_SAMPLER_KEYS}
    skip |= {f"config.method.{k}" for k in REGISTRY_FIELDS}
    for k, v in params.items():
        if k.startswith(("config.method.", "config.classifier.", "config.synthetic_metrics.")) and k not in skip:
            material[k[len("config."):]] = v
    return digest(material)
