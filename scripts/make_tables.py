"""Write the paper's tables from the tracking store (imbllm/analysis/tables.py).

    python scripts/make_tables.py                         # every experiment in the store
    python scripts/make_tables.py --experiment quickstart --print
    python scripts/make_tables.py --export results/runs        # also write the flat run records
    python scripts/make_tables.py --runs results/runs/*.csv.gz # rebuild from committed records

For each experiment, protocol mode and classifier: one markdown table per score (datasets x
methods, mean (std) over seeds with the population std, 4 decimals, best per dataset in bold,
an average-rank row), under ``results/tables/<experiment>/``. Each file names the commands that
made its runs (each run's ``command`` tag) and the sweep's wall time, both read from the store.
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracking-uri", default=None)
    ap.add_argument("--experiment", action="append", help="experiment name(s); default: all")
    ap.add_argument("--out", default="results/tables")
    ap.add_argument("--print", action="store_true", help="also print the tables")
    ap.add_argument("--runs", nargs="+", help="read exported run records (results/runs/*.csv.gz) instead of the store")
    ap.add_argument("--export", default=None, help="also export the runs as flat CSV records to this folder")
    args = ap.parse_args(argv)
    # Imported here so that --help works without the tracking stack.
    from imbllm.analysis.tables import write_tables
    from imbllm.results import export_runs, load_runs, read_runs

    if args.runs:
        runs = read_runs(args.runs)
        if args.experiment:
            runs = runs[runs["experiment"].isin(args.experiment)]
    else:
        runs = load_runs(args.tracking_uri, args.experiment)
    if runs.empty:
        print("No finished runs in the tracking store: run imbllm-bench first.", file=sys.stderr)
        return 1
    if args.export:
        for path in export_runs(runs, args.export):
            print(f"exported {path}")
    written = []
    for exp in sorted(runs["experiment"].unique()):
        written += write_tables(runs, Path(args.out), exp)
    if args.print:
        for table in written:
            print(f"\n{table.title}\n{table.body}")
    print(f"wrote {len(written)} tables under {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
