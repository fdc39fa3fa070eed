"""Load a benchmark table: local folder, then the OpenML cache, then an OpenML download.

``load_dataset("german")`` returns a :class:`Dataset`: features (numeric columns first, then
categorical, as protocol.md §1 orders them), the target as strings, and where it came from.
Every source is verified against the spec (checksum of a local file, row and class counts of
the built table), so a wrong or corrupted file fails loudly instead of skewing results.
"""

from __future__ import annotations

import dataclasses
import hashlib
import logging
import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np
import pandas as pd

from imbllm.data.errors import DatasetError
from imbllm.data.infer import infer_table, read_table
from imbllm.data.spec import DatasetSpec, get_spec

log = logging.getLogger(__name__)

ENV_DATA_DIR = "IMBLLM_DATA_DIR"
ENV_CACHE_DIR = "IMBLLM_CACHE_DIR"


@dataclass
class Dataset:
    """A loaded benchmark table and its provenance."""

    spec: DatasetSpec
    X: pd.DataFrame
    y: pd.Series
    source: str  # "local" | "openml-cache" | "openml" | "csv"
    path: str
    sha256: str
    #: What was inferred for an own table (rows read and dropped, classes, minority); else None.
    report: dict | None = None

    @property
    def name(self) -> str:
        return self.spec.name


def sha256_of(path: str | Path) -> str:
    h = hashlib.sha256()
    with open(path, "rb") as fh:
        for chunk in iter(lambda: fh.read(1 << 20), b""):
            h.update(chunk)
    return h.hexdigest()


def default_data_dir() -> Path | None:
    """``$IMBLLM_DATA_DIR``, else ``../shared/datasets`` beside the checkout if it exists."""
    env = os.environ.get(ENV_DATA_DIR)
    if env:
        return Path(env)
    mirror = Path(__file__).resolve().parents[3] / "shared" / "datasets"
    return mirror if mirror.exists() else None


def default_cache_dir() -> Path:
    env = os.environ.get(ENV_CACHE_DIR)
    return Path(env) if env else Path.home() / ".cache" / "imbllm" / "openml"


def read_raw_csv(path: str | Path) -> pd.DataFrame:
    # utf-8-sig: car.csv starts with a byte-order mark that would otherwise rename a column.
    return pd.read_csv(path, encoding="utf-8-sig")


def prepare_table(raw: pd.DataFrame, spec: DatasetSpec) -> tuple[pd.DataFrame, pd.Series]:
    """Turn a raw frame (the mirror's shape) into the benchmark table of ``spec``."""
    missing = [c for c in spec.features + [spec.target] if c not in raw.columns]
    if missing:
        raise DatasetError(
            f"Dataset {spec.name!r}: the file lacks columns {missing}; it has "
            f"{list(raw.columns)}. Is it the right file?"
        )
    df = raw[spec.features + [spec.target]].copy()
    # The paper drops rows with any missing value before binarising the target.
    df = df.dropna(how="any").reset_index(drop=True)
    y = df.pop(spec.target)
    if spec.binarize is not None:
        b = spec.binarize
        y = pd.Series(np.where(y.astype(float) >= b.threshold, b.above, b.below), name=spec.target)
    y = y.astype(str)
    X = df
    for c in spec.numeric:
        v = pd.to_numeric(X[c], errors="raise")
        # The text the LLM sees must say 39, not 39.0.
        if pd.api.types.is_float_dtype(v) and np.all(np.mod(v.to_numpy(), 1) == 0):
            v = v.astype("int64")
        X[c] = v
    for c in spec.categorical:
        X[c] = X[c].astype(str)
    return X, y


def verify_table(X: pd.DataFrame, y: pd.Series, spec: DatasetSpec, where: str) -> None:
    counts = {str(k): int(v) for k, v in y.value_counts().items()}
    if len(X) != spec.expected_rows or counts != spec.expected_classes:
        raise DatasetError(
            f"Dataset {spec.name!r} from {where}: expected {spec.expected_rows} rows with classes "
            f"{spec.expected_classes}, got {len(X)} rows with {counts}. The file is not the "
            "paper's table; remove it or point IMBLLM_DATA_DIR at the verified mirror."
        )


def _from_local(spec: DatasetSpec, data_dir: Path | None) -> Dataset | None:
    # A frozen own table names its file by absolute path; the paper's ten by name in data_dir.
    path = Path(spec.filename) if Path(spec.filename).is_absolute() else data_dir / spec.filename
    if not path.exists():
        return None
    digest = sha256_of(path)
    if spec.sha256 and digest != spec.sha256:
        raise DatasetError(
            f"Dataset {spec.name!r}: {path} has checksum {digest[:12]}…, expected "
            f"{spec.sha256[:12]}… (conf/dataset/{spec.name}.yaml). The file is corrupted or a "
            "different version; restore it from the mirror or delete it to fetch from OpenML."
        )
    X, y = prepare_table(read_raw_csv(path), spec)
    verify_table(X, y, spec, str(path))
    return Dataset(spec, X, y, "local", str(path), digest)


def _from_openml(spec: DatasetSpec, cache_dir: Path, client=None) -> Dataset:
    from imbllm.data.openml_source import fetch_openml_table

    cached = cache_dir / spec.filename
    source = "openml-cache"
    if not cached.exists():
        raw = fetch_openml_table(spec, client=client)
        cache_dir.mkdir(parents=True, exist_ok=True)
        tmp = cached.with_suffix(".tmp")
        raw.to_csv(tmp, index=False)
        tmp.replace(cached)  # atomic: a killed download never leaves a half file behind
        source = "openml"
    X, y = prepare_table(read_raw_csv(cached), spec)
    try:
        verify_table(X, y, spec, f"the OpenML cache {cached}")
    except DatasetError:
        cached.unlink(missing_ok=True)
        raise
    return Dataset(spec, X, y, source, str(cached), sha256_of(cached))


def resolve_file(spec: DatasetSpec, data_dir: str | Path | None = None) -> Path:
    """Where an own table's file is: as given (absolute or from the working folder), else in
    the data folder."""
    p = Path(str(spec.file)).expanduser()
    if p.is_absolute() or p.exists() or data_dir is None:
        return p
    return Path(data_dir) / p


def _own_table(spec: DatasetSpec, data_dir, cache_dir, client) -> Dataset:
    if spec.source == "csv":
        path = resolve_file(spec, data_dir or default_data_dir())
        raw, source = read_table(path), "csv"
    else:  # openml: the table as OpenML serves it, cached as CSV
        from imbllm.data.openml_source import fetch_openml_frame

        path = Path(cache_dir or default_cache_dir()) / f"openml_{spec.openml_id}.csv"
        source = "openml-cache"
        if not path.exists():
            frame, default_target = fetch_openml_frame(spec.openml_id, client=client)
            path.parent.mkdir(parents=True, exist_ok=True)
            # OpenML's default target, kept beside the table for the next (offline) load.
            path.with_suffix(".target").write_text(str(default_target or "").split(",")[0])
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            frame.to_csv(tmp, index=False)
            tmp.replace(path)
            source = "openml"
        raw = read_table(path, key="dataset.openml_id")
        named = path.with_suffix(".target")
        if spec.target is None and named.exists() and named.read_text():
            spec = dataclasses.replace(spec, target=named.read_text())
    if spec.target is None:
        raise DatasetError(f"dataset.target is not set for {spec.name!r}; name the label column, e.g. dataset.target=class.")
    digest = sha256_of(path)
    if spec.sha256 and digest != spec.sha256:
        raise DatasetError(
            f"dataset.sha256={spec.sha256[:12]}… does not match {path} (checksum {digest[:12]}…); "
            "the file changed since the spec was written: restore it or drop dataset.sha256.")
    spec = dataclasses.replace(spec, sha256=digest, file=str(path))
    spec, X, y, report = infer_table(raw, spec)
    return Dataset(spec, X, y, source, str(path), digest, report)


def load_dataset(
    name: str | DatasetSpec,
    data_dir: str | Path | None = None,
    cache_dir: str | Path | None = None,
    *,
    allow_download: bool = True,
    openml_client=None,
) -> Dataset:
    """Load and verify one benchmark table.

    Sources, in order: ``data_dir`` (or ``$IMBLLM_DATA_DIR``, or ``../shared/datasets``)
    holding ``<name>.csv``; the OpenML cache in ``cache_dir``; an OpenML download (where the
    paper's table can be rebuilt from OpenML). Fails with a message naming what was tried.

    Examples
    --------
    >>> ds = load_dataset("insurance")  # doctest: +SKIP
    >>> ds.X.shape, ds.y.value_counts().to_dict()  # doctest: +SKIP
    ((1338, 6), {'low': 712, 'high': 626})
    """
    spec = name if isinstance(name, DatasetSpec) else get_spec(name)
    if spec.inferred:
        return _own_table(spec, data_dir, cache_dir, openml_client)
    tried = []
    local = Path(data_dir) if data_dir else default_data_dir()
    if local is not None or Path(spec.filename).is_absolute():
        ds = _from_local(spec, local)
        if ds is not None:
            return ds
        tried.append(f"no {spec.filename} in {local}")
    else:
        tried.append(f"no local folder (set {ENV_DATA_DIR} or data.dir=)")
    cache = Path(cache_dir) if cache_dir else default_cache_dir()
    if (cache / spec.filename).exists() or (allow_download and spec.openml_id is not None):
        try:
            return _from_openml(spec, cache, client=openml_client)
        except DatasetError:
            raise
        except Exception as exc:  # network, client or mapping failure: report what was tried
            tried.append(f"OpenML id {spec.openml_id} failed ({type(exc).__name__}: {exc})")
    elif spec.openml_id is None:
        tried.append("OpenML does not hold this table")
    else:
        tried.append("downloads disabled")
    raise DatasetError(
        f"Dataset {spec.name!r} could not be loaded: " + "; ".join(tried) + ". Put "
        f"{spec.filename} (the paper's file, sha256 {str(spec.sha256)[:12]}…) in a folder and "
        f"set {ENV_DATA_DIR} or pass data.dir=."
    )
