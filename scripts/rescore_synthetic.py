"""Recompute the synthetic-data metrics of logged runs from their ``synthetic.csv`` artifacts.

    python scripts/rescore_synthetic.py --experiment paper_classical [--max-rows 2000]

When a metric definition changes, the generators need not run again: each run's synthetic
minority rows are stored, and the real rows (R, U) are rebuilt from the dataset and the run's
seed and ratio. New values are logged to the same runs (MLflow keeps the history; the latest
value is the one read), with the tag ``synthetic_metrics_rescored``.
"""

from __future__ import annotations

import argparse
import sys
import time
from pathlib import Path

import pandas as pd
from tqdm import tqdm

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imbllm.data import load_dataset  # noqa: E402
from imbllm.metrics.synthetic import synthetic_metrics  # noqa: E402
from imbllm.protocol import make_split  # noqa: E402
from imbllm.registry import methods  # noqa: E402
from imbllm.results import load_runs  # noqa: E402
from imbllm.tracking import DEFAULT_URI, code_version  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracking-uri", default=DEFAULT_URI)
    ap.add_argument("--experiment", action="append")
    ap.add_argument("--max-rows", type=int, default=2000)
    ap.add_argument("--all", action="store_true", help="also runs rescored before")
    args = ap.parse_args(argv)
    import mlflow
    from mlflow.entities import Metric, RunTag

    client = mlflow.tracking.MlflowClient(tracking_uri=args.tracking_uri)
    runs = load_runs(args.tracking_uri, args.experiment)
    runs = runs[~runs["method"].isin(methods().upper_bounds())]  # trained on the full split: no rows made
    if not args.all:
        runs = runs[runs["rescored"].isna()]
    datasets, splits = {}, {}
    t0, done = time.perf_counter(), 0
    for row in tqdm(list(runs.itertuples()), desc="rescore", unit="run"):
        if row.dataset not in datasets:
            datasets[row.dataset] = load_dataset(row.dataset)
        ds = datasets[row.dataset]
        key = (row.dataset, int(row.seed), float(row.ratio))
        if key not in splits:
            s = make_split(ds.X, ds.y, seed=int(row.seed), ratio=float(row.ratio))
            R = s.X_imb[(s.y_imb == s.minority).to_numpy()].reset_index(drop=True)
            U = s.X_test[(s.y_test == s.minority).to_numpy()].reset_index(drop=True)
            splits[key] = (R, U)
        R, U = splits[key]
        path = mlflow.artifacts.download_artifacts(
            run_id=row.run_id, artifact_path="synthetic.csv", tracking_uri=args.tracking_uri
        )
        S = pd.read_csv(path, dtype={c: str for c in ds.spec.categorical})
        S = S[list(ds.X.columns)]
        m = synthetic_metrics(
            S, R, U, ds.spec.numeric, ds.spec.categorical, max_rows=args.max_rows, random_state=int(row.seed)
        )
        m["n_synthetic_minority"] = len(S)  # runs logged before the runner counted them
        now = int(time.time() * 1000)
        client.log_batch(
            row.run_id,
            metrics=[Metric(k, float(v), now, 1) for k, v in m.items()],
            tags=[RunTag("synthetic_metrics_rescored", code_version())],
        )
        done += 1
    print(f"rescored {done} runs in {time.perf_counter() - t0:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
