"""Paragraphs of the report, written from the numbers of a :class:`Comparison`.

Every sentence is a template filled from test results: which method ranks best, where the
proposed method ranks, the Friedman and Holm-corrected Wilcoxon p-values, and a verdict on the
paper's claim that says plainly when the numbers do not support it. Nothing here is typed by
hand about a result.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from imbllm.analysis.stats import Comparison
from imbllm.metrics import HEADLINE

#: The paper's claim behind each metric, completing "the paper's claim that ImbLLM ...".
CLAIMS: dict[str, str] = {
    **{metric: f"gives the best {short}" for names in HEADLINE.values()
       for short, metric in names.items()},
    "dum": "generates rows closest to the unseen minority",
    "dum_ratio": "generates rows closest to the unseen minority",
    "coverage": "covers the unseen minority best",
    "pairwise_distance": "generates the most diverse rows",
    "unique_ratio": "generates the most diverse rows",
    "entropy": "generates the most diverse rows",
}


def fmt_p(p: float, *, bare: bool = False) -> str:
    """``p = 0.012``, ``p < 0.001`` or ``p undefined``; ``bare`` drops the ``p`` (for tables)."""
    if p is None or not np.isfinite(p):
        text = "p undefined"
    else:
        text = "p < 0.001" if p < 0.001 else f"p = {p:.3f}"
    return text.removeprefix("p ").removeprefix("= ") if bare else text


def and_join(items: list[str]) -> str:
    if len(items) <= 1:
        return "".join(items)
    return ", ".join(items[:-1]) + " and " + items[-1]


def ordinal(n: int) -> str:
    suffix = "th" if 10 <= n % 100 <= 20 else {1: "st", 2: "nd", 3: "rd"}.get(n % 10, "th")
    return f"{n}{suffix}"


def place(c: Comparison) -> int:
    """The reference's place by average rank (1 = best; ties share the better place)."""
    return int((c.ranks < float(c.ranks[c.reference]) - 1e-9).sum()) + 1


def significant_sides(w: pd.DataFrame | None) -> tuple[list[str], list[str]]:
    """The baselines the reference beats, and those it loses to, after Holm's correction."""
    if w is None or w.empty:
        return [], []
    sig = w["significant"].astype(bool)
    return (w[sig & (w["wins"] > w["losses"])]["baseline"].tolist(),
            w[sig & (w["wins"] < w["losses"])]["baseline"].tolist())


def comparison_paragraph(c: Comparison, label: str, *, claims: bool = True) -> str:
    """One paragraph: winner, the reference's rank, Friedman, CD, Wilcoxon, and with
    ``claims`` the verdict on the paper's claim about the metric."""
    reference_label = f"`{c.reference}`" if c.reference else "ImbLLM"
    n, k = c.friedman.n_datasets, c.friedman.n_methods
    if k == 0 or n == 0:
        return f"**{label}.** No dataset has values for the methods compared; nothing to test."
    best, best_rank = c.ranks.index[0], float(c.ranks.iloc[0])
    ties = [m for m, r in c.ranks.items() if np.isclose(r, best_rank)]
    lead = (f"{and_join(ties)} share the best average rank ({best_rank:.2f})" if len(ties) > 1
            else f"{best} has the best average rank ({best_rank:.2f})")
    out = [f"**{label}** ({c.goal}d; {n} datasets, {k} methods). {lead}."]
    if c.notes:
        out.append(f"Left out so that every method has every dataset: {'; '.join(c.notes)}.")
    if c.friedman.n_methods >= 3:
        differ = c.friedman.pvalue < c.alpha
        out.append(
            f"The Friedman test {'finds' if differ else 'does not find'} a difference among the "
            f"methods (chi-square = {c.friedman.statistic:.2f}, {fmt_p(c.friedman.pvalue)}); "
            f"the Nemenyi critical difference is {c.cd:.2f} ranks."
        )
    if c.reference is None:
        out.append(f"{reference_label} has no complete results here, so the paper's claim "
                   "cannot be checked on this metric.")
        return " ".join(out)
    ref_rank = float(c.ranks[c.reference])
    pos = place(c)
    if c.reference in ties:
        out.append(f"{reference_label} is {'among the best' if len(ties) > 1 else 'the best'}"
                   " by average rank.")
    else:
        gap = ref_rank - best_rank
        within = " (within the critical difference)" if gap < c.cd else ""
        out.append(f"{reference_label} does not rank best: it is {ordinal(pos)} of {k} "
                   f"(average rank {ref_rank:.2f}), {gap:.2f} ranks behind {best}{within}.")
    out.append(_wilcoxon_sentence(c, reference_label))
    verdict = _verdict(c, reference_label) if claims else ""
    if verdict:
        out.append(verdict)
    return " ".join(out)


def _wilcoxon_sentence(c: Comparison, ref_label: str) -> str:
    w = c.wilcoxon
    if w is None or w.empty:
        return ""
    better = w[w["significant"] & (w["wins"] > w["losses"])]
    worse = w[w["significant"] & (w["wins"] < w["losses"])]
    rest = w.drop(index=better.index.union(worse.index))

    def cite(rows: pd.DataFrame) -> list[str]:
        return [f"{r.baseline} ({r.wins}-{r.ties}-{r.losses}, Holm {fmt_p(r.p_holm)})"
                for r in rows.itertuples()]

    parts = []
    if len(better):
        parts.append(f"significantly better than {and_join(cite(better))}")
    if len(worse):
        parts.append(f"significantly worse than {and_join(cite(worse))}")
    if len(rest):
        smallest = rest["p_holm"].min()
        parts.append(f"not significantly different from {and_join(list(rest['baseline']))} "
                     f"(smallest Holm-adjusted {fmt_p(smallest)})")
    return (f"Against each baseline (Wilcoxon signed-rank over datasets, win-tie-loss counts, "
            f"Holm correction, alpha = {c.alpha}), {ref_label} is " + "; ".join(parts) + ".")


def _verdict(c: Comparison, ref_label: str) -> str:
    claim = CLAIMS.get(c.metric)
    if claim is None:
        return ""
    w = c.wilcoxon
    best = c.ranks[c.reference] <= c.ranks.min() + 1e-9
    beats_all = w is not None and len(w) > 0 and bool(
        (w["significant"] & (w["wins"] > w["losses"])).all())
    if best and beats_all:
        return (f"These numbers support the paper's claim that ImbLLM {claim}: {ref_label} "
                "ranks best and beats every baseline significantly.")
    if best:
        return (f"These numbers point the same way as the paper's claim that ImbLLM {claim}, "
                f"but do not establish it: {ref_label} ranks best without beating every "
                "baseline significantly.")
    return (f"These numbers do not support the paper's claim that ImbLLM {claim}: "
            f"{c.ranks.index[0]} ranks ahead of {ref_label}.")


def dum_ratio_paragraph(per_dataset: pd.DataFrame, reference: str | None) -> str:
    """How often each method's rows come closer to U than R alone (``dum_ratio`` below 1).

    ``per_dataset`` is datasets x methods of seed-mean ``dum_ratio``.
    """
    if per_dataset.empty:
        return "No synthetic rows were scored; nothing to say about the distance to the unseen minority."
    below = (per_dataset < 1).sum(axis=0)
    known = per_dataset.notna().sum(axis=0)
    order = (below / known.replace(0, np.nan)).sort_values(ascending=False)
    items = [f"{m} on {int(below[m])} of {int(known[m])}" for m in order.index if known[m]]
    text = ("**Distance to the unseen minority against the real rows alone.** A `dum_ratio` "
            "below 1 means the synthetic rows bring the test minority closer than the real "
            "training minority does by itself. Datasets where this holds: "
            + and_join(items) + ".")
    if reference in per_dataset.columns and known[reference]:
        ref_label = f"`{reference}`"
        share = below[reference] / known[reference]
        if share == 1:
            text += f" {ref_label} achieves it on every dataset."
        elif share == 0:
            text += f" {ref_label} achieves it on no dataset."
        else:
            text += (f" {ref_label} does not achieve it on "
                     f"{int(known[reference] - below[reference])} of {int(known[reference])}.")
    return text
