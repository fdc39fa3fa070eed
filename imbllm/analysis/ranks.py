"""Rank tests as the report shows them: which comparisons to run on a slice of runs, the table
of average ranks, and per comparison its notes, critical-difference diagram and Wilcoxon table.

Both the paper's comparison and the section on generators from after the paper
(:mod:`imbllm.analysis.contenders`) render their tests here, so the two read alike.
"""

from __future__ import annotations

from pathlib import Path

import pandas as pd

from imbllm.analysis import figures, findings
from imbllm.analysis.stats import Comparison, compare
from imbllm.metrics import HEADLINE, SYNTHETIC_METRICS, goal
from imbllm.results import method_order


def comparisons(ranked: pd.DataFrame, synth_ranked: pd.DataFrame, *, modes, classifier: str,
                protocol: str, reference: str, alpha: float) -> list[tuple[str, Comparison]]:
    """One comparison per headline score of each protocol mode in ``modes`` (on ``classifier``)
    and per synthetic-data metric (on ``protocol``), where the runs hold the metric."""
    out: list[tuple[str, Comparison]] = []
    for mode in modes:
        sl = ranked[(ranked["protocol"] == mode) & (ranked["classifier"] == classifier)]
        for short, metric in HEADLINE[mode].items():
            if metric in sl.columns and sl[metric].notna().any():
                out.append((f"{short} ({mode} protocol, {classifier})",
                            compare(sl, metric, goal(metric), reference=reference, alpha=alpha)))
    for metric in SYNTHETIC_METRICS:
        if (metric != "dum_reference" and metric in synth_ranked.columns
                and synth_ranked[metric].notna().any()):
            out.append((f"{metric} ({protocol} protocol)",
                        compare(synth_ranked, metric, goal(metric), reference=reference,
                                alpha=alpha)))
    return out


def section(comparisons: list[tuple[str, Comparison]], fig_dir: Path,
                  prefix: str = "cd_") -> list[str]:
    """The rank table, then per comparison its notes, CD diagram (``<prefix>NN_<metric>.png``)
    and Wilcoxon table."""
    md = [rank_table(comparisons) + "\n"]
    for i, (label, c) in enumerate(comparisons):
        name = f"{prefix}{i:02d}_{c.metric}.png"
        figures.cd_diagram(c, fig_dir / name, title=f"{label}: average ranks (1 = best), "
                           f"Friedman {findings.fmt_p(c.friedman.pvalue)}, CD = {c.cd:.2f}")
        md.append(f"### {label}\n")
        md += [f"- {note}" for note in c.notes]
        md.append(f"\n![critical difference diagram of {c.metric}](figures/{name})\n")
        if c.wilcoxon is not None:
            md.append(wilcoxon_table(c) + "\n")
    return md


def rank_table(comparisons: list[tuple[str, Comparison]]) -> str:
    methods = method_order({m for _, c in comparisons for m in c.ranks.index})
    head = "| metric | N | Friedman p | CD | " + " | ".join(methods) + " |"
    lines = [head, "|---" * (len(methods) + 4) + "|"]
    for label, c in comparisons:
        cells = [f"{c.ranks[m]:.2f}" if m in c.ranks else "—" for m in methods]
        lines.append(f"| {label} | {c.friedman.n_datasets} | "
                     f"{findings.fmt_p(c.friedman.pvalue, bare=True)}"
                     f" | {c.cd:.2f} | " + " | ".join(cells) + " |")
    return "Average ranks (1 = best) over the datasets each test used:\n\n" + "\n".join(lines)


def wilcoxon_table(c: Comparison) -> str:
    lines = [f"{c.reference} against each baseline (difference oriented so that positive "
             "favours it; effect: matched-pairs rank-biserial correlation, +1 when it wins on "
             "every dataset):\n",
             "| baseline | datasets | wins | ties | losses | median diff | effect | W | p | "
             "p (Holm) | significant |", "|---" * 11 + "|"]
    for r in c.wilcoxon.itertuples():
        lines.append(f"| {r.baseline} | {r.n} | {r.wins} | {r.ties} | {r.losses} | "
                     f"{r.median_diff:.4f} | {r.rank_biserial:+.2f} | {r.statistic:.1f} | "
                     f"{findings.fmt_p(r.p, bare=True)} | "
                     f"{findings.fmt_p(r.p_holm, bare=True)} | {'yes' if r.significant else 'no'} |")
    return "\n".join(lines)
