"""What a run shows in the MLflow UI, read back from the store (the browser test's fast sibling,
tests/test_services_ui.py): the experiment's kind, short unique run names with the full cell in
the tags, the description, source and sweep, the dataset inputs, and the run export unchanged."""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import itertools
import os
from pathlib import Path

import mlflow
import pytest
from hydra import compose, initialize_config_dir

import imbllm.cli as cli
import imbllm.pipeline as pipeline
from imbllm import browse
from imbllm.results import export_runs, load_runs, read_runs
from imbllm.tracking import Tracker

# The run export's columns before the metrics: what a store with the new tags and inputs exports
# is what an older one did (results/runs/*.csv.gz), no new column.
EXPORT_KEYS = ["run_id", "start_time", "end_time", "experiment", "dataset", "method", "classifier", "ratio",
               "seed", "protocol", "run_key", "fallback", "backbone", "code_version", "command", "rescored",
               "pretrain", "decoding", "label", "interpolation_ratio"]


def _cell(store, mirror_dir, tmp_path, *extra):
    with initialize_config_dir(config_dir=cli.CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"tracking.uri={store}", f"data.dir={mirror_dir}", "dataset=fuel",
                                           "method=smote", "experiment_name=browse",
                                           f"paths.cache={tmp_path}/cache", *extra])
    return cli.build(cfg)


def _runs(store):
    client = mlflow.tracking.MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name("browse")
    return exp, {r.info.run_name: r for r in client.search_runs([exp.experiment_id])}


@pytest.fixture
def sweep(monkeypatch):
    monkeypatch.setenv(browse.SWEEP_ENV, "sweep-under-test")
    return "sweep-under-test"


def test_a_run_says_what_it_was_and_logs_its_data(fresh_store, mirror_dir, tmp_path, sweep):
    cell = _cell(fresh_store, mirror_dir, tmp_path)
    metrics = pipeline.run_spec(cell.spec, cell.make_sampler, cell.make_classifier, command="imbllm-bench seed=0")
    exp, runs = _runs(fresh_store)
    assert exp.tags["mlflow.experimentKind"] == "custom_model_development"
    [(name, run)] = runs.items()
    tags = run.data.tags
    assert name == "fuel-smote-s0-xgb-corr-r0.2" and tags["cell"] == cell.spec.name
    assert (tags["sweep"], tags["mlflow.source.name"]) == (sweep, "imbllm-bench")
    note = tags["mlflow.note.content"]
    assert note.startswith("`smote` (classical) on `fuel`, classifier `xgboost`, corrected protocol")
    assert f"f1_minority **{metrics['f1_minority']:.4f}**" in note
    assert f"; {int(metrics['n_synthetic_minority'])} synthetic minority rows made" in note
    assert note.endswith("Launched by `imbllm-bench seed=0`.")

    inputs = {i.dataset.name: i for i in run.inputs.dataset_inputs}
    assert sorted(inputs) == ["fuel", "fuel-smote-synthetic", "fuel-test"]
    context = {n: {t.key: t.value for t in i.tags} for n, i in inputs.items()}
    assert [context[n]["mlflow.data.context"] for n in sorted(inputs)] == ["training", "synthetic", "test"]
    table = tags["data_sha256"]
    for n, i in inputs.items():
        assert len(i.dataset.digest) <= 36 and context[n]["sha256"].startswith(i.dataset.digest)
    assert inputs["fuel"].dataset.digest == inputs["fuel-test"].dataset.digest == table[:browse.DIGEST_CHARS]
    assert inputs["fuel"].dataset.source == f'{{"uri": "{(mirror_dir / "fuel.csv").resolve()}"}}'
    assert context["fuel-test"]["seed"] == "0" and context["fuel-test"]["test_size"] == "0.2"
    synthetic = mlflow.artifacts.load_text(f"{run.info.artifact_uri}/synthetic.csv")
    assert context["fuel-smote-synthetic"]["sha256"] == hashlib.sha256(synthetic.encode()).hexdigest()
    assert f'"num_rows": {synthetic.count(chr(10)) - 1}' in inputs["fuel-smote-synthetic"].dataset.profile

    # The run export from this store: the same columns as before, then the metrics.
    [path] = export_runs(load_runs(fresh_store), tmp_path / "runs")
    exported = read_runs([path])
    assert list(exported.columns) == EXPORT_KEYS + list(metrics)
    assert exported.loc[0, "f1_minority"] == pytest.approx(metrics["f1_minority"])


def test_a_failed_run_says_why(fresh_store, mirror_dir, tmp_path, sweep):
    cell = _cell(fresh_store, mirror_dir, tmp_path, "seed=1", "method.sampler._target_=failing_sampler.FailsOnSeedOne")
    with pytest.raises(RuntimeError):
        pipeline.run_spec(cell.spec, cell.make_sampler, cell.make_classifier, command="imbllm-bench seed=1")
    [run] = _runs(fresh_store)[1].values()
    assert run.info.status == "FAILED"
    assert run.data.tags["mlflow.note.content"].endswith(
        ", seed 1, test split 0.2: FAILED: FailsOnSeedOne stops on seed 1 by design (a test of exit codes). "
        "Launched by `imbllm-bench seed=1`.")
    assert [i.dataset.name for i in run.inputs.dataset_inputs] == ["fuel", "fuel-test"]  # no rows made


def test_run_names_are_unique_across_classifier_protocol_ratio_and_seed(fresh_store, mirror_dir, tmp_path):
    spec = _cell(fresh_store, mirror_dir, tmp_path).spec
    grid = itertools.product(["xgboost", "catboost"], ["corrected", "published"], [0.1, 0.2, 0.25], [0, 1, 10])
    names = [browse.run_name(dataclasses.replace(spec, classifier=c, protocol=p, ratio=r, seed=s))
             for c, p, r, s in grid]
    assert len(set(names)) == len(names) == 36
    assert max(map(len, names)) == len("fuel-smote-s10-xgb-corr-r0.25")


def test_an_older_experiment_is_tagged_with_its_kind(fresh_store):
    client = mlflow.tracking.MlflowClient(tracking_uri=fresh_store)
    eid = client.create_experiment("old")
    assert "mlflow.experimentKind" not in client.get_experiment(eid).tags
    Tracker(fresh_store, "old")
    assert client.get_experiment(eid).tags["mlflow.experimentKind"] == "custom_model_development"


def test_a_launch_names_its_sweep_once(monkeypatch):
    monkeypatch.setenv(browse.SWEEP_ENV, "")  # restored afterwards
    first = browse.sweep_id()
    assert os.environ[browse.SWEEP_ENV] == first == browse.sweep_id()  # inherited by workers
    assert browse.entry_point("OMP_NUM_THREADS=1 imbllm-bench -m seed=0,1") == "imbllm-bench"


def test_make_ui_prints_the_runs_view_and_starts_mlflow_on_loopback(fresh_store, tmp_path, capsys, monkeypatch):
    spec = importlib.util.spec_from_file_location("mlflow_ui", Path(cli.CONF_DIR).parent / "scripts" / "mlflow_ui.py")
    mlflow_ui = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(mlflow_ui)
    eid = Tracker(fresh_store, "browse").experiment_id
    started = []
    monkeypatch.setattr(os, "execv", lambda path, argv: started.append(argv))
    monkeypatch.setenv("MLFLOW_TRACKING_URI", fresh_store)
    assert mlflow_ui.main(["--port", "5099"]) == 0
    out = capsys.readouterr().out
    assert f"  browse: http://127.0.0.1:5099/#/experiments/{eid}?workflowType=machine_learning\n" in out
    [argv] = started
    assert argv[2:] == ["mlflow", "ui", "--backend-store-uri", fresh_store, "--host", "127.0.0.1", "--port",
                        "5099", "--workers", "2", "--artifacts-destination",
                        str((tmp_path / "store" / "mlartifacts").resolve())]
    assert mlflow_ui.main(["--tracking-uri", f"sqlite:///{tmp_path}/none.db"]) == 2
    assert "no tracking store at" in capsys.readouterr().err


def test_two_workers_adding_one_dataset_at_once_both_log_it(fresh_store, monkeypatch):
    """Two workers find no row for a new dataset and both insert it: the second insert fails on
    the store's unique key (seen in a two-worker sweep). The tracker asks again, and the second
    run links the row the first one added."""
    from mlflow.entities import Dataset, DatasetInput
    from mlflow.exceptions import MlflowException

    tracker = Tracker(fresh_store, "race")
    first, second = (tracker.client.create_run(tracker.experiment_id).info.run_id for _ in range(2))
    table = [DatasetInput(Dataset(name="fuel", digest="ab790f7936d84497", source_type="local",
                                  source='{"uri": "fuel.csv"}'))]
    real, calls = tracker.client.log_inputs, []

    def racing(run_id, datasets=None, models=None):
        calls.append(run_id)
        if len(calls) == 1:  # the other worker's insert lands between our lookup and our insert
            real(first, datasets=table)
            raise MlflowException("(sqlite3.IntegrityError) UNIQUE constraint failed: "
                                  "datasets.experiment_id, datasets.name, datasets.digest")
        return real(run_id, datasets=datasets, models=models)

    monkeypatch.setattr(tracker.client, "log_inputs", racing)
    tracker.finish(second, {"f1_minority": 0.5}, {}, {}, inputs=table)
    runs = {r: tracker.client.get_run(r) for r in (first, second)}
    assert calls == [second, second]
    assert [[i.dataset.digest for i in runs[r].inputs.dataset_inputs] for r in (first, second)] == [
        ["ab790f7936d84497"], ["ab790f7936d84497"]]
    assert runs[second].info.status == "FINISHED"
