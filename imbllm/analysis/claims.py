"""One paragraph per claim of the paper (method.md §4): supported or not, by which numbers,
with which test, on which protocol, and what the backbone of these runs cannot say.

Every sentence is a template filled from the runs: average ranks and the Friedman test over
datasets, Wilcoxon signed-rank against each method compared with Holm's correction
(:mod:`imbllm.analysis.stats`). A claim counts as supported only when ImbLLM ranks best and is
significantly better than every method it is compared with, on every metric that carries it.
"""

from __future__ import annotations

import pandas as pd

from imbllm.analysis.findings import and_join, fmt_p, ordinal, place, significant_sides
from imbllm.analysis.stats import Comparison, compare
from imbllm.metrics import HEADLINE, goal
from imbllm.registry import methods as registry

#: The ablations that remove what the entropy argument credits (method.md §2.6).
ENTROPY_ABLATIONS = ("imbllm_no_feature_prompt", "imbllm_no_interp")
CLOSER, DIVERSE = ("dum",), ("pairwise_distance", "unique_ratio", "entropy")


def _standing(c: Comparison) -> tuple[int, str]:
    """``(level, sentence)`` for one metric: ImbLLM's rank and its significant wins; level 2:
    ranks best and beats every method significantly, 1: ranks best, 0: does not."""
    if c.reference is None:
        return 0, f"`{c.metric}`: ImbLLM has no complete results."
    k, n = len(c.ranks), c.friedman.n_datasets
    rank, pos = float(c.ranks[c.reference]), place(c)
    w = c.wilcoxon
    if w is None or w.empty:  # ImbLLM alone: nothing to test against
        w = pd.DataFrame(columns=["baseline", "significant", "wins", "losses"])
    better, worse = significant_sides(w)
    best = pos == 1
    text = (f"`{c.metric}` ({c.goal}d, {n} datasets): ImbLLM ranks {ordinal(pos)} of {k} "
            f"(average rank {rank:.2f}"
            + ("" if best else f"; best {c.ranks.index[0]} {float(c.ranks.iloc[0]):.2f}")
            + f"; Friedman {fmt_p(c.friedman.pvalue)}), significantly better than "
            f"{len(better)} of {len(w)}" + (f" ({and_join(better)})" if better else ""))
    if worse:
        text += f" and significantly worse than {and_join(worse)}"
    return (2 if len(better) == len(w) > 0 else 1) if best else 0, text + "."


def _verdict(levels: list[int]) -> str:
    if min(levels) == 2:
        return "Supported"
    if min(levels) == 1:
        return "Not established: ImbLLM ranks best without beating every method significantly"
    return "Partly supported: ImbLLM ranks best on some metrics only" if max(levels) else (
        "Not supported")


def _judge(runs: pd.DataFrame, methods: tuple[str, ...], metrics, alpha: float):
    """``(standings, missing)``: a standing per metric the runs hold, and the metrics they lack."""
    reference = registry().proposed
    sub = runs[runs["method"].isin((reference, *methods))]
    if not set(methods) & set(sub["method"]):
        return [], list(metrics)  # nothing to compare ImbLLM with
    out, missing = [], []
    for metric in metrics:
        if metric in sub and sub[metric].notna().any() and reference in set(sub["method"]):
            out.append(_standing(compare(sub[sub[metric].notna()], metric, goal(metric),
                                         reference=reference, alpha=alpha)))
        else:
            missing.append(metric)
    return out, missing


def _verdict_of(judged) -> str:
    """The verdict of one claim, or why it cannot be tested here."""
    standings, missing = judged
    if not standings:
        return ("Not testable here: the runs lack ImbLLM, the methods it is compared with, "
                "or the metrics.")
    verdict = _verdict([level for level, _ in standings])
    if missing:
        verdict = (f"Testable only in part ({', '.join(f'`{m}`' for m in missing)} not logged); "
                   f"on the rest: {verdict[0].lower()}{verdict[1:]}")
    return verdict


def _paragraph(title: str, how: str, judged) -> str:
    if not judged[0]:
        return f"**{title}** {_verdict_of(judged)}"
    return f"**{title}** {_verdict_of(judged)} ({how}). " + " ".join(t for _, t in judged[0])


def backbone_caveat(runs: pd.DataFrame) -> str:
    """What the backbone of these runs cannot say about the paper's pretrained one."""
    llm = runs[runs["backbone"].notna()] if "backbone" in runs else runs.iloc[:0]
    backbones = sorted(set(llm["backbone"])) if len(llm) else []
    if backbones != ["compact"]:
        return f"Backbones: {', '.join(backbones) or 'none logged'}."
    pretrain = llm["pretrain"] if "pretrain" in llm else pd.Series(dtype=object)
    if (pretrain == "table").any():
        start = "first trained on the run's own training split"
        bare = sorted(set(llm.loc[pretrain != "table", "method"]))
        start += f", except in {and_join(bare)}" if bare else ""
    else:
        start = f"pretraining {', '.join(sorted(set(pretrain.dropna()))) or 'not logged'}"
    return ("These runs use the compact offline backbone (a small GPT-2 built from a config, "
            f"{start}), not the paper's hub-pretrained distilgpt2: they cannot say how the "
            "methods rank when the backbone brings knowledge of column names and values from "
            "outside the table, which is where the paper's LLM methods start.")


def _claims(runs: pd.DataFrame, classifier: str, synthetic_protocol: str, alpha: float):
    """``(title, how it was tested, judged)`` per claim, protocol by protocol where the claim
    is about scores."""
    test = f"average ranks with the Friedman test; Wilcoxon signed-rank, Holm, alpha = {alpha}"
    baselines = registry().role("baseline")  # the paper's (method.md §3)
    for mode, names in HEADLINE.items():
        sl = runs[(runs["protocol"] == mode) & (runs["classifier"] == classifier)]
        if len(sl):
            yield (f"Claim: ImbLLM beats all {_count(len(baselines))} baselines on F1 and AUC "
                   f"({mode} protocol).",
                   f"{classifier}; {test}; against {', '.join(baselines)}",
                   _judge(sl, baselines, (names["F1"], names["AUC"]), alpha))
    syn = runs[runs["protocol"] == synthetic_protocol]
    yield ("Claim: ImbLLM's rows lie closer to the unseen minority and are more diverse than "
           f"those of the other methods ({synthetic_protocol} protocol).",
           f"closer: `dum`; diverse: {', '.join(f'`{m}`' for m in DIVERSE)}; {test}",
           _judge(syn, baselines, CLOSER + DIVERSE, alpha))
    yield ("Claim: conditioning on the label and a feature value, and interpolating, raises the "
           f"entropy of the generated rows over label-only prompting ({synthetic_protocol} "
           "protocol).",
           f"`entropy` of ImbLLM against {' and '.join(ENTROPY_ABLATIONS)}; {test}",
           _judge(syn, ENTROPY_ABLATIONS, ("entropy",), alpha))


def _count(n: int) -> str:
    """A count as the paper writes it ("all eight baselines")."""
    words = ("no", "one", "two", "three", "four", "five", "six", "seven", "eight", "nine", "ten",
             "eleven", "twelve")
    return words[n] if n < len(words) else str(n)


def verdicts(runs: pd.DataFrame, classifier: str, synthetic_protocol: str,
             alpha: float = 0.05) -> list[tuple[str, str]]:
    """``(claim, verdict)`` per claim: the one-line form of :func:`section`."""
    return [(title.removeprefix("Claim: "), _verdict_of(judged))
            for title, _, judged in _claims(runs, classifier, synthetic_protocol, alpha)]


def section(runs: pd.DataFrame, classifier: str, synthetic_protocol: str,
            alpha: float = 0.05) -> list[str]:
    """The claims' paragraphs, then what the backbone cannot say."""
    md = [_paragraph(*claim) for claim in _claims(runs, classifier, synthetic_protocol, alpha)]
    md.append("**What these runs cannot say.** " + backbone_caveat(runs))
    return [p + "\n" for p in md]
