"""The run key: only what decides the result; older keys still recognised; the resample store."""

import hashlib
import json
import threading
from pathlib import Path

import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.core.override_parser.overrides_parser import OverridesParser

import imbllm.cli as cli
import imbllm.pipeline as pipeline
from imbllm.registry import REGISTRY_FIELDS
from imbllm.runspec import KEY_VERSION, RunSpec, flatten, key_from_logged_params, run_key
from imbllm.store import ResampleStore

RUNS = Path(cli.CONF_DIR).parent / "results" / "runs"


def _cfg(overrides):
    with initialize_config_dir(config_dir=cli.CONF_DIR, version_base="1.3"):
        return compose("config", overrides=overrides)


def _key(overrides):
    return run_key(RunSpec.from_config(cli.plain(_cfg(["dataset=fuel", *overrides]))))


def test_only_what_decides_the_result_makes_the_key(tmp_path):
    base = _key(["method=imbllm"])
    same = [
        [f"paths.cache={tmp_path}/elsewhere"],
        ["method.sampler.progress=false"],
        [f"tracking.uri=sqlite:///{tmp_path}/other.db"],
        ["experiment_name=another"],
        [f"data.dir={tmp_path}"],
        ["force=true", "continue_on_error=false"],
    ]
    for o in same:
        assert _key(["method=imbllm", *o]) == base, o
    differ = [["seed=1"], ["ratio=0.3"], ["test_size=0.25"], ["protocol=published"], ["classifier=catboost"],
              ["method.sampler.temperature=0.9"], ["budget=smoke"], ["synthetic_metrics.max_rows=100"]]
    keys = {_key(["method=imbllm", *o]) for o in differ}
    assert base not in keys and len(keys) == len(differ)


def _old_key(d: dict) -> str:
    """The key as the code before key_version 2 computed it (imbllm/cli.py at ec818ba), from
    the resolved config ``d`` as it was then (without the registry fields, added later)."""
    method = {k: v for k, v in d["method"].items() if k not in REGISTRY_FIELDS}
    parts = {"dataset": d["dataset"]["name"], "method": method, "classifier": d["classifier"],
             "protocol": d["protocol"]["mode"], "ratio": float(d["ratio"]), "seed": int(d["seed"]),
             "test_size": float(d["test_size"]), "synthetic_metrics": d["synthetic_metrics"]}
    return hashlib.sha256(json.dumps(parts, sort_keys=True, default=str).encode()).hexdigest()[:24]


def _old_params(d: dict) -> dict[str, str]:
    """The params the code before key_version 2 logged: the cell and the whole resolved config
    (without what was added since: the grid, sweep_exclude and the registry fields)."""
    d = {k: v for k, v in d.items() if k not in ("hydra", "grid", "sweep_exclude")}
    d["method"] = {k: v for k, v in d["method"].items() if k not in REGISTRY_FIELDS}
    cell = {"dataset": d["dataset"]["name"], "method": d["method"]["name"],
            "classifier": d["classifier"]["name"], "protocol": d["protocol"]["mode"],
            "ratio": d["ratio"], "seed": d["seed"]}
    return {k: v[:6000] for k, v in flatten({**cell, "config": d}).items()}


def _committed_cells():
    """``(record, resolved config)`` of every committed run whose key today's config makes.

    The committed paper_llm runs are left out: they came from the engine before its
    pretraining stage and constrained decoding, a different result by design (the engine's
    defaults changed); they stay the from-scratch record. Composing costs (Hydra's defaults
    tree, then resolving), so each (experiment, method, protocol) is composed once, each
    classifier, seed and interpolation amount resolved once on it, and the dataset, which no
    interpolation reads, set on the resolved dict.
    """
    records = pd.concat([pd.read_csv(RUNS / f"{e}.csv.gz") for e in
                         ("paper_classical", "paper_llm_pretrained", "imbllm_interpolation",
                          "beyond_paper")])
    parse = OverridesParser.create().parse_overrides
    with initialize_config_dir(config_dir=cli.CONF_DIR, version_base="1.3"):
        groups = {(g, v): compose("config", [f"{g}={v}"])[g]
                  for g in ("dataset", "classifier") for v in records[g].unique()}
        for (exp, method, protocol), part in records.groupby(["experiment", "method", "protocol"]):
            base = compose("config", [f"experiment={exp}", f"method={method}",
                                      f"protocol={protocol}"])
            values = ["classifier", "seed", "ratio", "interpolation_ratio"]
            for key, cells in part.groupby(values, dropna=False):
                cfg = base.copy()
                cfg.classifier = groups[("classifier", key[0])]
                cfg.seed, cfg.ratio = int(key[1]), float(key[2])
                if exp == "imbllm_interpolation":  # swept as method.interpolation_ratio=0,0.25,...
                    [o] = parse([f"method.interpolation_ratio={key[3]:g}"])
                    cfg.method.interpolation_ratio = o.value()
                d = cli.plain(cfg)
                assert d["dataset"] == cli.plain(groups[("dataset", d["dataset"]["name"])])
                for r in cells.itertuples():
                    yield r, {**d, "dataset": cli.plain(groups[("dataset", r.dataset)])}


def test_committed_run_keys_are_recomputed_unchanged():
    """Every committed cell, composed again from conf/: the key it was logged with. Runs
    logged before key_version 2 carry the old key; the store maps them to today's key
    (:func:`key_from_logged_params`), which must be the key a relaunch computes."""
    seen = {"1": 0, "2": 0}
    for r, d in _committed_cells():
        spec = RunSpec.from_config(d)
        if r.experiment == "paper_classical":  # logged before key_version 2
            assert _old_key(d) == r.run_key, r
            assert key_from_logged_params(_old_params(d)) == run_key(spec), r
            seen["1"] += 1
        else:
            assert run_key(spec) == r.run_key, r
            seen["2"] += 1
    assert seen == {"1": 960, "2": 960 + 300}  # beyond_paper: the 300 contender cells


def test_registry_fields_stay_out_of_the_run_key():
    base = _key(["method=imbllm_free"])
    moved = ["method.role=beyond", "method.order=1", "method.label=other", "method.of=great",
             "method.change=x"]
    assert set(REGISTRY_FIELDS) == {o.split("=")[0].removeprefix("method.") for o in moved}
    assert _key(["method=imbllm_free", *moved]) == base
    with initialize_config_dir(config_dir=cli.CONF_DIR, version_base="1.3"):
        d = cli.plain(compose("config", ["dataset=fuel", "method=imbllm_free"]))
    params = flatten({"config": d})
    old = {k: v for k, v in params.items() if k.removeprefix("config.method.") not in REGISTRY_FIELDS}
    assert len(old) < len(params)
    assert key_from_logged_params(params) == key_from_logged_params(old) == base


def test_store_made_by_the_old_code_is_recognised_as_finished(fresh_store, mirror_dir, monkeypatch):
    import mlflow

    overrides = [f"tracking.uri={fresh_store}", f"data.dir={mirror_dir}", "dataset=fuel", "method=smote",
                 "paths.cache=/somewhere/else/cache", "experiment_name=old"]
    old = _cfg(overrides)
    client = mlflow.tracking.MlflowClient(tracking_uri=fresh_store)
    exp = client.create_experiment("old")
    rid = client.create_run(exp, tags={"run_key": _old_key(cli.plain(old)), "dataset": "fuel"}).info.run_id
    items = [mlflow.entities.Param(k, v) for k, v in _old_params(cli.plain(old)).items()]
    for i in range(0, len(items), 100):
        client.log_batch(rid, params=items[i:i + 100])
    client.set_terminated(rid, "FINISHED")

    calls = []
    monkeypatch.setattr(pipeline, "execute_run", lambda *a, **k: calls.append(1))
    cell = cli.build(_cfg(overrides[:-2] + ["experiment_name=old"]))  # default cache folder now
    assert pipeline.run_spec(cell.spec, cell.make_sampler, cell.make_classifier) is None
    assert calls == [] and len(client.search_runs([exp])) == 1
    # A changed setting is a different run: it is not taken for the old one.
    cell = cli.build(_cfg(overrides[:-2] + ["experiment_name=old", "method.sampler.k_neighbors=3"]))
    monkeypatch.setattr(pipeline, "execute_run", lambda *a, **k: calls.append(1) or 1 / 0)
    with pytest.raises(ZeroDivisionError):
        pipeline.run_spec(cell.spec, cell.make_sampler, cell.make_classifier)
    assert calls == [1]
    new = [r for r in client.search_runs([exp]) if r.info.run_id != rid]
    assert new[0].data.tags["key_version"] == KEY_VERSION and new[0].info.status == "FAILED"


def test_store_put_is_atomic_and_leaves_no_temporary_files(tmp_path):
    store = ResampleStore(tmp_path)
    X = pd.DataFrame({"a": range(5)})
    y = pd.Series(list("ababa"))
    key = ResampleStore.address("smote", [], 0, X, y)
    assert key == ResampleStore.address("smote", [], 0, X, y) != ResampleStore.address("smote", [], 1, X, y)
    values = [(X * i, y) for i in range(8)]
    threads = [threading.Thread(target=store.put, args=(key, v)) for v in values]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    got = store.get(key)
    assert any(got[0].equals(v[0]) for v in values)
    assert [p.name for p in (tmp_path / "resample").iterdir()] == [f"{key}.joblib"]

    class Unpicklable:
        def __reduce__(self):
            raise TypeError("no")

    with pytest.raises(TypeError):
        store.put("broken", Unpicklable())
    assert store.get("broken") is None
    assert [p.name for p in (tmp_path / "resample").iterdir()] == [f"{key}.joblib"]
