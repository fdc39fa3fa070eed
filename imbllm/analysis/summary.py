"""The README's results block: the report's headline numbers in a few lines.

``build_report`` writes it to ``summary.md`` next to ``report.md``;
``scripts/make_report.py --readme README.md`` copies it between the README's two markers, so
that the numbers in the README come from the same runs as the report and are never typed.
"""

from __future__ import annotations

import re

import pandas as pd

from imbllm.analysis import llm_rows
from imbllm.analysis.findings import and_join, fmt_p, ordinal, place, significant_sides
from imbllm.analysis.stats import Comparison
from imbllm.metrics import HEADLINE
from imbllm.results import method_order

BEGIN = "<!-- results:begin (written by scripts/make_report.py --readme; do not edit) -->"
END = "<!-- results:end -->"
#: The metrics whose comparisons the block keeps: the paper's two scores in each protocol mode
#: and the synthetic-data metrics its claims rest on.
KEPT = (*(m for names in HEADLINE.values() for m in names.values()), "dum",
        "pairwise_distance", "entropy")


def _standing(c: Comparison) -> str:
    if c.reference is None:
        return "no complete results"
    return f"{ordinal(place(c))} of {len(c.ranks)} ({float(c.ranks[c.reference]):.2f})"


def _tests(c: Comparison) -> str:
    """The methods the reference beats or loses to after Holm's correction."""
    if c.wilcoxon is None or c.wilcoxon.empty:
        return "—"
    better, worse = significant_sides(c.wilcoxon)
    parts = ([f"better than {and_join(better)}"] if better else []) + (
        [f"worse than {and_join(worse)}"] if worse else [])
    return "; ".join(parts) or f"none significant ({len(c.wilcoxon)} tested)"


def ranks_table(comparisons: list[tuple[str, Comparison]], reference: str) -> str:
    """One line per headline comparison: the best method, the reference's place, the tests."""
    lines = [f"| comparison | datasets | best (average rank) | `{reference}` (average rank) | "
             f"Friedman | `{reference}`, Wilcoxon + Holm |", "|---" * 6 + "|"]
    for label, c in comparisons:
        if c.metric not in KEPT or c.friedman.n_datasets == 0:
            continue
        best = f"{c.ranks.index[0]} ({float(c.ranks.iloc[0]):.2f})"
        lines.append(f"| {label} | {c.friedman.n_datasets} | {best} | {_standing(c)} | "
                     f"{fmt_p(c.friedman.pvalue, bare=True)} | {_tests(c)} |")
    return "\n".join(lines) if len(lines) > 2 else ""


def rows_line(runs: pd.DataFrame, protocol: str) -> str:
    """The share of asked rows each language-model method made, and the cells short of
    :data:`llm_rows.FULL_SHARE`."""
    counts = llm_rows.made_counts(runs, protocol)
    if counts.empty:
        return ""
    parts = []
    for method in method_order(counts.index.get_level_values("method").unique()):
        c = counts.xs(method, level="method")
        asked = c["asked"].sum()
        if c["relabels"].any():
            part = f"{method} {llm_rows.share(c['valid'].sum(), asked)} valid"
            if c["minority"].notna().all():
                part += f" ({llm_rows.share(c['minority'].sum(), asked)} minority)"
        else:
            part = f"{method} {llm_rows.share(c['made'].sum(), asked)}"
        parts.append(part)
    short = len(llm_rows.shortfalls(runs, protocol))
    return (f"- Rows made, {protocol} protocol (of those asked, all seeds): "
            + ", ".join(parts)
            + (f"; {short} (method, dataset) cells below {llm_rows.FULL_SHARE:.0%}, named in "
               "the report." if short else "; no cell below "
               f"{llm_rows.FULL_SHARE:.0%}."))


def block(runs: pd.DataFrame, comparisons: list[tuple[str, Comparison]],
          verdicts: list[tuple[str, str]], *, source: str, reference: str,
          extra: list[str] = ()) -> str:
    """The markdown between the README's markers; ``extra``: further lines, blank ones left
    out."""
    def listing(col):
        return ", ".join(map(str, sorted(runs[col].dropna().unique().tolist())))

    md = [f"From {source}: {len(runs)} finished runs compared (experiments "
          f"{listing('experiment')}; "
          f"seeds {listing('seed')}). Full report with tables, tests and figures: "
          "[`results/report.md`](results/report.md).", ""]
    table = ranks_table(comparisons, reference)
    if table:
        md += [table, ""]
    md += [f"- {claim[0].upper()}{claim[1:]} **{verdict.rstrip('.')}.**"
           for claim, verdict in verdicts]
    md += [line for line in (rows_line(runs, p) for p in ("corrected", "published")) if line]
    md += [line for line in extra if line]
    return "\n".join(md).rstrip() + "\n"


def splice(readme: str, text: str) -> str:
    """``readme`` with everything between :data:`BEGIN` and :data:`END` replaced by ``text``."""
    found = [len(re.findall(re.escape(marker), readme)) for marker in (BEGIN, END)]
    if found != [1, 1] or readme.index(BEGIN) > readme.index(END):
        raise ValueError(
            f"The README needs the line {BEGIN!r} once, and {END!r} once after it "
            f"(found {found[0]} and {found[1]}); put them where the results block goes.")
    head, rest = readme.split(BEGIN)
    _, tail = rest.split(END)
    return f"{head}{BEGIN}\n{text.rstrip()}\n{END}{tail}"
