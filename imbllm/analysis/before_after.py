"""Before and after the engine's two fixes for the offline backbone (issues 9 and 12).

A comparison sets one method's runs in two settings side by side: the backbone first trained
on the table (``llm.pretrain=table``) or not, decoding constrained to the schema or free, or a
whole experiment on the from-scratch backbone (``paper_llm``) against its rerun. Per dataset it
shows, mean over seeds, the share of asked rows made, the classifier's scores and the
synthetic-data metrics as ``before → after``; the last rows count the datasets on which the
after setting is better and give the mean change. Both sides must come from one protocol,
classifier and ratio (the caller slices); a dataset counts only where both have runs.
"""

from __future__ import annotations

import pandas as pd

from imbllm.metrics import higher_is_better
from imbllm.registry import methods as registry
from imbllm.results import dataset_order, method_order

#: Rows made, classification, distance to the unseen minority, diversity (protocol.md §4).
COLUMNS = ("rows_made", "f1_minority", "roc_auc", "dum", "pairwise_distance", "unique_ratio",
           "entropy")


def _means(runs: pd.DataFrame) -> pd.DataFrame:
    if "n_valid" not in runs or "n_requested" not in runs or runs.empty:
        return pd.DataFrame()
    sub = runs.assign(rows_made=runs["n_valid"] / runs["n_requested"])
    return sub.groupby("dataset")[[c for c in COLUMNS if c in sub]].mean()


def compare(before: pd.DataFrame, after: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame]:
    """Seed means per dataset (rows) and column of two sets of one method's runs, on the
    datasets both have."""
    b, a = _means(before), _means(after)
    if b.empty or a.empty:
        return pd.DataFrame(), pd.DataFrame()
    datasets = dataset_order(b.index.intersection(a.index))
    cols = [c for c in COLUMNS if c in b and c in a and b[c].notna().any()]
    return b.loc[datasets, cols], a.loc[datasets, cols]


def _better(metric: str, before: pd.Series, after: pd.Series) -> pd.Series:
    return after > before if metric == "rows_made" or higher_is_better(metric) else after < before


def pair_table(before: pd.DataFrame, after: pd.DataFrame) -> str:
    """Markdown: datasets x columns, ``before → after``; then per column the datasets where
    ``after`` is better and the mean change. Empty when no dataset has both."""
    b, a = compare(before, after)
    if b.empty:
        return ""
    cols = list(b.columns)
    fmt = {c: ("{:.0%}" if c == "rows_made" else "{:.4f}") for c in cols}
    lines = ["| dataset | " + " | ".join(cols) + " |", "|---" * (len(cols) + 1) + "|"]
    for d in b.index:
        cells = [f"{fmt[c].format(b.at[d, c])} → {fmt[c].format(a.at[d, c])}" for c in cols]
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    n = len(b)
    wins = [f"{int(_better(c, b[c], a[c]).sum())} of {n}" for c in cols]
    lines.append("| after better | " + " | ".join(wins) + " |")
    change = [f"{(a[c] - b[c]).mean():+.4f}" for c in cols]
    lines.append("| mean change | " + " | ".join(change) + " |")
    return "\n".join(lines)


def section(runs: pd.DataFrame) -> list[str]:
    """Markdown blocks, one per comparison inside one experiment whose two methods have runs:
    each method with a ``change`` in conf/method against the method it is ``of``
    (:meth:`imbllm.registry.Methods.pairs`)."""
    md = []
    for title, before, after in registry().pairs():
        table = pair_table(runs[runs["method"] == before], runs[runs["method"] == after])
        if table:
            md.append(f"### {title} (`{before}` → `{after}`)\n\n{table}\n")
    return md


def scratch_section(scratch: pd.DataFrame, current: pd.DataFrame, name: str) -> list[str]:
    """Markdown blocks, one per method that both the from-scratch experiment ``name``
    (``scratch``) and the current runs hold: that method before → after."""
    md = []
    both = set(scratch["method"]) & set(current["method"])
    for m in method_order(both):
        table = pair_table(scratch[scratch["method"] == m], current[current["method"] == m])
        if table:
            md.append(f"### {m}: `{name}` → now\n\n{table}\n")
    return md
