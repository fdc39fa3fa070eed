"""One run from its spec to the tracking store: skip if finished, load, run, log.

:func:`run_spec` is where a run is looked up by its key, opened (RUNNING), and closed FINISHED
or FAILED. The work between is :func:`imbllm.runner.execute_run` (split -> resample ->
classify -> score). No Hydra here: the entry point hands over a checked :class:`RunSpec` and
two factories that build the sampler and the classifier.
"""

from __future__ import annotations

import logging
import os
import sys
import time
from collections.abc import Callable
from pathlib import Path

import yaml

from imbllm import browse
from imbllm.data import Dataset, load_dataset
from imbllm.runner import execute_run
from imbllm.runspec import KEY_VERSION, RunSpec, digest, key_from_logged_params, run_key
from imbllm.scale import ClaimLost, ClaimStore, prepare_store, schema_lock, slurm_tags
from imbllm.store import ResampleStore
from imbllm.tracking import RunTags, Tracker, code_version, error_sentence

log = logging.getLogger(__name__)

_TRACKERS: dict[tuple[str, str], Tracker] = {}
_CLAIMS: dict[tuple, ClaimStore] = {}
_DATASETS: dict[tuple, Dataset] = {}


def claims_for(spec: RunSpec) -> ClaimStore:
    """The claims table of the run's store, the store migrated first (once per process)."""
    # The launching process names its sweep here, before a launcher starts workers that inherit it.
    browse.sweep_id()
    k = (spec.tracking_uri, spec.claims_uri, spec.claim_timeout)
    if k not in _CLAIMS:
        _CLAIMS[k] = prepare_store(spec.tracking_uri, spec.claims_uri, spec.claim_timeout)
    return _CLAIMS[k]


def tracker_for(spec: RunSpec) -> Tracker:
    """One client per store and experiment for the whole process, opened under the store's
    set-up lock so that concurrent workers neither migrate nor create the experiment twice."""
    k = (spec.tracking_uri, spec.experiment)
    if k not in _TRACKERS:
        claims_for(spec)
        with schema_lock(spec.tracking_uri, spec.claims_uri):
            _TRACKERS[k] = Tracker(spec.tracking_uri, spec.experiment, legacy_key=key_from_logged_params)
    return _TRACKERS[k]


def dataset_for(spec: RunSpec) -> Dataset:
    """The run's table, loaded and verified once per process (a sweep shares it)."""
    k = (repr(spec.dataset), spec.data_dir, spec.data_cache_dir)
    if k not in _DATASETS:
        _DATASETS[k] = load_dataset(spec.dataset, data_dir=spec.data_dir, cache_dir=spec.data_cache_dir)
    return _DATASETS[k]


def launch_command() -> str:
    """How this process was started, as a user would type it (thread setting included)."""
    threads = os.environ.get("OMP_NUM_THREADS")
    prefix = f"OMP_NUM_THREADS={threads} " if threads else ""
    return prefix + " ".join(["imbllm-bench", *sys.argv[1:]])


def _synthetic_metrics(spec: RunSpec):
    if not spec.synthetic_metrics:
        return None
    from imbllm.metrics.synthetic import synthetic_metrics

    def score(S, R, U, numeric, categorical):
        return synthetic_metrics(S, R, U, numeric, categorical, max_rows=spec.synthetic_max_rows,
                                 random_state=spec.seed)

    return score


def run_spec(
    spec: RunSpec,
    make_sampler: Callable,
    make_classifier: Callable,
    *,
    tracker: Tracker | None = None,
    claims: ClaimStore | None = None,
    command: str | None = None,
) -> dict | None:
    """Run (or skip, if its key already FINISHED or a live worker holds its claim) one
    benchmark run; its metrics, or None."""
    tracker = tracker or tracker_for(spec)
    key = run_key(spec)
    if not spec.force:
        done = tracker.finished(key)
        if done:
            log.info("skip %s: finished as run %s (force=true reruns)", spec.name, done)
            return None
    claim = (claims or claims_for(spec)).claim(key)
    if claim is None:
        log.info("skip %s: claimed by a live run elsewhere", spec.name)
        return None
    with claim:
        # Another worker may have finished it between our first look and our claim.
        done = None if spec.force else tracker.finished(key)
        if done:
            log.info("skip %s: finished as run %s meanwhile", spec.name, done)
            return None
        if claim.taken:
            # The dead worker's run: the one its claim names, and any it opened but had not yet
            # attached (killed between opening the run and recording it in the claim).
            for rid in {claim.taken.run_id, *tracker.running(key)} - {None}:
                if tracker.kill(rid):
                    log.warning("%s: run %s of a dead worker (%s) marked KILLED", spec.name, rid,
                                claim.taken.owner)
        try:
            return _run_claimed(spec, key, claim, tracker, make_sampler, make_classifier, command)
        finally:
            _prune_models(spec)


def _prune_models(spec: RunSpec) -> None:
    """Keep the language models cached under ``<paths.cache>/models`` (where the LLM methods'
    ``cache_dir`` points) within ``paths.cache_max_gb``, once the run has stored its own."""
    if spec.cache_max_gb is not None:
        from imbllm.llm.model.cache import prune

        prune(Path(spec.cache_dir) / "models", int(spec.cache_max_gb * 1e9))


def _run_claimed(spec, key, claim, tracker, make_sampler, make_classifier, command) -> dict | None:
    dataset = dataset_for(spec)
    spec = spec.with_dataset(dataset.spec)  # an own table's columns and counts, as inferred
    command = command or launch_command()
    tags = RunTags(
        run_key=key, key_version=KEY_VERSION, experiment=spec.experiment, dataset=spec.dataset.name,
        method=spec.method.name, family=spec.method.family, classifier=spec.classifier,
        protocol=spec.protocol, code_version=code_version(), command=command,
    )
    params = {"dataset": spec.dataset.name, "method": spec.method.name, "classifier": spec.classifier,
              "protocol": spec.protocol, "ratio": spec.ratio, "seed": spec.seed, "config": spec.config}
    inputs = browse.table_inputs(spec, dataset.source, dataset.path, dataset.sha256, len(dataset.y))
    run_id = tracker.start(tags, browse.run_name(spec), params,
                           {**slurm_tags(), **browse.run_tags(spec, command)}, inputs)
    t0 = time.perf_counter()
    try:
        claim.attach(run_id)
        record = execute_run(
            dataset, spec.method, make_sampler, make_classifier, mode=spec.protocol, seed=spec.seed,
            ratio=spec.ratio, test_size=spec.test_size,
            sampler_key=digest({"sampler": spec.sampler_config, "train_on": spec.method.train_on}),
            store=ResampleStore(spec.cache_dir), synthetic_metrics=_synthetic_metrics(spec),
        )
        claim.check()
    except ClaimLost:
        # The worker that retook the claim runs the cell again; this run must not count.
        tracker.kill(run_id)
        log.error("%s: claim retaken by another worker; run %s marked KILLED, not FINISHED", spec.name, run_id)
        return None
    except BaseException as exc:
        note = browse.description(spec, command, error=error_sentence(exc))
        tracker.fail(run_id, exc, {"mlflow.note.content": note})
        raise
    record.metrics["run_seconds"] = time.perf_counter() - t0
    data_tags = {"data_source": dataset.source, "data_sha256": dataset.sha256}
    if dataset.report is not None:
        data_tags.update(data_rows_dropped=str(dataset.report["rows_dropped_missing"]),
                         data_rows=str(dataset.report["rows"]))
    synthetic = record.synthetic.to_csv(index=False)
    artifacts = {
        "config.yaml": yaml.safe_dump(spec.config, sort_keys=False),
        "dataset.yaml": yaml.safe_dump(spec.dataset.to_dict(), sort_keys=False),
        "synthetic.csv": synthetic,
    }
    note = {"mlflow.note.content": browse.description(spec, command, record.metrics)}
    made = browse.synthetic_input(spec, synthetic, len(record.synthetic), tracker.artifact_uri(run_id))
    tracker.finish(run_id, record.metrics, {**record.tags, **data_tags, **note}, artifacts, [made])
    m = record.metrics
    log.info("%s: f1_minority=%.4f roc_auc=%.4f f1_published=%.4f auc_published=%.4f (%.1fs)",
             spec.name, m["f1_minority"], m["roc_auc"], m["f1_published"], m["auc_published"],
             m["run_seconds"])
    return m
