"""The ablation table in the paper's form: ImbLLM, then ImbLLM minus each component.

Rows are the variants, columns the datasets (seed means) and their mean; under each table,
full ImbLLM against each variant with the Wilcoxon signed-rank test over datasets and Holm's
correction (:func:`imbllm.analysis.stats.wilcoxon_holm`). A positive difference favours full
ImbLLM in the metric's own direction.
"""

from __future__ import annotations

import pandas as pd

from imbllm.analysis.findings import fmt_p
from imbllm.analysis.stats import seed_means, wilcoxon_holm
from imbllm.metrics import goal
from imbllm.registry import methods as registry
from imbllm.results import dataset_order

METRICS = ("f1_minority", "roc_auc", "dum", "entropy")


def ablation_matrix(runs: pd.DataFrame, metric: str) -> pd.DataFrame:
    """Datasets x variants (the full method first, then its ablations: ``role: ablation`` in
    conf/method) of seed means; empty without the full method or an ablation."""
    full = registry().proposed
    ablations = registry().ablations(full)
    if metric not in runs:
        return pd.DataFrame()
    sub = runs[runs["method"].isin([full, *ablations]) & runs[metric].notna()]
    if full not in set(sub["method"]) or len(set(sub["method"])) < 2:
        return pd.DataFrame()
    m = seed_means(sub, metric)
    cols = [full] + [a for a in ablations if a in m.columns]
    return m.loc[dataset_order(m.index), cols]


def ablation_table(runs: pd.DataFrame, metric: str, alpha: float = 0.05) -> str:
    """Markdown: the variants' values per dataset and their mean, then the tests."""
    m = ablation_matrix(runs, metric)
    if m.empty:
        return ""
    datasets, full = list(m.index), m.columns[0]
    lines = ["| variant | " + " | ".join(datasets) + " | mean |",
             "|---" * (len(datasets) + 2) + "|"]
    for variant in m.columns:
        # The full method by its name; an ablation by the component it removes.
        label = registry().title(variant)
        label = label if variant == full else f"− {label}"
        cells = ["—" if pd.isna(v) else f"{v:.4f}" for v in m[variant]]
        lines.append(f"| {label} | " + " | ".join(cells) + f" | {m[variant].mean():.4f} |")
    tests = wilcoxon_holm(m, full, goal(metric), alpha=alpha)
    lines += ["", f"Full ImbLLM against each variant ({goal(metric)}d; Wilcoxon over datasets, "
              f"Holm, alpha = {alpha}):", "",
              "| variant | datasets | wins | ties | losses | median diff | p | p (Holm) |",
              "|---" * 8 + "|"]
    for r in tests.itertuples():
        lines.append(f"| {r.baseline} | {r.n} | {r.wins} | {r.ties} | {r.losses} | "
                     f"{r.median_diff:+.4f} | {fmt_p(r.p, bare=True)} | "
                     f"{fmt_p(r.p_holm, bare=True)} |")
    return "\n".join(lines)


def section(runs: pd.DataFrame, alpha: float = 0.05) -> list[str]:
    """Markdown blocks, one per metric of :data:`METRICS` that the variants logged."""
    md = []
    for metric in METRICS:
        table = ablation_table(runs, metric, alpha)
        if table:
            md.append(f"### `{metric}`\n\n{table}\n")
    return md
