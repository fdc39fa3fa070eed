"""Before and after the engine's two fixes for the offline backbone (issue 9).

Each comparison is one method in two settings that differ in one thing: the backbone first
trained on the table (``llm.pretrain=table``) or not, and decoding constrained to the schema or
free. Per dataset it shows, mean over seeds, the share of asked rows made, the classifier's
scores and the synthetic-data metrics, ``before → after``; the last rows count the datasets on
which the after setting is better and give the mean change. The runs must share protocol,
classifier and ratio, and a dataset counts only where both settings have runs.
"""

from __future__ import annotations

import pandas as pd

from imbllm.metrics import higher_is_better
from imbllm.results import dataset_order

#: Named comparisons: (before, after) method names of conf/method.
PAIRS: dict[str, tuple[str, str]] = {
    "ImbLLM, pretraining: none → table": ("imbllm_no_pretrain", "imbllm"),
    "ImbLLM, decoding: free → constrained": ("imbllm_free", "imbllm"),
    "GReaT, decoding: free → constrained": ("great_free", "great"),
}
#: Rows made, classification, distance to the unseen minority, diversity (protocol.md §4).
COLUMNS = ("rows_made", "f1_minority", "roc_auc", "dum", "pairwise_distance", "unique_ratio",
           "entropy")


def _means(runs: pd.DataFrame, method: str) -> pd.DataFrame:
    sub = runs[runs["method"] == method].copy()
    sub["rows_made"] = sub["n_valid"] / sub["n_requested"]
    cols = [c for c in COLUMNS if c in sub]
    return sub.groupby("dataset")[cols].mean()


def compare(runs: pd.DataFrame, before: str, after: str) -> tuple[pd.DataFrame, pd.DataFrame]:
    """``(before, after)`` means per dataset (rows) and column, on the datasets both have."""
    if "n_valid" not in runs or "n_requested" not in runs:
        return pd.DataFrame(), pd.DataFrame()
    b, a = _means(runs, before), _means(runs, after)
    datasets = dataset_order(b.index.intersection(a.index))
    cols = [c for c in COLUMNS if c in b and c in a]
    return b.loc[datasets, cols], a.loc[datasets, cols]


def _better(metric: str, before: pd.Series, after: pd.Series) -> pd.Series:
    return after > before if metric == "rows_made" or higher_is_better(metric) else after < before


def pair_table(runs: pd.DataFrame, before: str, after: str) -> str:
    """Markdown: datasets x columns, ``before → after``; then per column the datasets where
    ``after`` is better and the mean change. Empty when no dataset has both."""
    b, a = compare(runs, before, after)
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
    """Markdown blocks, one per comparison whose two methods both have runs."""
    md = []
    for title, (before, after) in PAIRS.items():
        table = pair_table(runs, before, after)
        if table:
            md.append(f"### {title} (`{before}` → `{after}`)\n\n{table}\n")
    return md
