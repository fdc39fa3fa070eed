"""The paper's tables, one markdown file per experiment, protocol mode, classifier and score.

Each file holds datasets x methods, mean (population std) over seeds, 4 decimals, best per
dataset in bold and an average-rank row (:func:`imbllm.results.format_table`), under
``<out>/<experiment>/``. Its head names the commands that made its runs (each run's
``command`` tag) and the sweep's wall time, both read from the runs. Which scores a mode shows
comes from :func:`imbllm.metrics.protocol_scores`, the methods and their order from the
registry (:mod:`imbllm.registry`).

    python scripts/make_tables.py --runs results/runs/*.csv.gz   # the entry point
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime, timezone
from pathlib import Path

import pandas as pd

from imbllm.analysis import before_after
from imbllm.analysis.llm_rows import made_table
from imbllm.metrics import protocol_scores
from imbllm.registry import methods as registry
from imbllm.results import format_table, summary_table


@dataclass(frozen=True)
class Table:
    """One written file: where, its title and its markdown body (without the head)."""

    path: Path
    title: str
    body: str


def sweep_commands(runs: pd.DataFrame) -> str:
    """The commands that made these runs, most runs first, as the store recorded them."""
    if "command" not in runs or runs["command"].isna().all():
        return "not recorded (runs logged before the command tag)"
    counts = runs["command"].dropna().value_counts()
    text = "; ".join(f"`{c}`" for c in counts.index[:3])
    more = len(counts) - 3
    return text + (f" and {more} more" if more > 0 else "")


def wall_time(runs: pd.DataFrame) -> str:
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


def _write(path: Path, head: str, body: str, title: str) -> Table:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(head + body + "\n")
    return Table(path, title, body)


def _excluded() -> str:
    """The rows the bold and the ranks leave out, as the tables' heads name them."""
    bounds = registry().upper_bounds
    names = " and ".join(f"'{m}'" for m in bounds) or "no"
    return f"the {names} reference{'s' if len(bounds) > 1 else ''} excluded"


def _when(epoch_ms) -> str:
    return f"{datetime.fromtimestamp(epoch_ms / 1000, tz=timezone.utc):%Y-%m-%d %H:%M} UTC"


def write_tables(runs: pd.DataFrame, out_dir: str | Path, experiment: str) -> list[Table]:
    """Write every table of ``experiment`` under ``out_dir/experiment/``; return them."""
    out_dir, written = Path(out_dir), []
    exp_runs = runs[runs["experiment"] == experiment]
    this_file = f"this file: `python scripts/make_tables.py --experiment {experiment}`"
    for (mode, clf), part in exp_runs.groupby(["protocol", "classifier"]):
        for metric in protocol_scores(mode):
            if metric not in part or part[metric].isna().all():
                continue
            mean, std, rank = summary_table(part, metric)
            seeds = sorted(int(v) for v in part["seed"].unique())
            ratios = sorted(float(v) for v in part["ratio"].unique())
            head = (
                f"# {metric} — {experiment}, protocol={mode}, classifier={clf}\n\n"
                f"Mean (population std) over seeds {seeds}, ratio {ratios}; "
                f"best per dataset in bold ({_excluded()}).\n"
                f"Runs: {sweep_commands(part)}; {this_file}.\n"
                f"Sweep wall time: {wall_time(part)}. Code versions: "
                f"{', '.join(sorted(part['code_version'].dropna().unique()))}. "
                # The runs' own last end, not the clock: a rebuild from the same runs is the
                # same file, byte for byte.
                f"From {len(part)} runs, the last ended {_when(part['end_time'].max())}.\n\n"
            )
            written.append(_write(out_dir / experiment / f"{mode}_{clf}_{metric}.md", head,
                                  format_table(mean, std, rank), f"{metric} ({mode}, {clf})"))
        blocks = before_after.section(part)
        if blocks:
            seeds = sorted(int(v) for v in part["seed"].unique())
            head = (
                f"# Before/after the engine's fixes — {experiment}, protocol={mode}, "
                f"classifier={clf}\n\nMeans over seeds {seeds}"
                "; rows_made = valid rows made / rows asked.\n"
                f"Runs: {sweep_commands(part)}; {this_file}.\n\n"
            )
            written.append(_write(out_dir / experiment / f"{mode}_{clf}_before_after.md", head,
                                  "\n".join(blocks), f"before/after ({mode}, {clf})"))
    for mode, part in exp_runs.groupby("protocol"):
        body = made_table(part, mode)
        if not body:
            continue  # no language-model runs
        head = (
            f"# Rows made by the language-model methods — {experiment}, protocol={mode}\n\n"
            "Valid rows made / rows asked, summed over seeds and, where swept, interpolation "
            "amounts (×n: seeds); TapTap and Pred-LLM, whose labellers relabel or drop valid "
            "rows: valid rows and rows labelled minority.\n"
            f"Runs: {sweep_commands(part)}; {this_file}.\n\n"
        )
        written.append(_write(out_dir / experiment / f"{mode}_rows_made.md", head, body,
                              f"rows made ({mode})"))
    return written
