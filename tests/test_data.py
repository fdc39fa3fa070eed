"""Dataset loading: the mirror, verification failures, and OpenML through a stub client.

The stub serves frames in OpenML's shape, built from the mirror by inverting protocol.md §1's
mappings, so the OpenML path is exercised without network.
"""

from __future__ import annotations

import shutil
import sys

import numpy as np
import pandas as pd
import pytest

from imbllm.data import DatasetError, available_datasets, get_spec, load_dataset
from imbllm.data.loader import read_raw_csv
from imbllm.data.openml_source import OpenMLTableError, fetch_openml_table

# protocol.md §1, typed by hand so that a wrong YAML spec fails here.
EXPECTED = {
    "german": (1000, {"1": 700, "2": 300}),
    "fuel": (639, {"high": 281, "low": 358}),
    "insurance": (1338, {"high": 626, "low": 712}),
    "housing": (20433, {"high": 8666, "low": 11767}),
    "bank": (4521, {"no": 4000, "yes": 521}),
    "adult": (30162, {"<=50K": 22654, ">50K": 7508}),
    "gem_price": (26270, {"high": 12751, "low": 13519}),
    "car": (1728, {"unacc": 1210, "acc": 384, "good": 69, "vgood": 65}),
    "sick": (3560, {"negative": 3335, "sick": 225}),
    "credit_card": (10127, {"Attrited Customer": 1627, "Existing Customer": 8500}),
}
INT_COLUMNS = {  # spot checks of integral columns, floats in some sources
    "car": ["doors", "persons"], "insurance": ["age", "children"], "sick": ["age"],
    "housing": ["total_bedrooms", "population"], "fuel": ["CYLINDERS", "COEMISSIONS"],
}
STUBBED = ["insurance", "housing", "car", "adult", "bank", "german", "sick"]


@pytest.fixture(scope="module")
def mirror(mirror_dir):
    """Every dataset loaded once from the mirror, with its raw frame."""
    return {n: (load_dataset(n, mirror_dir, allow_download=False),
                read_raw_csv(mirror_dir / f"{n}.csv")) for n in available_datasets()}


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_mirror_tables_match_protocol(mirror, name):
    ds, _ = mirror[name]
    rows, classes = EXPECTED[name]
    assert ds.source == "local" and len(ds.X) == rows
    assert ds.y.value_counts().to_dict() == classes
    assert list(ds.X.columns) == ds.spec.numeric + ds.spec.categorical
    assert ds.y.map(type).eq(str).all()
    for c in ds.spec.categorical:
        assert ds.X[c].map(type).eq(str).all(), c
    for c in ds.spec.numeric:
        integral = np.all(np.mod(ds.X[c].to_numpy(dtype=float), 1) == 0)
        assert ds.X[c].dtype == ("int64" if integral else "float64"), c
    for c in INT_COLUMNS.get(name, []):
        assert ds.X[c].dtype == "int64", c


def test_available_datasets_and_car_bom(mirror, mirror_dir):
    assert sorted(available_datasets()) == sorted(EXPECTED)
    assert (mirror_dir / "car.csv").read_bytes().startswith(b"\xef\xbb\xbf")
    assert mirror["car"][0].X.columns[-4] == "buying"  # not "\ufeffbuying"
    assert mirror["german"][0].X.iloc[0].to_dict()["credit_amount"] == 1169


def test_corrupted_file_fails_on_checksum(mirror_dir, tmp_path):
    data = bytearray((mirror_dir / "german.csv").read_bytes())
    data[5000] ^= 0x01
    (tmp_path / "german.csv").write_bytes(bytes(data))
    with pytest.raises(DatasetError, match=r"'german'.*checksum"):
        load_dataset("german", tmp_path, tmp_path / "cache", allow_download=False)


def test_missing_file_names_what_was_tried(tmp_path):
    with pytest.raises(DatasetError) as err:
        load_dataset("german", tmp_path, tmp_path / "cache", allow_download=False)
    msg = str(err.value)
    for part in ["'german'", f"no german.csv in {tmp_path}", "downloads disabled",
                 "IMBLLM_DATA_DIR", "data.dir="]:
        assert part in msg


def test_mirror_only_dataset_is_not_downloaded(tmp_path):
    with pytest.raises(DatasetError, match="OpenML does not hold this table"):
        load_dataset("fuel", tmp_path, tmp_path / "cache")
    stub = StubOpenML({})
    with pytest.raises(OpenMLTableError, match=r"'gem_price'.*42225.*superset"):
        fetch_openml_table(get_spec("gem_price"), client=stub)
    assert stub.calls == []


def test_unknown_dataset_lists_valid_names():
    with pytest.raises(ValueError, match="Unknown dataset 'nope'") as err:
        load_dataset("nope")
    assert all(n in str(err.value) for n in EXPECTED)


# --- OpenML through a stub client -------------------------------------------------------------

class StubOpenML:
    """Answers ``datasets.get_dataset(id, download_data=True).get_data(...)``; counts calls."""

    def __init__(self, frames: dict[int, pd.DataFrame], error: Exception | None = None):
        self.frames, self.error, self.calls = frames, error, []
        self.datasets = self

    def get_dataset(self, dataset_id, download_data=False, **kwargs):
        self.calls.append(dataset_id)
        if self.error is not None:
            raise self.error
        assert download_data
        return _StubDataset(self.frames[dataset_id])


class _StubDataset:
    def __init__(self, frame):
        self.frame = frame

    def get_data(self, target=None, dataset_format="dataframe", **kwargs):
        assert target is None and dataset_format == "dataframe"
        cats = [isinstance(t, pd.CategoricalDtype) for t in self.frame.dtypes]
        return self.frame.copy(), None, cats, list(self.frame.columns)


def _openml_dtypes(df: pd.DataFrame) -> pd.DataFrame:
    """OpenML serves numbers as floats and nominal columns as categories."""
    return df.apply(lambda s: s.astype(float) if pd.api.types.is_numeric_dtype(s)
                    else s.astype("category"))


def to_openml(name: str, raw: pd.DataFrame) -> pd.DataFrame:
    """Invert protocol.md §1's mapping: the mirror's raw frame in OpenML's shape."""
    df = raw.copy()
    if name == "housing":
        df.insert(8, "median_house_value", df.pop("median_house_value"))
    elif name == "car":
        df["doors"] = df["doors"].astype(str).replace("5", "5more")
        df["persons"] = df["persons"].astype(str).replace("5", "more")
        df = df.rename(columns={"target": "class"})
    elif name == "adult":
        df.insert(2, "fnlwgt", 1000.0)
        df = df.rename(columns={"income-per-year": "class"})
        test_part = df.iloc[np.arange(16281) % 100].assign(**{"class": ">50K."})
        with_nan = df.iloc[:40].assign(**{"native-country": np.nan})
        df = pd.concat([test_part, df.iloc[:500], with_nan, df.iloc[500:]])
    elif name == "bank":
        df["age"] = np.where(df["age"] == "youth", 22, 40)
        df.insert(9, "day", 5)
        df.insert(10, "month", "may")
        df["subscribe"] = df["subscribe"].map({"no": "1", "yes": "2"})
        df.columns = [f"V{i}" for i in range(1, 17)] + ["Class"]
    elif name == "german":
        from imbllm.data.openml_source import GERMAN_RENAME
        df = df.rename(columns={v: k for k, v in GERMAN_RENAME.items()})
        df["age"] = np.where(df["age"] == "youth", 22, 40)
        df["personal_status"] = df.pop("sex").map({"female": "female div/dep/mar",
                                                   "male": "male single"})
        df["class"] = df["class"].map({1: "good", 2: "bad"})
    elif name == "sick":
        for h in ["TSH", "T3", "TT4", "T4U", "FTI"]:
            df.loc[df[f"{h}_measured"] == "f", h] = np.nan
        df.insert(26, "TBG_measured", "f")
        df.insert(27, "TBG", np.nan)
        extra = [df.iloc[:150].assign(sex=np.nan), df.iloc[[0]].assign(age=455.0),
                 df.iloc[200:261]]  # the 212 rows the authors removed, in kind
        df = pd.concat([df, *extra])
    return _openml_dtypes(df).reset_index(drop=True)


def stub_for(name, raw, **changes) -> StubOpenML:
    return StubOpenML({get_spec(name).openml_id: to_openml(name, raw)}, **changes)


@pytest.mark.parametrize("name", STUBBED)
def test_openml_rebuilds_table_and_caches_it(mirror, tmp_path, name):
    expected, raw = mirror[name]
    stub = stub_for(name, raw)
    ds = load_dataset(name, tmp_path / "empty", tmp_path / "cache", openml_client=stub)
    assert ds.source == "openml" and stub.calls == [get_spec(name).openml_id]
    assert list(read_raw_csv(ds.path).columns) == list(raw.columns)  # the mirror's shape
    pd.testing.assert_series_equal(ds.y, expected.y)
    cols = expected.X.columns
    if name == "sick":  # unmeasured hormones are filled with OpenML's column means
        openml = stub.frames[38]
        for h in ["TSH", "T3", "TT4", "T4U", "FTI"]:
            measured = ds.X[f"{h}_measured"] == "t"
            np.testing.assert_allclose(ds.X.loc[~measured, h], openml[h].mean())
            np.testing.assert_allclose(ds.X.loc[measured, h], expected.X.loc[measured, h])
        cols = [c for c in cols if c not in {"TSH", "T3", "TT4", "T4U", "FTI"}]
    pd.testing.assert_frame_equal(ds.X[cols], expected.X[cols])

    again = load_dataset(name, tmp_path / "empty", tmp_path / "cache", openml_client=stub)
    assert again.source == "openml-cache" and len(stub.calls) == 1
    assert again.sha256 == ds.sha256
    pd.testing.assert_frame_equal(again.X, ds.X)


def test_openml_cache_writes_integers_as_integers(mirror, tmp_path):
    load_dataset("insurance", tmp_path / "empty", tmp_path / "cache",
                 openml_client=stub_for("insurance", mirror["insurance"][1]))
    lines = (tmp_path / "cache" / "insurance.csv").read_text().splitlines()
    assert lines[1] == "19,female,27.9,0,yes,southwest,16884.924"
    raw = fetch_openml_table(get_spec("housing"), client=stub_for("housing", mirror["housing"][1]))
    assert raw["total_bedrooms"].dtype == "Int64" and raw["total_bedrooms"].isna().sum() == 207


def test_openml_failure_reports_what_was_tried(tmp_path):
    stub = StubOpenML({}, error=ConnectionError("network is unreachable"))
    with pytest.raises(DatasetError) as err:
        load_dataset("bank", tmp_path / "empty", tmp_path / "cache", openml_client=stub)
    msg = str(err.value)
    for part in ["'bank'", "no bank.csv in", "OpenML id 1558 failed",
                 "ConnectionError: network is unreachable", "IMBLLM_DATA_DIR"]:
        assert part in msg
    assert stub.calls == [1558] and not (tmp_path / "cache" / "bank.csv").exists()


def test_openml_wrong_row_count_removes_cache(mirror, tmp_path):
    stub = stub_for("insurance", mirror["insurance"][1].iloc[:-1])
    with pytest.raises(DatasetError, match=r"expected 1338 rows.*got 1337 rows"):
        load_dataset("insurance", tmp_path / "empty", tmp_path / "cache", openml_client=stub)
    assert list((tmp_path / "cache").iterdir()) == []


def test_sick_rebuild_that_misses_the_counts_says_use_the_mirror(mirror, tmp_path):
    raw = mirror["sick"][1]
    stub = stub_for("sick", raw[raw["Class"] == "negative"].head(3400))
    with pytest.raises(DatasetError, match=r"OpenMLTableError.*use the mirror file sick.csv"):
        load_dataset("sick", tmp_path / "empty", tmp_path / "cache", openml_client=stub)
    assert not (tmp_path / "cache" / "sick.csv").exists()


@pytest.mark.parametrize("name, change, match", [
    ("insurance", lambda df: df.assign(charges=np.log(df["charges"])), "rescaled"),
    ("bank", lambda df: df.assign(Class=df["Class"].astype(str).where(df.index > 0, "3")),
     r"'Class' has values \['3'\]"),
    ("car", lambda df: df.drop(columns=["safety"]), r"lacks columns \['safety'\]"),
])
def test_unmappable_openml_tables_fail_clearly(mirror, name, change, match):
    stub = stub_for(name, mirror[name][1])
    stub.frames = {k: change(v) for k, v in stub.frames.items()}
    with pytest.raises(OpenMLTableError, match=match):
        fetch_openml_table(get_spec(name), client=stub)


def test_missing_openml_package_names_the_extra(monkeypatch, tmp_path):
    monkeypatch.setitem(sys.modules, "openml", None)  # makes `import openml` fail
    with pytest.raises(ImportError, match=r"pip install imbllm\[openml\]"):
        fetch_openml_table(get_spec("insurance"))
    with pytest.raises(DatasetError, match=r"'insurance'.*imbllm\[openml\]"):
        load_dataset("insurance", tmp_path / "empty", tmp_path / "cache")


def test_local_copy_of_mirror_file_is_used_first(mirror_dir, tmp_path):
    shutil.copy(mirror_dir / "car.csv", tmp_path / "car.csv")
    stub = StubOpenML({})
    ds = load_dataset("car", tmp_path, tmp_path / "cache", openml_client=stub)
    assert ds.source == "local" and stub.calls == [] and len(ds.X) == 1728
