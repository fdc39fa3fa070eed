"""Build results/report.md and results/figures/*.png from the MLflow tracking store alone.

    python scripts/make_report.py                                # default store, all experiments
    python scripts/make_report.py --experiments paper ablation   # only these experiments
    python scripts/make_report.py --tracking-uri sqlite:///results/mlruns.db --no-embeddings
    python scripts/make_report.py --runs results/runs/*.csv.gz --readme README.md  # committed

The F1 and AUC tables of both protocol modes, the synthetic-data tables, average ranks,
Friedman/Nemenyi (critical-difference diagrams), Wilcoxon + Holm of the reference method
against each baseline, per-dataset ``dum`` bars and t-SNE embeddings, and one paragraph per
finding written from those numbers. ``--readme`` also copies the headline block
(``summary.md``) between the README's results markers. Embeddings rebuild R and U from the datasets and read S
from each run's ``synthetic.csv`` artifact.
"""

from __future__ import annotations

import argparse
import logging
import os
import shlex
import sys
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--tracking-uri", default=None,
                   help="MLflow tracking URI (default: $MLFLOW_TRACKING_URI, else the project's)")
    p.add_argument("--experiments", nargs="*", default=None, help="experiment names (default: all)")
    p.add_argument("--out", default=str(ROOT / "results"), help="folder for report.md and figures/")
    p.add_argument("--reference", default=None,
                   help="method compared with every other (default: the one of role proposed "
                   "in conf/method, imbllm)")
    p.add_argument("--ratio", type=float, default=None, help="imbalance ratio to test (default 0.2)")
    p.add_argument("--protocol", default=None, help="protocol of the synthetic-data tests")
    p.add_argument("--classifier", default=None, help="classifier of the classification tests")
    p.add_argument("--scratch", default="paper_llm", metavar="EXPERIMENT",
                   help="the from-scratch record: compared method by method with the other "
                   "runs, not pooled with them (default: paper_llm)")
    p.add_argument("--interpolation", default="imbllm_interpolation", metavar="EXPERIMENT",
                   help="ImbLLM's interpolation sweep: plotted, not pooled")
    p.add_argument("--runs", nargs="+", default=None, metavar="CSV",
                   help="build from committed flat run records (results/runs/*.csv.gz) instead "
                   "of the store; the t-SNE figures need the store's synthetic rows and are left out")
    p.add_argument("--readme", default=None, metavar="README",
                   help="also write the headline block between this file's results markers")
    p.add_argument("--no-embeddings", action="store_true", help="skip the t-SNE figures")
    p.add_argument("--points", type=int, default=200, help="rows per set in each embedding")
    return p.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(levelname)s %(name)s: %(message)s")
    # Imported here so that --help works without the tracking stack.
    from imbllm.analysis.report import ReportOptions, build_report
    from imbllm.analysis.summary import splice
    from imbllm.results import load_runs, read_runs
    from imbllm.tracking import DEFAULT_URI

    uri = args.tracking_uri or os.environ.get("MLFLOW_TRACKING_URI") or DEFAULT_URI
    if args.runs:
        runs = read_runs(args.runs)
        if args.experiments:
            runs = runs[runs["experiment"].isin(args.experiments)]
        source = "the run records " + ", ".join(f"`{Path(p).name}`" for p in args.runs)
    else:
        runs = load_runs(uri, args.experiments)
        source = f"the tracking store `{uri}`"
    # The header names the command as run, so a committed report says how to rebuild it.
    command = shlex.join(["python", "scripts/make_report.py",
                          *(sys.argv[1:] if argv is None else argv)])
    opts = ReportOptions(
        command=command, reference=args.reference, ratio=args.ratio, protocol=args.protocol,
        classifier=args.classifier, embeddings=not (args.no_embeddings or args.runs),
        n_points=args.points,
        scratch_experiment=args.scratch, interpolation_experiment=args.interpolation,
        source=source + (f" (experiments {', '.join(args.experiments)})" if args.experiments else ""),
    )
    try:
        readme = Path(args.readme).read_text() if args.readme else None
        if readme is not None:
            splice(readme, "")  # a README without its markers fails before the long work
        path = build_report(runs, args.out, opts)
        if readme is not None:
            Path(args.readme).write_text(splice(readme, (path.parent / "summary.md").read_text()))
            logging.info("wrote the results block of %s", args.readme)
    except (ValueError, OSError) as err:
        logging.error("%s", err)
        return 1
    logging.info("wrote %s", path)
    return 0


if __name__ == "__main__":
    sys.exit(main())
