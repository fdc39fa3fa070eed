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


#: What tells two samplings apart; the classifiers of one cell share its synthetic rows. The
#: interpolation amount is swept within one method (``imbllm_interpolation``).
_SAMPLING_KEY = ("dataset", "method", "protocol", "ratio", "seed", "interpolation_ratio")


def llm_runs(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per language-model sampling."""
    if any(c not in runs.columns for c in _NEEDED):
        return runs.iloc[:0]
    sub = runs[runs["n_valid"].notna() & runs["n_requested"].notna()]
    return sub.drop_duplicates([c for c in _SAMPLING_KEY if c in sub.columns])


#: Rejections after the schema check: the row was valid, its label was not the minority's.
LABEL_REJECTIONS = ("rejected_label_not_minority", "rejected_label_unreadable")
#: Labellers that may relabel (TapTap's classifier) or drop (Pred-LLM's model) valid rows.
RELABELLING = ("classifier", "lm")


def _column(sub: pd.DataFrame, name: str) -> pd.Series:
    return sub[name] if name in sub else pd.Series(float("nan"), index=sub.index)


_SAMPLING = ("dataset", "method", "protocol", "seed", "asked", "made", "valid", "minority",
             "repaired", "relabels")


def samplings(runs: pd.DataFrame) -> pd.DataFrame:
    """One row per language-model sampling: its keys (``dataset, method, protocol, seed``),
    ``asked``, ``made`` (rows the sampler returned), ``valid`` (completions that passed the
    schema check: rows made plus those a labeller then dropped), ``minority`` (rows the
    classifier saw as synthetic minority; NaN where a run predates that count), ``repaired``
    and ``relabels`` (the method's labeller may relabel or drop valid rows)."""
    sub = llm_runs(runs)
    if sub.empty:
        return pd.DataFrame(columns=_SAMPLING)
    dropped = sum((_column(sub, c).fillna(0) for c in LABEL_REJECTIONS), 0)
    return pd.DataFrame({
        "dataset": sub["dataset"], "method": sub["method"], "protocol": sub["protocol"],
        "seed": sub["seed"], "asked": sub["n_requested"], "made": sub["n_valid"],
        "valid": sub["n_valid"] + dropped, "minority": _column(sub, "n_synthetic_minority"),
        "repaired": _column(sub, "n_repaired_cells").fillna(0),
        "relabels": _column(sub, "label").isin(RELABELLING) | (dropped > 0),
    })


def made_counts(runs: pd.DataFrame, protocol: str) -> pd.DataFrame:
    """Per dataset and method, the :func:`samplings` of ``protocol`` summed over seeds (and
    interpolation amounts, where a sweep varies them):
    ``asked``, ``made``, ``valid``, ``repaired``, ``minority`` (NaN unless every seed counted
    it), ``seeds`` and ``relabels`` (so valid and minority rows are reported apart)."""
    counts = samplings(runs)
    counts = counts[counts["protocol"] == protocol]
    if counts.empty:
        return pd.DataFrame()
    g = counts.groupby(["dataset", "method"])
    out = g[["asked", "made", "valid", "repaired"]].sum()
    out["minority"] = g["minority"].sum(min_count=1).where(g["minority"].count() == g.size())
    out["seeds"], out["relabels"] = g["seed"].nunique(), g["relabels"].any()
    return out


def _cell(row: pd.Series, protocol: str) -> str:
    if row["relabels"]:
        minority = "?" if pd.isna(row["minority"]) else str(int(row["minority"]))
        cell = (f"valid {int(row['valid'])}/{int(row['asked'])} "
                f"({row['valid'] / row['asked']:.0%}), minority {minority}")
    else:
        cell = f"{int(row['made'])}/{int(row['asked'])} ({row['made'] / row['asked']:.0%})"
    if protocol == "published" and row["made"]:
        cell += f", {row['repaired'] / row['made']:.1f} filled"
    return cell + (f" ×{int(row['seeds'])}" if row["seeds"] > 1 else "")


def made_table(runs: pd.DataFrame, protocol: str) -> str:
    """Markdown: per dataset and method, valid rows made of rows asked, summed over seeds,
    with the share; for TapTap and Pred-LLM, whose labellers relabel or drop valid rows, the
    valid rows and the minority rows apart; in the published protocol also the cells filled
    per row made."""
    counts = made_counts(runs, protocol)
    if counts.empty:
        return ""
    methods = method_order(counts.index.get_level_values("method").unique())
    datasets = sorted(counts.index.get_level_values("dataset").unique())
    lines = ["| dataset | " + " | ".join(methods) + " |", "|---" * (len(methods) + 1) + "|"]
    for dataset in datasets:
        cells = [
            _cell(counts.loc[(dataset, m)], protocol) if (dataset, m) in counts.index else "—"
            for m in methods
        ]
        lines.append(f"| {dataset} | " + " | ".join(cells) + " |")
    return "\n".join(lines)


#: A cell below this share of valid rows is named in the report, with what stopped it.
FULL_SHARE = 0.99
#: Rejection counts logged by the drawer (imbllm.llm.drawer), read to say why a cell fell short.
REJECTIONS = ("rejected_unknown_category", "rejected_out_of_range", "rejected_unparsable_number",
              "rejected_missing_value", *LABEL_REJECTIONS)


def share(part: float, whole: float) -> str:
    """A percentage that does not round a shortfall up to 100% or up to FULL_SHARE."""
    short_near_full = part < whole and part / whole >= FULL_SHARE - 0.005
    return f"{part / whole:.1%}" if short_near_full else f"{part / whole:.0%}"


def _method_sentence(method: str, counts: pd.DataFrame, full: int, total: int) -> str:
    asked = counts["asked"].sum()
    if counts["relabels"].any():
        minority = counts["minority"].sum(min_count=1)
        said = ("" if pd.isna(minority) or counts["minority"].isna().any()
                else f", {int(minority)} of them labelled minority ({share(minority, asked)})")
        valid = share(counts["valid"].sum(), asked)
        return f"{method} made {valid} valid rows of those asked{said}"
    return (f"{method} made {share(counts['made'].sum(), asked)} of the rows asked for "
            f"({full} of {total} samplings complete)")


def shortfalls(runs: pd.DataFrame, protocol: str) -> list[str]:
    """Per (method, dataset) below FULL_SHARE of valid rows, summed over seeds: the counts, the
    completions the sampler drew before it stopped, and the commonest rejection."""
    sub = llm_runs(runs)
    sub = sub[sub["protocol"] == protocol]
    counts = made_counts(runs, protocol)
    out = []
    methods = method_order(counts.index.get_level_values("method").unique())
    rank = {m: i for i, m in enumerate(methods)}
    for dataset, method in sorted(counts.index, key=lambda k: (rank[k[1]], k[0])):
        row = counts.loc[(dataset, method)]
        fraction = (row["valid"] if row["relabels"] else row["made"]) / row["asked"]
        if fraction >= FULL_SHARE:
            continue
        cell = sub[(sub["dataset"] == dataset) & (sub["method"] == method)]
        drawn = _column(cell, "n_completions").sum(min_count=1)
        why = "" if pd.isna(drawn) else (
            f", stopped after {int(drawn)} completions "
            f"({drawn / row['asked']:.1f} per row asked)")
        rejected = {c: _column(cell, c).sum() for c in REJECTIONS if c in cell}
        rejected = {c: v for c, v in rejected.items() if v > 0}
        if rejected:
            top = max(rejected, key=rejected.get)
            why += f", commonest rejection {top.removeprefix('rejected_')} ({int(rejected[top])})"
        made = row["valid"] if row["relabels"] else row["made"]
        out.append(f"{method} on {dataset}: {int(made)}/{int(row['asked'])} "
                   f"({share(made, row['asked'])}){why}")
    return out


def made_paragraph(runs: pd.DataFrame, protocol: str) -> str:
    """One sentence per method (the share of asked rows made over all its runs; for TapTap and
    Pred-LLM the valid rows and the minority rows apart), then every cell that fell short."""
    sub = llm_runs(runs)
    sub = sub[sub["protocol"] == protocol]
    if sub.empty:
        return ""
    counts = made_counts(runs, protocol)
    full = (sub["n_valid"] >= sub["n_requested"]).groupby(sub["method"]).sum()
    size = sub.groupby("method").size()
    methods = method_order(counts.index.get_level_values("method").unique())
    parts = [_method_sentence(m, counts.xs(m, level="method"), int(full[m]), int(size[m]))
             for m in methods]
    short = shortfalls(runs, protocol)
    named = (f" Cells below {FULL_SHARE:.0%} of the rows asked for (valid rows where a labeller "
             "relabels), summed over seeds: " + "; ".join(short) + "." if short else
             f" No cell fell below {FULL_SHARE:.0%} of the rows asked for.")
    return (
        f"**Rows the language-model methods made ({protocol} protocol).** "
        + "; ".join(parts) + "." + named
        + " Where a method made fewer rows than asked, its classifier was trained with that "
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
            "Valid rows made / rows asked, summed over seeds (×n: number of seeds); for "
            "methods whose labeller relabels or drops valid rows, the valid rows and the rows "
            "labelled minority apart"
            + ("; cells filled per row made." if protocol == "published" else ".")
            + "\n"
        )
        md.append(table + "\n")
    return md
