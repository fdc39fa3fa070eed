"""The Hydra entry point: every config composes, runs log to MLflow, a killed sweep resumes."""

from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.errors import MissingConfigException
from hydra.utils import instantiate

import imbllm.cli as cli
import imbllm.pipeline as pipeline
from imbllm.results import format_table, load_runs, summary_table

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
            assert cfg.method.family in {"reference", "classical", "deep", "llm"}
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


def test_table_mean_std_rank_and_best():
    runs = pd.DataFrame(
        {
            "dataset": ["a"] * 6 + ["b"] * 6,
            "method": ["smote", "smote", "imbllm", "imbllm", "balance", "balance"] * 2,
            "seed": [0, 1] * 6,
            "f1": [0.5, 0.7, 0.6, 0.6, 0.9, 0.9, 0.2, 0.2, 0.1, 0.3, 0.5, 0.5],
        }
    )
    mean, std, rank = summary_table(runs, "f1")
    assert mean.loc["a", "smote"] == pytest.approx(0.6) and std.loc["a", "smote"] == pytest.approx(0.1)
    assert rank.loc["a", "smote"] == 1.5 and rank.loc["b", "smote"] == 1.5  # ties share the rank
    assert "balance" not in rank.columns
    text = format_table(mean, std, rank)
    assert "**0.6000 (0.1000)**" in text and "**0.9000" not in text  # balance is never marked
    assert text.splitlines()[-1].startswith("| avg rank |")
    # One seed (here logged twice, as two classifiers share one seed's rows) has no spread.
    one = pd.concat([runs[runs.seed == 0]] * 2)
    mean, std, rank = summary_table(one, "f1")
    assert std.isna().all().all()
    assert "| a | 0.9000 (1 seed) | 0.5000 (1 seed) | **0.6000 (1 seed)** |" in format_table(mean, std, rank)


def test_tables_name_the_commands_the_store_recorded():
    import sys

    sys.path.insert(0, str(Path(CONF).parent / "scripts"))
    from make_tables import sweep_commands

    runs = pd.DataFrame({"command": ["imbllm-bench -m experiment=x"] * 3 + ["imbllm-bench -m experiment=x seed=3"]})
    assert sweep_commands(runs) == "`imbllm-bench -m experiment=x`; `imbllm-bench -m experiment=x seed=3`"
    assert sweep_commands(runs.assign(command=None)).startswith("not recorded")


def test_sweep_wall_time_leaves_out_the_gaps_between_sessions():
    import sys

    sys.path.insert(0, str(Path(CONF).parent / "scripts"))
    from make_tables import wall_time

    minute = 60_000
    # Two overlapping runs (0-10, 5-20 min), a session gap, one run inside another (100-110,
    # 102-104 min): 110 min span, 30 min with a run in progress, 36 min of run time summed.
    runs = pd.DataFrame({"start_time": [0, 5, 100, 102], "end_time": [10, 20, 110, 104]}) * minute
    runs["run_seconds"] = [600, 900, 600, 60]
    assert wall_time(runs) == ("110.0 min from first start to last end (30.0 min with a run in "
                               "progress), 36.0 min summed over 4 runs")
    # Back-to-back runs: no gap, nothing to add.
    back = pd.DataFrame({"start_time": [0, 10 * minute], "end_time": [10 * minute, 20 * minute]})
    assert wall_time(back) == "20.0 min from first start to last end"
