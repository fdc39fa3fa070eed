"""ImbLLM against its interpolation amount (method.md §2.3, §2.6; experiment
``imbllm_interpolation``): per dataset, the seed means of F1, ``dum`` and entropy at each
``interpolation_ratio``, and a plot with every seed's run as a point. Four datasets and three
seeds are too few for a significance test, so the section shows the numbers, not a p-value.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from imbllm.analysis import figures
from imbllm.results import dataset_order

METRICS = ("f1_minority", "dum", "entropy")


def ratio_table(runs: pd.DataFrame, metric: str) -> str:
    """Markdown: datasets x interpolation ratios, seed means (``n`` seeds per cell)."""
    sub = runs[runs["interpolation_ratio"].notna() & runs[metric].notna()]
    if sub.empty:
        return ""
    g = sub.groupby(["dataset", "interpolation_ratio"])
    mean, seeds = g[metric].mean().unstack(), g["seed"].nunique().unstack()
    ratios = list(mean.columns)
    lines = ["| dataset | " + " | ".join(f"{r:g}" for r in ratios) + " |",
             "|---" * (len(ratios) + 1) + "|"]
    for d in dataset_order(mean.index):
        cells = ["—" if pd.isna(mean.at[d, r]) else f"{mean.at[d, r]:.4f} (n={int(seeds.at[d, r])})"
                 for r in ratios]
        lines.append(f"| {d} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def section(runs: pd.DataFrame, fig_dir: Path, figure_prefix: str = "interpolation") -> list[str]:
    """The tables and the plot; empty when no run varies ``interpolation_ratio``."""
    if "interpolation_ratio" not in runs or runs["interpolation_ratio"].nunique() < 2:
        return []
    metrics = [m for m in METRICS if m in runs and runs[m].notna().any()]
    md = []
    for metric in metrics:
        md.append(f"### `{metric}` by interpolation_ratio\n\n{ratio_table(runs, metric)}\n")
    name = f"{figure_prefix}.png"
    figures.interpolation_plot(runs, metrics, fig_dir / name)
    md.append(f"![F1, dum and entropy against interpolation_ratio](figures/{name})\n")
    return md
