"""``imbllm-bench``: the Hydra entry point (the only module that knows about Hydra).

Examples
--------
Single run::

    imbllm-bench dataset=german method=smote_nc classifier=xgboost ratio=0.2 seed=0 protocol=published

Sweep (``-m``) or a named experiment::

    imbllm-bench -m dataset=german,fuel method=smote,adasyn seed=0,1,2
    imbllm-bench experiment=quickstart
"""

from __future__ import annotations

import logging
import time
from pathlib import Path

import hydra
from hydra.utils import instantiate
from omegaconf import DictConfig, OmegaConf

from imbllm.data import DatasetSpec, load_dataset
from imbllm.runner import MethodSpec, ResampleCache, execute_run
from imbllm.tracking import Tracker, code_version, run_key

log = logging.getLogger("imbllm")

#: The checkout's conf/ (absolute: Hydra resolves relative paths against the package).
CONF_DIR = str(Path(__file__).resolve().parents[1] / "conf")


def _container(node) -> dict:
    return OmegaConf.to_container(node, resolve=True) if node is not None else {}


def key_parts(cfg: DictConfig) -> dict:
    """The configuration that decides a run's result (what resume compares)."""
    parts = {
        "dataset": cfg.dataset.name,
        "method": _container(cfg.method),
        "classifier": _container(cfg.classifier),
        "protocol": cfg.protocol.mode,
        "ratio": float(cfg.ratio),
        "seed": int(cfg.seed),
        "test_size": float(cfg.test_size),
        "synthetic_metrics": _container(cfg.synthetic_metrics),
    }
    return parts


_TRACKERS: dict[tuple[str, str], Tracker] = {}


def _tracker(uri: str, experiment: str) -> Tracker:
    # One client per store and experiment for the whole sweep (opening one checks the schema).
    if (uri, experiment) not in _TRACKERS:
        _TRACKERS[(uri, experiment)] = Tracker(uri, experiment)
    return _TRACKERS[(uri, experiment)]


def run(cfg: DictConfig) -> dict | None:
    """Run (or skip, if already finished) the benchmark run that ``cfg`` describes."""
    spec = DatasetSpec.from_dict(_container(cfg.dataset))
    method_cfg = _container(cfg.method)
    method = MethodSpec(
        name=method_cfg["name"],
        family=method_cfg.get("family", "classical"),
        published_input=method_cfg.get("published_input", "original"),
        train_on=method_cfg.get("train_on", "imbalanced"),
    )
    tracker = _tracker(cfg.tracking.uri, cfg.experiment_name)
    parts = key_parts(cfg)
    key = run_key(parts)
    name = f"{spec.name}-{method.name}-{cfg.classifier.name}-{cfg.protocol.mode}-r{cfg.ratio}-s{cfg.seed}"
    if not cfg.force:
        done = tracker.finished(key)
        if done:
            log.info("skip %s: finished as run %s (force=true reruns)", name, done)
            return None

    dataset = load_dataset(spec, data_dir=cfg.data.dir, cache_dir=cfg.data.cache_dir)
    params = {
        "dataset": spec.name,
        "method": method.name,
        "classifier": cfg.classifier.name,
        "protocol": cfg.protocol.mode,
        "ratio": cfg.ratio,
        "seed": cfg.seed,
        "config": _container(cfg),
    }
    params["config"].pop("hydra", None)
    tags = {
        "dataset": spec.name,
        "method": method.name,
        "family": method.family,
        "classifier": cfg.classifier.name,
        "protocol": cfg.protocol.mode,
        "code_version": code_version(),
        "data_source": dataset.source,
        "data_sha256": dataset.sha256,
        "experiment": cfg.experiment_name,
    }
    if method.family == "llm":
        tags["backbone"] = str(cfg.llm.name_or_path)
        tags["budget"] = str(cfg.budget.name)
    run_id = tracker.start(key, name, params, tags)
    synth = None
    if cfg.synthetic_metrics.enabled:
        from imbllm.metrics.synthetic import synthetic_metrics

        def synth(S, R, U, numeric, categorical):
            return synthetic_metrics(
                S, R, U, numeric, categorical, max_rows=cfg.synthetic_metrics.max_rows, random_state=int(cfg.seed)
            )

    t0 = time.perf_counter()
    try:
        record = execute_run(
            dataset,
            method,
            lambda: instantiate(cfg.method.sampler),
            lambda: instantiate(cfg.classifier.model),
            mode=cfg.protocol.mode,
            seed=int(cfg.seed),
            ratio=float(cfg.ratio),
            test_size=float(cfg.test_size),
            sampler_key=run_key({"sampler": method_cfg["sampler"], "train_on": method.train_on}),
            cache=ResampleCache(cfg.paths.cache),
            synthetic_metrics=synth,
        )
    except BaseException as exc:
        tracker.fail(run_id, exc)
        raise
    record.metrics["run_seconds"] = time.perf_counter() - t0
    tracker.finish(
        run_id,
        record.metrics,
        record.tags,
        {
            "config.yaml": OmegaConf.to_yaml(cfg, resolve=True),
            "synthetic.csv": record.synthetic.to_csv(index=False),
        },
    )
    log.info(
        "%s: f1_minority=%.4f roc_auc=%.4f f1_published=%.4f auc_published=%.4f (%.1fs)",
        name,
        record.metrics["f1_minority"],
        record.metrics["roc_auc"],
        record.metrics["f1_published"],
        record.metrics["auc_published"],
        record.metrics["run_seconds"],
    )
    return record.metrics


@hydra.main(config_path=CONF_DIR, config_name="config", version_base="1.3")
def main(cfg: DictConfig) -> None:
    try:
        run(cfg)
    except Exception:
        # The run is already marked FAILED in the store with its error. In a sweep, one failed
        # run must not stop the others (continue_on_error=false restores fail-fast).
        if not cfg.continue_on_error:
            raise
        log.exception("run failed (recorded as FAILED in the tracking store); the sweep goes on")


if __name__ == "__main__":  # pragma: no cover
    main()
