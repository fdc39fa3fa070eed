"""One experiment's grid before and after a rerun: rows made, mean scores, the claims' verdicts.

    python scripts/compare_grids.py --before before.csv.gz \\
        --after results/runs/paper_llm_pretrained.csv.gz --runs results/runs/*.csv.gz

``--before`` and ``--after`` hold the run records of one experiment (``make_tables.py
--export``; an earlier commit's with ``git show <commit>:results/runs/<experiment>.csv.gz``).
``--runs`` are the other experiments' records: the report's claims pool them with each side in
turn, the compared experiment's own records in ``--runs`` left out. Printed per protocol and
method: the language-model samplings (the classifiers share them) whose rows made reach 99% of
those asked, the least share made and the least share valid; then the mean of the protocol's
F1 and AUC and of ``dum`` on ``--classifier``; last each claim's verdict before and after, as
the report words them.
"""

from __future__ import annotations

import argparse
import sys

import pandas as pd

MADE = 0.99  # the share of the asked rows a sampling must make to count as complete


def rows_made(runs: pd.DataFrame) -> pd.DataFrame:
    """Per protocol and method: ``samplings``, ``complete`` (made at least 99% of the rows
    asked), ``least`` (the smallest share made) and ``least_valid`` (the smallest share of
    schema-valid completions, counting those a labeller then dropped: Pred-LLM keeps only the
    rows its model labels minority)."""
    from imbllm.analysis.llm_rows import samplings

    sub = samplings(runs)
    if sub.empty:
        return pd.DataFrame(columns=["samplings", "complete", "least", "least_valid"])
    made, valid = sub["made"] / sub["asked"], sub["valid"] / sub["asked"]
    keys = [sub["protocol"], sub["method"]]
    return pd.DataFrame({"samplings": made.groupby(keys).size(),
                         "complete": (made >= MADE).groupby(keys).sum(),
                         "least": made.groupby(keys).min().round(3),
                         "least_valid": valid.groupby(keys).min().round(3)})


def mean_scores(runs: pd.DataFrame, classifier: str) -> pd.DataFrame:
    """Per protocol and method: the mean over datasets and seeds of the protocol's F1 and AUC
    and of ``dum``."""
    from imbllm.metrics import HEADLINE

    parts = []
    for mode, names in HEADLINE.items():
        sl = runs[(runs["protocol"] == mode) & (runs["classifier"] == classifier)]
        cols = {short: names[short] for short in ("F1", "AUC")}
        if "dum" in sl:
            cols["dum"] = "dum"
        means = sl.groupby("method")[list(cols.values())].mean()
        means.columns = list(cols)
        parts.append(means.assign(protocol=mode).set_index("protocol", append=True))
    return pd.concat(parts).reorder_levels(["protocol", "method"]).round(3)


def side_by_side(before: pd.DataFrame, after: pd.DataFrame) -> str:
    both = pd.concat({"before": before, "after": after}, axis=1).swaplevel(axis=1)
    return both[[(c, side) for c in before.columns for side in ("before", "after")]].to_string()


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    ap.add_argument("--before", required=True, help="the experiment's records before")
    ap.add_argument("--after", required=True, help="the same experiment's records after")
    ap.add_argument("--runs", nargs="*", default=[], help="the other experiments' records")
    ap.add_argument("--classifier", default="xgboost")
    args = ap.parse_args(argv)
    # Imported here so that --help works without the analysis stack.
    from imbllm.analysis.report import verdicts
    from imbllm.results import read_runs

    before, after = read_runs([args.before]), read_runs([args.after])
    names = set(before["experiment"]) | set(after["experiment"])
    if len(names) != 1:
        print(f"--before and --after must hold one experiment; they hold {sorted(names)}",
              file=sys.stderr)
        return 2
    others = read_runs(args.runs) if args.runs else before.iloc[:0]
    others = others[~others["experiment"].isin(names)]

    print(f"{names.pop()}: {len(before)} runs before, {len(after)} after; the claims pool them "
          f"with {len(others)} runs of other experiments\n")
    print(f"language-model samplings making >= {MADE:.0%} of the rows asked:")
    print(side_by_side(rows_made(before), rows_made(after)) + "\n")
    print(f"mean scores ({args.classifier}):")
    print(side_by_side(mean_scores(before, args.classifier),
                       mean_scores(after, args.classifier)) + "\n")
    print("claims:")
    was = verdicts(pd.concat([others, before], ignore_index=True))
    now = verdicts(pd.concat([others, after], ignore_index=True))
    for (claim, v0), (_, v1) in zip(was, now, strict=True):
        print(f"- {claim} {v0} -> {v1}{'' if v0 == v1 else '  (changed)'}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
