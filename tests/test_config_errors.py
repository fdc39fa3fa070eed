"""Bad input stops ``imbllm-bench`` before a run opens: one sentence, exit code 2, no store.

The battery checks each bad input's sentence through :func:`imbllm.cli.build` (what the
entry point calls first); a few cases run the real Hydra entry point in this process
(``cli.main`` with ``sys.argv``) and assert the exit code, the single line on stderr, and
that the tracking database was never created.
"""

import subprocess
import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest

import imbllm.cli as cli
from imbllm.validate_run import BAD_INPUT

ROOT = Path(cli.CONF_DIR).parent


def build_error(args, tmp_path) -> str:
    """The sentence ``imbllm-bench args`` stops with (checked before any run opens)."""
    from hydra import compose, initialize_config_dir

    db = tmp_path / "store" / "mlruns.db"
    defaults = [f"tracking.uri=sqlite:///{db}", f"paths.cache={tmp_path}/cache"]
    given = {a.split("=")[0] for a in args}
    with initialize_config_dir(config_dir=cli.CONF_DIR, version_base="1.3"):
        with pytest.raises(BAD_INPUT) as err:
            cli.build(compose("config", overrides=args + [d for d in defaults if d.split("=")[0] not in given]))
    assert not db.exists()
    text = str(err.value)
    assert "\n" not in text and text.endswith(".")
    return text


def bench(args, tmp_path, capsys):
    """Run ``imbllm-bench args``; return (exit code, stderr)."""
    db = tmp_path / "store" / "mlruns.db"
    out = tmp_path / "hydra"
    mode = ["hydra.sweep.dir=" + str(out)] if "-m" in args else ["hydra.run.dir=" + str(out)]
    defaults = [f"tracking.uri=sqlite:///{db}", f"paths.cache={tmp_path}/cache"]
    given = {a.split("=")[0] for a in args}
    argv = args + mode + [d for d in defaults if d.split("=")[0] not in given]
    old = sys.argv
    sys.argv = ["imbllm-bench", *argv]
    try:
        cli.main()
        code = 0
    except SystemExit as exc:
        code = exc.code
    finally:
        sys.argv = old
    err = capsys.readouterr().err
    assert not db.exists(), "a bad input wrote to the tracking store"
    return code, err


def table(n=40, **cols):
    rng = np.random.default_rng(0)
    base = {"age": rng.integers(18, 80, n), "colour": rng.choice(["red", "blue"], n),
            "label": ["yes"] * (n // 4) + ["no"] * (n - n // 4)}
    base.update(cols)
    return pd.DataFrame(base)


def csv_args(path, *extra):
    return ["dataset=csv", f"dataset.file={path}", "dataset.target=label", "method=smote", *extra]


def write(tmp_path, df, name="t.csv"):
    p = tmp_path / name
    df.to_csv(p, index=False)
    return p


CONFIG_CASES = [
    (["ratio=1.5"], "ratio=1.5 is not valid: it must be a number in (0, 1]"),
    (["ratio=0"], "ratio=0 is not valid"),
    (["test_size=1.0"], "test_size=1.0 is not valid: it must be a number in (0, 1)"),
    (["seed=-1"], "seed=-1 is not valid: the seed must be an integer from 0"),
    (["seed=1.5"], "seed=1.5 is not valid"),
    (["seed=abc"], "seed='abc' is not valid"),
    (["method=smote", "method.sampler.k_neighbors=0"],
     "method.sampler.k_neighbors=0 is not valid: must be an int in the range [1, inf)"),
    (["method=smote", "method.sampler.sampling_strategy=half"],
     "method.sampler.sampling_strategy='half' is not valid: must be a str among"),
    (["method=ctgan", "method.sampler.epochs=0"], "method.sampler.epochs=0 is not valid"),
    # The generators beyond the paper's (baselines/modern.py, baselines/forests.py).
    (["method=borderline_smote", "method.sampler.kind=borderline-3"],
     "method.sampler.kind='borderline-3' is not valid: must be a str among"),
    (["method=svm_smote", "method.sampler.m_neighbors=0"],
     "method.sampler.m_neighbors=0 is not valid: must be an int in the range [1, inf)"),
    (["method=kmeans_smote", "method.sampler.cluster_balance_threshold=2"],
     "method.sampler.cluster_balance_threshold=2 is not valid"),
    (["method=forestflow", "method.sampler.n_t=1"],
     "method.sampler.n_t=1 is not valid: must be an int in the range [2, inf)"),
    (["method=arf", "method.sampler.delta=0.9"],
     "method.sampler.delta=0.9 is not valid: must be a float in the range [0.0, 0.5]"),
    (["classifier=catboost", "+classifier.model.depth=99"], "the catboost classifier rejects it"),
    (["synthetic_metrics.max_rows=0"], "synthetic_metrics.max_rows=0 is not valid: it must be a positive integer"),
    (["protocol.mode=fancy"], "protocol.mode='fancy' is not valid: use one of published, corrected"),
    (["paths.cache_max_gb=0"], "paths.cache_max_gb=0 is not valid: it must be a positive number"),
    (["paths.cache_max_gb=ten"], "paths.cache_max_gb='ten' is not valid"),
    (["tracking.uri=http://127.0.0.1:9"], "no tracking server answers at 127.0.0.1:9"),
    (["dataset=csv"], "dataset.file='???' is not valid: set it on the command line"),
    (["dataset=fuel", "ratio=0.001"], "dataset 'fuel': ratio=0.001 keeps 0 of the"),
]


@pytest.mark.parametrize("args, message", CONFIG_CASES, ids=[" ".join(a) for a, _ in CONFIG_CASES])
def test_bad_config_is_one_sentence(args, message, tmp_path, mirror_dir):
    assert message in build_error(args + [f"data.dir={mirror_dir}"], tmp_path)


def test_results_path_whose_parent_is_a_file(tmp_path, mirror_dir):
    (tmp_path / "afile").write_text("x")
    err = build_error([f"tracking.uri=sqlite:///{tmp_path}/afile/mlruns.db"], tmp_path)
    assert f"{tmp_path}/afile is a file, not a folder" in err
    err = build_error([f"paths.cache={tmp_path}/afile/cache"], tmp_path)
    assert "paths.cache=" in err and "is a file" in err


def test_entry_point_prints_one_sentence_and_exits_2(tmp_path, capsys, mirror_dir):
    code, err = bench(["seed=-1", f"data.dir={mirror_dir}"], tmp_path, capsys)
    assert code == 2 and err == "imbllm-bench: seed=-1 is not valid: the seed must be an integer " \
        "from 0 to 2**32 - 1, e.g. seed=0.\n"
    code, err = bench(csv_args(tmp_path / "nope.csv"), tmp_path, capsys)
    assert code == 2 and err.count("\n") == 1 and "is not a file" in err


def _garbage(tmp_path):
    p = tmp_path / "bad.csv"
    p.write_bytes(b"\xff\xfe\x00\x81 not text \x00\x9f" * 20)
    return p


DATA_CASES = [
    ("missing file", lambda t: t / "nope.csv", "is not a file"),
    ("corrupted file", _garbage, "cannot be read as a CSV table"),
    ("empty table", lambda t: write(t, table().iloc[:0]), "holds no rows"),
    ("duplicated columns", lambda t: _dup(t), "duplicated column names ['age']"),
    ("one class", lambda t: write(t, table(label=["no"] * 40)), "has a single class ('no')"),
    ("one-row minority", lambda t: write(t, table(label=["yes"] + ["no"] * 39)), "class 'yes' of 'label' has 1 row"),
    ("continuous target", lambda t: write(t, table(label=np.linspace(0, 1, 40))), "is continuous (40 distinct numbers)"),
    ("all rows incomplete", lambda t: write(t, table(age=[np.nan] * 40)), "every row of the table has a missing value"),
    ("NaN target only", lambda t: write(t, table(label=[np.nan] * 40)), "every row of the table has a missing value"),
]


def _dup(tmp_path):
    p = tmp_path / "dup.csv"
    p.write_text("age,age,label\n1,2,yes\n3,4,no\n")
    return p


@pytest.mark.parametrize("name, make, message", DATA_CASES, ids=[c[0] for c in DATA_CASES])
def test_bad_table_is_one_sentence(name, make, message, tmp_path):
    assert message in build_error(csv_args(make(tmp_path)), tmp_path)


def test_target_also_a_feature_and_unknown_target(tmp_path):
    p = write(tmp_path, table())
    err = build_error(csv_args(p, "dataset.categorical=[colour,label]"), tmp_path)
    assert "dataset.categorical names the target column 'label'" in err
    err = build_error(["dataset=csv", f"dataset.file={p}", "dataset.target=colr"], tmp_path)
    assert "dataset.target='colr' is not a column of the table" in err


def test_checksum_mismatch(tmp_path, mirror_dir):
    raw = (mirror_dir / "fuel.csv").read_text()
    (tmp_path / "data").mkdir()
    (tmp_path / "data" / "fuel.csv").write_text(raw + raw.splitlines()[-1] + "\n")
    err = build_error(["dataset=fuel", f"data.dir={tmp_path}/data"], tmp_path)
    assert "has checksum" in err and "expected ab790f7936d8" in err


def test_bad_cell_late_in_a_sweep_stops_it_before_any_run(tmp_path, capsys, mirror_dir):
    # The first cells are fine; the last one has a bad seed. Nothing may run.
    code, err = bench(["-m", "dataset=fuel", "method=standard,smote", "seed=0,1,-3", f"data.dir={mirror_dir}"],
                      tmp_path, capsys)
    assert code == 2 and "seed=-3 is not valid" in err
    assert not (tmp_path / "hydra").exists() or not any((tmp_path / "hydra").rglob("*.log"))


@pytest.mark.slow
def test_unknown_option_keeps_hydras_message(tmp_path):
    out = subprocess.run([sys.executable, "-m", "imbllm.cli", "method=smotte", f"hydra.run.dir={tmp_path}"],
                         capture_output=True, text=True, cwd=ROOT)
    assert out.returncode == 1 and "Available options" in out.stderr and "smote_nc" in out.stderr


def test_runtime_failure_is_recorded_failed_with_its_sentence(tmp_path, mirror_dir, monkeypatch, fresh_store):
    from hydra import compose, initialize_config_dir

    import imbllm.pipeline as pipeline
    from imbllm.tracking import Tracker

    def broken(*a, **k):
        raise RuntimeError("the sampler ran out of rows; lower n")

    monkeypatch.setattr(pipeline, "execute_run", broken)
    uri = fresh_store
    with initialize_config_dir(config_dir=cli.CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[f"tracking.uri={uri}", f"data.dir={mirror_dir}", "dataset=fuel",
                                           "method=standard", f"paths.cache={tmp_path}/c"])
    cell = cli.build(cfg)
    with pytest.raises(RuntimeError):
        pipeline.run_spec(cell.spec, cell.make_sampler, cell.make_classifier)
    client = Tracker(uri, "adhoc").client
    (run,) = client.search_runs([client.get_experiment_by_name("adhoc").experiment_id])
    assert run.info.status == "FAILED"
    assert run.data.tags["error"] == "the sampler ran out of rows; lower n"
    assert run.data.tags["error_type"] == "RuntimeError"
