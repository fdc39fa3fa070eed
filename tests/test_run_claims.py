"""The run pipeline claims a run key before it opens a run: a live claim elsewhere skips the
cell, a dead worker's RUNNING run is marked KILLED, a worker whose claim was retaken never
records FINISHED, and a server store without a claims database is refused up front."""

from types import SimpleNamespace

import pandas as pd
import pytest
import sqlalchemy as sa
from hydra import compose, initialize_config_dir

import imbllm.cli as cli
import imbllm.pipeline as pipeline
from imbllm.checks import ConfigError, check_claims
from imbllm.runspec import run_key
from imbllm.scale import ClaimStore, claims_url
from imbllm.scale.claims import _CLAIMS

METRICS = {"f1_minority": 0.5, "roc_auc": 0.5, "f1_published": 0.5, "auc_published": 0.5}


def _cell(store, mirror_dir, tmp_path, *extra):
    with initialize_config_dir(config_dir=cli.CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"tracking.uri={store}", f"data.dir={mirror_dir}", "dataset=fuel",
                                           "method=random", f"paths.cache={tmp_path}/cache", *extra])
    return cli.build(cfg)


def _fake_run(calls, during=lambda: None):
    def execute_run(*a, **k):
        calls.append(1)
        during()
        return SimpleNamespace(metrics=dict(METRICS), tags={}, synthetic=pd.DataFrame({"x": [1]}))
    return execute_run


def _runs(store, experiment="adhoc"):
    import mlflow

    client = mlflow.tracking.MlflowClient(tracking_uri=store)
    exp = client.get_experiment_by_name(experiment)
    return client, client.search_runs([exp.experiment_id]) if exp else []


def test_a_live_claim_elsewhere_skips_the_cell(fresh_store, mirror_dir, tmp_path, monkeypatch):
    cell = _cell(fresh_store, mirror_dir, tmp_path)
    other = pipeline.claims_for(cell.spec).claim(run_key(cell.spec), owner="another launch")
    assert other is not None
    calls = []
    monkeypatch.setattr(pipeline, "execute_run", _fake_run(calls))
    assert pipeline.run_spec(cell.spec, cell.make_sampler, cell.make_classifier) is None
    assert calls == [] and _runs(fresh_store)[1] == []
    other.release()  # now it runs, and its claim is gone afterwards
    assert pipeline.run_spec(cell.spec, cell.make_sampler, cell.make_classifier)["f1_minority"] == 0.5
    assert [r.info.status for r in _runs(fresh_store)[1]] == ["FINISHED"]
    assert ClaimStore(fresh_store).holders() == {}


def test_a_dead_workers_run_is_killed_and_the_cell_rerun(fresh_store, mirror_dir, tmp_path, monkeypatch):
    cell = _cell(fresh_store, mirror_dir, tmp_path, "tracking.claim_timeout=1")
    key = run_key(cell.spec)
    tracker = pipeline.tracker_for(cell.spec)
    orphan = tracker.client.create_run(tracker.experiment_id, tags={"run_key": key}).info.run_id
    # One more, opened by the dead worker just before it died, not yet attached to its claim.
    unattached = tracker.client.create_run(tracker.experiment_id, tags={"run_key": key}).info.run_id
    dead = pipeline.claims_for(cell.spec)
    assert dead.claim(key, owner="dead worker").attach(orphan) is None
    with dead.engine.connect() as c:  # its last heartbeat long ago
        c.execute(_CLAIMS.update().values(heartbeat=0.0))
    calls = []
    monkeypatch.setattr(pipeline, "execute_run", _fake_run(calls))
    assert pipeline.run_spec(cell.spec, cell.make_sampler, cell.make_classifier) is not None
    status = {r.info.run_id: r.info.status for r in _runs(fresh_store)[1]}
    assert status.pop(orphan) == status.pop(unattached) == "KILLED"
    assert list(status.values()) == ["FINISHED"] and calls == [1]


def test_a_worker_that_lost_its_claim_does_not_finish(fresh_store, mirror_dir, tmp_path, monkeypatch):
    cell = _cell(fresh_store, mirror_dir, tmp_path, "experiment_name=lost")
    engine = sa.create_engine(claims_url(fresh_store), isolation_level="AUTOCOMMIT")

    def retaken():  # another worker took the claim over while this one was running
        with engine.connect() as c:
            assert c.execute(_CLAIMS.update().values(token="someone else", owner="x")).rowcount == 1

    calls = []
    monkeypatch.setattr(pipeline, "execute_run", _fake_run(calls, retaken))
    assert pipeline.run_spec(cell.spec, cell.make_sampler, cell.make_classifier) is None
    assert calls == [1]
    assert [r.info.status for r in _runs(fresh_store, "lost")[1]] == ["KILLED"]
    # The claim stays the other worker's: this one's release removed nothing.
    assert [h["owner"] for h in ClaimStore(fresh_store).holders().values()] == ["x"]


def test_slurm_job_is_a_run_tag(fresh_store, mirror_dir, tmp_path, monkeypatch):
    monkeypatch.setenv("SLURM_JOB_ID", "41")
    monkeypatch.setenv("SLURM_ARRAY_TASK_ID", "7")
    cell = _cell(fresh_store, mirror_dir, tmp_path, "experiment_name=slurm")
    monkeypatch.setattr(pipeline, "execute_run", _fake_run([]))
    pipeline.run_spec(cell.spec, cell.make_sampler, cell.make_classifier)
    [run] = _runs(fresh_store, "slurm")[1]
    assert (run.data.tags["slurm_job_id"], run.data.tags["slurm_array_task_id"]) == ("41", "7")


def test_a_server_without_a_claims_database_is_refused_in_one_sentence(tmp_path):
    with pytest.raises(ConfigError, match=r"^tracking.claims_uri=None is not valid: .*set tracking.claims_uri"):
        check_claims({"uri": "http://127.0.0.1:5000", "claims_uri": None})
    with pytest.raises(ConfigError, match="tracking.claim_timeout=0 is not valid"):
        check_claims({"uri": "sqlite:///x.db", "claim_timeout": 0})
    check_claims({"uri": "http://127.0.0.1:5000", "claims_uri": "postgresql://u@h/db"})
    # A local folder store keeps its claims in a SQLite file inside it.
    assert claims_url(str(tmp_path / "mlruns")) == f"sqlite:///{tmp_path / 'mlruns' / 'imbllm_claims.db'}"
