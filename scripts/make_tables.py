"""Write the paper's tables from the tracking store.

    python scripts/make_tables.py                         # every experiment in the store
    python scripts/make_tables.py --experiment quickstart --print
    python scripts/make_tables.py --export results/runs        # also write the flat run records
    python scripts/make_tables.py --runs results/runs/*.csv.gz # rebuild from committed records

For each experiment, protocol mode and classifier: one markdown table per metric (datasets x
methods, mean (std) over seeds with the population std, 4 decimals, best per dataset in bold,
an average-rank row), under ``results/tables/<experiment>/``. Each file names the commands that
made its runs (each run's ``command`` tag) and the sweep's wall time, both read from the store.
"""

from __future__ import annotations

import argparse
import sys
from datetime import datetime, timezone
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imbllm.analysis import before_after  # noqa: E402
from imbllm.analysis.llm_rows import made_table  # noqa: E402
from imbllm.results import export_runs, format_table, load_runs, read_runs, summary_table  # noqa: E402

# Per protocol mode: the paper's two metrics first, then the rest of protocol.md §3.
METRICS = {
    "published": ["f1_published", "auc_published", "accuracy"],
    "corrected": ["f1_minority", "roc_auc", "f1_macro", "pr_auc", "balanced_accuracy", "g_mean", "mcc"],
}


def sweep_commands(runs) -> str:
    """The commands that made these runs, most runs first, as the store recorded them."""
    if "command" not in runs or runs["command"].isna().all():
        return "not recorded (runs logged before the command tag)"
    counts = runs["command"].dropna().value_counts()
    text = "; ".join(f"`{c}`" for c in counts.index[:3])
    more = len(counts) - 3
    return text + (f" and {more} more" if more > 0 else "")


def wall_time(runs) -> str:
    """The sweep's span, the time some run was in progress (a sweep resumed across sessions
    spans the gaps between them; this does not), and the run time summed over runs."""
    start, end = runs["start_time"].min(), runs["end_time"].max()
    busy = runs.get("run_seconds")
    span = (end - start) / 1000.0
    text = f"{span / 60:.1f} min from first start to last end"
    active, reach = 0.0, None
    for s, e in sorted(zip(runs["start_time"], runs["end_time"], strict=True)):
        if reach is None or s > reach:
            active, reach = active + (e - s), e
        elif e > reach:
            active, reach = active + (e - reach), e
    if active < span * 1000.0 - 60_000:  # idle gaps of more than a minute
        text += f" ({active / 60_000:.1f} min with a run in progress)"
    if busy is not None:
        text += f", {busy.sum() / 60:.1f} min summed over {len(runs)} runs"
    return text


def _write(path: Path, head: str, body: str, title: str, echo: bool) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + body + "\n")
    if echo:
        print(f"\n{title}\n{body}")
    return path


def write_tables(runs, out_dir: Path, experiment: str, echo: bool = False) -> list[Path]:
    written = []
    exp_runs = runs[runs["experiment"] == experiment]
    for (mode, clf), part in exp_runs.groupby(["protocol", "classifier"]):
        for metric in METRICS.get(mode, []):
            if metric not in part or part[metric].isna().all():
                continue
            mean, std, rank = summary_table(part, metric)
            body = format_table(mean, std, rank)
            seeds = sorted(int(v) for v in part["seed"].unique())
            ratios = sorted(float(v) for v in part["ratio"].unique())
            head = (
                f"# {metric} — {experiment}, protocol={mode}, classifier={clf}\n\n"
                f"Mean (population std) over seeds {seeds}, ratio {ratios}; "
                "best per dataset in bold (the 'balance' reference excluded).\n"
                f"Runs: {sweep_commands(part)}; "
                f"this file: `python scripts/make_tables.py --experiment {experiment}`.\n"
                f"Sweep wall time: {wall_time(part)}. Code versions: "
                f"{', '.join(sorted(part['code_version'].dropna().unique()))}. "
                f"Generated {datetime.now(timezone.utc):%Y-%m-%d %H:%M} UTC from {len(part)} runs.\n\n"
            )
            path = out_dir / experiment / f"{mode}_{clf}_{metric}.md"
            written.append(_write(path, head, body, f"{metric} ({mode}, {clf})", echo))
        blocks = before_after.section(part)
        if blocks:
            head = (
                f"# Before/after the engine's fixes — {experiment}, protocol={mode}, "
                f"classifier={clf}\n\nMeans over seeds {sorted(int(v) for v in part['seed'].unique())}"
                "; rows_made = valid rows made / rows asked.\n"
                f"Runs: {sweep_commands(part)}; "
                f"this file: `python scripts/make_tables.py --experiment {experiment}`.\n\n"
            )
            path = out_dir / experiment / f"{mode}_{clf}_before_after.md"
            written.append(_write(path, head, "\n".join(blocks), f"before/after ({mode}, {clf})", echo))
    for mode, part in exp_runs.groupby("protocol"):
        body = made_table(part, mode)
        if not body:
            continue  # no language-model runs
        head = (
            f"# Rows made by the language-model methods — {experiment}, protocol={mode}\n\n"
            "Valid rows made / rows asked, summed over seeds (×n: seeds); TapTap and Pred-LLM, "
            "whose labellers relabel or drop valid rows: valid rows and rows labelled minority.\n"
            f"Runs: {sweep_commands(part)}; "
            f"this file: `python scripts/make_tables.py --experiment {experiment}`.\n\n"
        )
        path = out_dir / experiment / f"{mode}_rows_made.md"
        written.append(_write(path, head, body, f"rows made ({mode})", echo))
    return written


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--tracking-uri", default=None)
    ap.add_argument("--experiment", action="append", help="experiment name(s); default: all")
    ap.add_argument("--out", default="results/tables")
    ap.add_argument("--print", action="store_true", help="also print the tables")
    ap.add_argument("--runs", nargs="+", help="read exported run records (results/runs/*.csv.gz) instead of the store")
    ap.add_argument("--export", default=None, help="also export the runs as flat CSV records to this folder")
    args = ap.parse_args(argv)
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
        written += write_tables(runs, Path(args.out), exp, echo=args.print)
    print(f"wrote {len(written)} tables under {args.out}/")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
