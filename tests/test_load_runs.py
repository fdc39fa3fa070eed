"""``load_runs`` keeps one run per run key: the key, not a hand-kept list of columns, says
which runs are the same cell of an experiment."""

from __future__ import annotations

import pytest

from imbllm.results import load_runs
from imbllm.runspec import KEY_VERSION, key_from_logged_params

CELL = {
    "dataset": "fuel",
    "method": "imbllm",
    "classifier": "xgboost",
    "ratio": "0.2",
    "seed": "0",
    "protocol": "corrected",
}
# What a runner logs of its configuration (config.*), from which older runs are keyed.
CONFIG = {
    "config.dataset.name": "fuel",
    "config.protocol.mode": "corrected",
    "config.ratio": "0.2",
    "config.seed": "0",
    "config.test_size": "0.3",
    "config.method.name": "imbllm",
    "config.classifier.name": "xgboost",
    "config.method.sampler.interpolation_ratio": "0.5",
}


@pytest.fixture
def log(fresh_store, tmp_path):
    """``log(experiment, start, f1, params=..., tags=..., status=...)``: one run, its id."""
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=fresh_store)
    experiments: dict[str, str] = {}

    def log_run(experiment, start, f1, params, tags, status="FINISHED"):
        if experiment not in experiments:
            where = (tmp_path / "artifacts").as_uri()
            experiments[experiment] = client.create_experiment(experiment, artifact_location=where)
        run = client.create_run(experiments[experiment], start_time=start, tags=tags).info.run_id
        client.log_batch(
            run,
            metrics=[Metric("f1_minority", f1, start, 0)],
            params=[Param(k, v) for k, v in params.items()],
        )
        client.set_terminated(run, status, end_time=start + 1)
        return run

    return log_run


def keyed(key):
    return {"run_key": key, "key_version": KEY_VERSION}


def test_runs_differing_only_in_a_newly_swept_setting_both_count(fresh_store, log):
    # Same dataset, method, classifier, ratio, seed, protocol and interpolation ratio; another
    # temperature, so another key: the columns a hand-kept list would compare are all equal.
    cold = {**CELL, **CONFIG, "config.method.sampler.temperature": "0.7"}
    warm = {**cold, "config.method.sampler.temperature": "1.0"}
    a = log("paper", 1000, 0.5, cold, keyed("k-cold"))
    b = log("paper", 2000, 0.6, warm, keyed("k-warm"))
    runs = load_runs(fresh_store)
    assert sorted(runs["run_id"]) == sorted([a, b])
    assert runs.set_index("run_key")["f1_minority"].to_dict() == {"k-cold": 0.5, "k-warm": 0.6}
    assert runs["interpolation_ratio"].tolist() == [0.5, 0.5]


def test_runs_of_one_key_collapse_to_the_latest_finished(fresh_store, log):
    params = {**CELL, **CONFIG}
    log("paper", 1000, 0.1, params, keyed("k"))
    latest = log("paper", 3000, 0.3, params, keyed("k"))
    log("paper", 2000, 0.2, params, keyed("k"))  # logged last, started before the latest
    log("paper", 4000, 0.9, params, keyed("k"), status="FAILED")  # not finished: not read
    # The same key in another experiment is that experiment's own record.
    other = log("paper_llm", 500, 0.4, params, keyed("k"))
    runs = load_runs(fresh_store).set_index("experiment")
    assert len(runs) == 2
    assert runs.loc["paper", "run_id"] == latest and runs.loc["paper", "f1_minority"] == 0.3
    assert runs.loc["paper_llm", "run_id"] == other
    assert "_cell" not in runs.columns  # the columns exported stay what they were


def test_runs_logged_without_a_current_key_are_keyed_as_the_tracker_keys_them(fresh_store, log):
    params = {**CELL, **CONFIG}
    current = key_from_logged_params(params)
    # Before key_version 2 the run_key tag held an older hash; the logged config gives the
    # current key, so the old run and a rerun under the current key are one cell.
    log("paper", 1000, 0.1, params, {"run_key": "an-older-hash"})
    rerun = log("paper", 2000, 0.2, params, keyed(current))
    # Runs with no config logged: by their run_key tag, else by all their params.
    tagged = [log("paper", 3000 + i, 0.3, CELL, {"run_key": "hand"}) for i in range(2)]
    bare = [log("paper", 4000 + i, 0.4, {**CELL, "seed": s}, {}) for i, s in enumerate("112")]
    runs = load_runs(fresh_store)
    assert sorted(runs["run_id"]) == sorted([rerun, tagged[1], bare[1], bare[2]])
