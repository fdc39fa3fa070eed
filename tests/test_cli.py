"""The Hydra entry point: every config composes, runs log to MLflow, a killed sweep resumes."""

from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import MissingConfigException
from hydra.utils import instantiate

import imbllm.cli as cli
import imbllm.pipeline as pipeline
from imbllm.results import load_runs

CONF = str(Path(cli.CONF_DIR))
GROUPS = ["dataset", "method", "classifier", "protocol"]


def _options(group):
    return sorted(p.stem for p in (Path(CONF) / group).glob("*.yaml"))


def _cfg(overrides):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return compose("config", overrides=overrides)


@pytest.mark.parametrize("group", GROUPS + ["experiment", "llm", "budget"])
def test_every_option_composes(group):
    for option in _options(group):
        cfg = _cfg([f"{group}={option}"])
        if group == "method":
            sampler = instantiate(cfg.method.sampler)
            assert hasattr(sampler, "fit_resample")
            assert cfg.method.family in {"reference", "classical", "deep", "forest", "llm"}
        if group == "classifier":
            assert hasattr(instantiate(cfg.classifier.model), "fit")


def test_unknown_method_lists_the_valid_ones():
    with pytest.raises(MissingConfigException) as err:
        _cfg(["method=smotte"])
    assert "smote_nc" in str(err.value) and "Available options" in str(err.value)


def run(cfg):
    """What the entry point does with one composed config: check it, then run it."""
    cell = cli.build(cfg)
    return pipeline.run_spec(cell.spec, cell.make_sampler, cell.make_classifier)


@pytest.fixture
def store(tmp_path, mirror_dir, fresh_store):
    return [
        f"tracking.uri={fresh_store}",
        f"paths.cache={tmp_path}/cache",
        f"data.dir={mirror_dir}",
        "dataset=fuel",
        "experiment_name=test",
    ]


def test_killed_sweep_resumes_without_redoing_finished_runs(store, monkeypatch):
    grid = [[f"method={m}", f"seed={s}"] for m in ("standard", "smote") for s in (0, 1)]
    real = pipeline.execute_run
    calls = []

    def dying(*a, **k):
        calls.append(k["seed"])
        if len(calls) == 3:
            raise KeyboardInterrupt  # the sweep is killed during its third run
        return real(*a, **k)

    monkeypatch.setattr(pipeline, "execute_run", dying)
    with pytest.raises(KeyboardInterrupt):
        for o in grid:
            run(_cfg(store + o))
    uri = store[0].split("=", 1)[1]
    assert len(load_runs(uri)) == 2  # two finished; the killed one is FAILED, not FINISHED

    calls.clear()
    results = [run(_cfg(store + o)) for o in grid]
    assert len(calls) == 2  # only the killed run and the one never started
    assert results[0] is None and results[1] is None  # skipped
    runs = load_runs(uri)
    assert len(runs) == 4 and set(runs["method"]) == {"standard", "smote"}
    assert runs["f1_minority"].between(0, 1).all()
    # force=true reruns a finished run
    calls.clear()
    run(_cfg(store + grid[0] + ["force=true"]))
    assert len(calls) == 1


def test_run_logs_metrics_tags_and_artifacts(store):
    metrics = run(_cfg(store + ["method=smote_nc", "protocol=published"]))
    for k in ("f1_published", "auc_published", "f1_minority", "roc_auc", "pr_auc", "n_requested", "n_generated", "dum"):
        assert k in metrics
    assert metrics["n_generated"] == metrics["n_requested"] == metrics["n_gen"]
    runs = load_runs(store[0].split("=", 1)[1])
    row = runs.iloc[0]
    assert row["protocol"] == "published" and row["fallback"] == "none"
    assert row["command"].split()[0] in ("imbllm-bench", "OMP_NUM_THREADS=1")  # how it was launched
    import mlflow

    path = mlflow.artifacts.download_artifacts(run_id=row["run_id"], artifact_path="synthetic.csv", tracking_uri=store[0].split("=", 1)[1])
    synth = pd.read_csv(path)
    assert len(synth) == metrics["n_generated"] and (synth["CONSUMPTION"] == "high").all()
