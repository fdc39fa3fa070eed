"""Own tables: ``dataset=csv`` / ``dataset=openml``, the inferred schema, freezing it as a YAML."""

import sys
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import yaml

from imbllm.data import DatasetError, DatasetSpec, describe, load_dataset

sys.path.insert(0, str(Path(__file__).resolve().parents[1] / "scripts"))
import freeze_dataset  # noqa: E402


def own_table(n=60):
    rng = np.random.default_rng(3)
    return pd.DataFrame({
        "Width": rng.integers(1, 9, n).astype(float),     # integral floats: read back as int
        "Weight": rng.normal(50, 5, n).round(2),
        "Flag": rng.choice([True, False], n),              # boolean: categorical
        "Kind": rng.choice(["a", "b", "c"], n),
        "Code": rng.choice([10, 20, 30], n),               # numeric unless declared categorical
        "Price": np.r_[np.full(15, 900.0), np.full(n - 15, 100.0)] + rng.normal(0, 1, n),
    })


def spec(path, **kw):
    return DatasetSpec.from_dict({"source": "csv", "file": str(path), "target": "Price", **kw})


@pytest.fixture
def csv_path(tmp_path):
    df = own_table()
    df.loc[[3, 7], "Weight"] = np.nan  # two incomplete rows, dropped and counted
    p = tmp_path / "shop.csv"
    df.to_csv(p, index=False)
    return p


def test_schema_is_inferred_and_described(csv_path):
    ds = load_dataset(spec(csv_path, threshold=500))
    assert ds.spec.name == "shop" and ds.source == "csv"
    assert ds.spec.numeric == ["Width", "Weight", "Code"] and ds.spec.categorical == ["Flag", "Kind"]
    assert ds.X["Width"].dtype == "int64" and ds.X["Flag"].isin(["True", "False"]).all()
    assert ds.report["rows_read"] == 60 and ds.report["rows_dropped_missing"] == 2 and len(ds.X) == 58
    assert ds.report["classes"] == {"high": 13, "low": 45} and ds.report["minority"] == "high"
    text = describe(ds.spec, ds.report)
    assert "58 rows used of 60 (2 dropped for missing values)" in text
    assert "categorical (2): Flag, Kind" in text and "minority 'high'" in text


def test_overrides_and_drop(csv_path):
    ds = load_dataset(spec(csv_path, threshold=500, categorical=["Code"], drop=["Weight"]))
    assert ds.spec.numeric == ["Width"] and ds.spec.categorical == ["Flag", "Kind", "Code"]
    assert ds.report["rows_dropped_missing"] == 0  # the incomplete column is left out
    assert ds.X["Code"].isin(["10", "20", "30"]).all()


def test_freeze_round_trip(csv_path, tmp_path, capsys):
    out = tmp_path / "shop.yaml"
    assert freeze_dataset.main(["--file", str(csv_path), "--target", "Price", "--threshold", "500",
                                "--out", str(out)]) == 0
    assert "wrote" in capsys.readouterr().out
    frozen = DatasetSpec.from_dict(yaml.safe_load(out.read_text()))
    assert not frozen.inferred and frozen.expected_rows == 58
    assert frozen.expected_classes == {"high": 13, "low": 45} and frozen.binarize.threshold == 500
    again = load_dataset(frozen, data_dir=tmp_path / "elsewhere")
    inferred = load_dataset(spec(csv_path, threshold=500))
    pd.testing.assert_frame_equal(again.X, inferred.X)
    pd.testing.assert_series_equal(again.y, inferred.y)
    csv_path.write_text(csv_path.read_text() + "1,50.0,True,a,10,100.0\n")  # the file changes
    with pytest.raises(DatasetError, match="checksum"):
        load_dataset(frozen)


class FakeOpenML:
    """The two calls the loader makes, serving one table (``client.datasets.get_dataset``)."""

    def __init__(self, frame):
        self.frame, self.calls = frame, 0
        self.datasets = self

    def get_dataset(self, openml_id, download_data=True):
        self.calls += 1
        frame = self.frame

        class D:
            default_target_attribute = "class"

            def get_data(self, dataset_format="dataframe", target=None):
                return frame, None, None, None

        return D()


def test_openml_table_uses_the_default_target_and_is_cached(tmp_path):
    frame = own_table().assign(**{"class": ["pos"] * 15 + ["neg"] * 45}).drop(columns="Price")
    client = FakeOpenML(frame)
    s = DatasetSpec.from_dict({"source": "openml", "openml_id": 37, "target": None})
    ds = load_dataset(s, cache_dir=tmp_path, openml_client=client)
    assert ds.spec.name == "openml_37" and ds.spec.target == "class" and ds.source == "openml"
    assert ds.report["classes"] == {"neg": 45, "pos": 15}
    again = load_dataset(s, cache_dir=tmp_path, openml_client=None)  # offline: from the cache
    assert client.calls == 1 and again.source == "openml-cache" and again.spec.target == "class"


def test_csv_run_end_to_end_logs_the_schema(csv_path, tmp_path, fresh_store, capsys):
    import mlflow
    from hydra import compose, initialize_config_dir

    import imbllm.cli as cli
    import imbllm.pipeline as pipeline

    with initialize_config_dir(config_dir=cli.CONF_DIR, version_base="1.3"):
        cfg = compose("config", overrides=[
            "dataset=csv", f"dataset.file={csv_path}", "dataset.target=Price", "dataset.threshold=500",
            "method=smote", f"tracking.uri={fresh_store}", f"paths.cache={tmp_path}/cache"])
    cell = cli.build(cfg)
    metrics = pipeline.run_spec(cell.spec, cell.make_sampler, cell.make_classifier)
    assert 0 <= metrics["f1_minority"] <= 1 and metrics["n_generated"] == metrics["n_gen"]
    client = mlflow.tracking.MlflowClient(tracking_uri=fresh_store)
    (run,) = client.search_runs([client.get_experiment_by_name("adhoc").experiment_id])
    assert run.data.tags["dataset"] == "shop" and run.data.tags["data_rows_dropped"] == "2"
    path = mlflow.artifacts.download_artifacts(run_id=run.info.run_id, artifact_path="dataset.yaml",
                                               tracking_uri=fresh_store)
    logged = yaml.safe_load(Path(path).read_text())
    assert logged["categorical"] == ["Flag", "Kind"] and logged["expected_rows"] == 58
    # The same table renamed is the same run (the key is the content, not the name).
    with initialize_config_dir(config_dir=cli.CONF_DIR, version_base="1.3"):
        cfg2 = compose("config", overrides=[
            "dataset=csv", f"dataset.file={csv_path}", "dataset.target=Price", "dataset.threshold=500",
            "dataset.name=renamed", "method=smote", f"tracking.uri={fresh_store}", f"paths.cache={tmp_path}/c2"])
    cell2 = cli.build(cfg2)
    assert pipeline.run_spec(cell2.spec, cell2.make_sampler, cell2.make_classifier) is None
