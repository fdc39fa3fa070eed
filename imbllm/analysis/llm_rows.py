"""How many of the rows they were asked for the language-model methods actually made.

A language-model method under the strict repair policy may make fewer valid rows than the
protocol asks for (the gap is logged as ``shortfall``, see ``llm_on_shortfall``); its F1 and
AUC then come from a training set with fewer synthetic rows than the other methods had, and
its synthetic-data metrics from a smaller set. The published policy fills missing cells
instead (``n_repaired_cells``). The report shows both next to the scores so that neither is
read without the other.
"""

from __future__ import annotations

import pandas as pd

from imbllm.results import method_order

#: Columns logged by every language-model run (imbllm.llm.drawer) and by no other.
_NEEDED = ("n_valid", "n_requested")


def llm_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per language-model sampling (the classifiers share the synthetic rows)."""
    if any(c not in runs.columns for c in _NEEDED):
        return runs.iloc[:0]
    sub = runs[runs["n_valid"].notna() & runs["n_requested"].notna()]
    return sub.drop_duplicates(["dataset", "method", "protocol", "ratio", "seed"])


def made_table(runs: pd.DataFrame, protocol: str) -> str:
    """Markdown: per dataset and method, valid rows made of rows asked, summed over seeds,
    with the share; in the published protocol also the cells filled per row made."""
    sub = llm_runs(runs)
    sub = sub[sub["protocol"] == protocol]
    if sub.empty:
        return ""
    g = sub.groupby(["dataset", "method"])
    made, asked = g["n_valid"].sum(), g["n_requested"].sum()
    seeds = g["seed"].nunique()
    repaired = g["n_repaired_cells"].sum() if "n_repaired_cells" in sub else None
    methods = method_order(sub["method"].unique())
    lines = ["| dataset | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for dataset in sorted(sub["dataset"].unique()):
        cells = []
        for m in methods:
            if (dataset, m) not in made.index:
                cells.append("—")
                continue
            k = (dataset, m)
            cell = f"{int(made[k])}/{int(asked[k])} ({made[k] / asked[k]:.0%})"
            if protocol == "published" and made[k] and repaired is not None:
                cell += f", {repaired[k] / made[k]:.1f} filled"
            cells.append(cell + (f" ×{int(seeds[k])}" if seeds[k] > 1 else ""))
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


def made_paragraph(runs: pd.DataFrame, protocol: str) -> str:
    """One sentence per method: the share of asked rows made over all its runs."""
    sub = llm_runs(runs)
    sub = sub[sub["protocol"] == protocol]
    if sub.empty:
        return ""
    g = sub.groupby("method")
    share = g["n_valid"].sum() / g["n_requested"].sum()
    full = (sub["n_valid"] >= sub["n_requested"]).groupby(sub["method"]).sum()
    parts = [
        f"{m} made {share[m]:.0%} of the rows asked for ({int(full[m])} of {int(g.size()[m])} "
        "samplings complete)"
        for m in method_order(share.index)
    ]
    return (
        f"**Rows the language-model methods made ({protocol} protocol).** "
        + "; ".join(parts)
        + ". Where a method made fewer rows than asked, its classifier was trained with that "
        "many synthetic rows and its synthetic-data metrics describe that many rows."
    )


def section(runs: pd.DataFrame) -> list[str]:
    """The report's section: a paragraph and a table per protocol mode."""
    md = []
    for protocol in ("corrected", "published"):
        table = made_table(runs, protocol)
        if not table:
            continue
        policy = (
            "strict: a row that fails the schema learnt at fit is rejected"
            if protocol == "corrected"
            else "published: missing cells are filled with the training mean or mode"
        )
        md.append(f"### {protocol} protocol ({policy})\n")
        md.append(
            "Valid rows made / rows asked, summed over seeds (×n: number of seeds)"
            + ("; cells filled per row made." if protocol == "published" else ".")
            + "\n"
        )
        md.append(table + "\n")
    return md
