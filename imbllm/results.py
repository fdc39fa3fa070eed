"""Read the tracking store into one flat frame, and shape it into the paper's tables.

Tables are built from logged runs only: never typed by hand.
"""

from __future__ import annotations

import os
from pathlib import Path

import numpy as np
import pandas as pd

from imbllm.metrics import higher_is_better
from imbllm.registry import methods as registry
from imbllm.runspec import digest, key_from_logged_params
from imbllm.tracking import DEFAULT_URI

KEYS = ["experiment", "dataset", "method", "classifier", "ratio", "seed", "protocol"]

DATASET_ORDER = ["german", "fuel", "insurance", "housing", "bank", "adult", "gem_price", "car", "sick", "credit_card"]

def load_runs(tracking_uri: str | None = None, experiment_names: list[str] | None = None) -> pd.DataFrame:
    """One row per finished run: the keys, every metric, ``run_id`` and ``artifact_uri``.

    Runs are told apart by their run key within an experiment, as the tracker tells them
    apart when it skips a cell already done: runs that differ in any setting that decides the
    result (a newly swept one included) are all kept; when one key has several finished runs
    (``force=true``), the latest started counts. See :func:`_cell` for runs logged without a
    current key.
    """
    import mlflow

    uri = tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    client = mlflow.tracking.MlflowClient(tracking_uri=uri)
    exps = client.search_experiments()
    by_id = {e.experiment_id: e.name for e in exps}
    ids = [e.experiment_id for e in exps if experiment_names is None or e.name in experiment_names]
    if not ids:
        return pd.DataFrame(columns=KEYS + ["run_id", "artifact_uri"])
    rows = []
    for run in _search_all(client, ids):
        p, m, t = run.data.params, run.data.metrics, run.data.tags
        row = {
            "run_id": run.info.run_id,
            "artifact_uri": run.info.artifact_uri,
            "start_time": run.info.start_time,
            "end_time": run.info.end_time,
            "experiment": by_id[run.info.experiment_id],
            "dataset": p.get("dataset"),
            "method": p.get("method"),
            "classifier": p.get("classifier"),
            "ratio": float(p.get("ratio", "nan")),
            "seed": int(p.get("seed", -1)),
            "protocol": p.get("protocol"),
            "run_key": t.get("run_key"),
            "fallback": t.get("fallback"),
            "backbone": t.get("backbone"),
            "code_version": t.get("code_version"),
            "command": t.get("command"),
            "rescored": t.get("synthetic_metrics_rescored"),
            # How an LLM run was made (None for the others): the before/after comparisons.
            "pretrain": t.get("pretrain"),
            "decoding": t.get("decoding"),
            "label": t.get("label"),
            "interpolation_ratio": _number(p.get("config.method.sampler.interpolation_ratio")),
            "_cell": _cell(p, t),
        }
        row.update(m)
        rows.append(row)
    df = pd.DataFrame(rows)
    if df.empty:
        return pd.DataFrame(columns=KEYS + ["run_id", "artifact_uri"])
    # One result per experiment and run key: a rerun of the same cell replaces the older one.
    df = df.sort_values(["start_time", "end_time"], kind="stable")
    df = df.drop_duplicates(["experiment", "_cell"], keep="last").drop(columns="_cell")
    return df.reset_index(drop=True)


def _cell(params: dict[str, str], tags: dict[str, str]) -> str:
    """The key a run is told apart by in :func:`load_runs`.

    A run logged with a ``key_version`` carries its key as the tag ``run_key``. One logged
    before (no ``key_version``) is keyed from the configuration it logged as ``config.*``,
    as the tracker keys it (:func:`imbllm.runspec.key_from_logged_params`), so that it and
    a later run of the same cell count once; failing that, by the ``run_key`` tag it
    carries; a run with neither (logged by hand, by an old script) by all of its params, so
    that runs differing in any logged setting stay apart.
    """
    if "key_version" in tags and tags.get("run_key"):
        return tags["run_key"]
    key = key_from_logged_params(params) or tags.get("run_key")
    return key if key else "params:" + digest(params)


def export_runs(runs: pd.DataFrame, out_dir: str | Path) -> list[Path]:
    """Write one flat CSV per experiment (keys, provenance, every metric): the committed record.

    The tracking database stays out of git; these files let a later checkout rebuild the
    tables (``make_tables.py --runs``) without it.
    """
    out = Path(out_dir)
    out.mkdir(parents=True, exist_ok=True)
    written = []
    for exp, part in runs.groupby("experiment"):
        path = out / f"{exp}.csv.gz"
        part.drop(columns=["artifact_uri"], errors="ignore").to_csv(path, index=False)
        written.append(path)
    return written


def read_runs(paths: list[str | Path]) -> pd.DataFrame:
    """Concatenate exported run records (see :func:`export_runs`)."""
    return pd.concat([pd.read_csv(p) for p in paths], ignore_index=True)


def _number(text: str | None) -> float:
    """A logged numeric param; NaN where the run's method has no such setting."""
    return float("nan") if text in (None, "None") else float(text)


def _search_all(client, ids):
    token = None
    while True:
        page = client.search_runs(
            ids, filter_string="attributes.status = 'FINISHED'", max_results=5000, page_token=token
        )
        yield from page
        token = page.token
        if not token:
            return


def _order(values, order):
    known = [v for v in order if v in set(values)]
    return known + sorted(set(values) - set(order))


def dataset_order(datasets) -> list[str]:
    """The paper's order of datasets (``DATASET_ORDER``), unknown ones last, sorted."""
    return _order(datasets, DATASET_ORDER)


def method_order(methods) -> list[str]:
    """Methods in table order (``order:`` in conf/method, :mod:`imbllm.registry`); methods
    without a config last, sorted."""
    return registry().order(methods)


def summary_table(
    runs: pd.DataFrame, metric: str, *, decimals: int = 4
) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """Datasets x methods: mean and population std over seeds, and per-dataset ranks.

    Returns ``(mean, std, rank)``; ranks follow the metric's goal (:func:`imbllm.metrics.goal`),
    leave out the reference rows trained on more data (:attr:`imbllm.registry.Method.upper_bound`)
    and have one extra row, ``avg rank``. ``std`` is NaN where a cell has runs of a single
    seed: a spread of 0 there would read as seeds that agree.
    """
    g = runs.groupby(["dataset", "method"])[metric]
    mean = g.mean().unstack("method")
    seeds = runs[runs[metric].notna()].groupby(["dataset", "method"])["seed"].nunique()
    std = g.std(ddof=0).where(seeds > 1).unstack("method")
    datasets = _order(mean.index, DATASET_ORDER)
    methods = method_order(mean.columns)
    mean, std = mean.loc[datasets, methods], std.loc[datasets, methods]
    ranked = [m for m in methods if m not in registry().upper_bounds]
    rank = mean[ranked].round(decimals).rank(axis=1, ascending=not higher_is_better(metric),
                                             method="average")
    rank.loc["avg rank"] = rank.mean(axis=0)
    return mean, std, rank


def format_table(mean: pd.DataFrame, std: pd.DataFrame, rank: pd.DataFrame, *,
                 decimals: int = 4) -> str:
    """Markdown: ``mean (std)``, the methods ranked first on a dataset in bold, an
    average-rank row (``—`` for the rows ``rank`` leaves out)."""
    methods = list(mean.columns)
    lines = ["| dataset | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for d in mean.index:
        row, first = mean.loc[d], rank.loc[d].min()
        cells = []
        for m in methods:
            v, s = row[m], std.loc[d, m]
            if pd.isna(v):
                cells.append("—")
                continue
            text = f"{v:.{decimals}f} ({s:.{decimals}f})" if pd.notna(s) else f"{v:.{decimals}f} (1 seed)"
            if m in rank.columns and np.isclose(rank.at[d, m], first):
                text = f"**{text}**"
            cells.append(text)
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    avg = rank.loc["avg rank"]
    lines.append("| avg rank | " + " | ".join(f"{avg[m]:.2f}" if m in avg else "—" for m in methods) + " |")
    return "\n".join(lines)
