"""ImbLLM against generators from after the paper (issue 24), and peer implementations.

The paper's own comparison stays as the paper set it: :func:`split` takes the runs of methods of
role ``contender`` and ``peer_check`` (conf/method) out of it, and they get sections of their own:

* :func:`section`: the contenders pooled with the paper's ranked methods (same cells, same
  run keys) on the corrected protocol: average ranks, Friedman, Wilcoxon + Holm against the
  reference with effect sizes, CD diagrams, what Holm can let through with this many datasets,
  and what each method costs to make its synthetic rows.
* :func:`peer_section`: each peer implementation against the method it checks, in the
  from-scratch record (a peer trained from random weights, as ``great_ref`` is), with the
  pass mark of :data:`PEER_F1_TOLERANCE` and :data:`llm_rows.FULL_SHARE`.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
from scipy import stats

from imbllm.analysis import findings, llm_rows, ranks
from imbllm.analysis.stats import Comparison
from imbllm.llm.recipes import ENGINE_DEFAULTS, RECIPES
from imbllm.registry import methods as registry
from imbllm.results import dataset_order, method_order

#: A peer implementation passes when its mean minority F1 over the datasets lies this close to
#: the method it checks (issue 24).
PEER_F1_TOLERANCE = 0.02
#: The protocol mode of the comparison: the published one keeps the authors' quirks.
MODE = "corrected"


def split(runs: pd.DataFrame) -> tuple[pd.DataFrame, pd.DataFrame, pd.DataFrame]:
    """``(paper, contenders, peers)``: the runs of the paper's comparison, of role
    ``contender`` and of role ``peer_check``."""
    reg = registry()
    new = runs["method"].isin(reg.role("contender"))
    peers = runs["method"].isin(reg.role("peer_check"))
    return runs[~(new | peers)], runs[new], runs[peers]


def holm_reach(n_datasets: int, n_tests: int, alpha: float) -> str:
    """What Wilcoxon + Holm can find with ``n_datasets`` and ``n_tests`` comparisons: the
    smallest p of a clean sweep and of one loss (on the smallest difference), times the number
    of tests as Holm's first step multiplies them."""
    if n_datasets < 2 or n_tests < 1:
        return ""
    ladder = np.arange(1.0, n_datasets + 1)
    sweep = stats.wilcoxon(ladder).pvalue
    one_loss = stats.wilcoxon(np.r_[-1.0, ladder[1:]]).pvalue
    survive = [name for name, p in ((f"{n_datasets} of {n_datasets}", sweep),
                                    (f"{n_datasets - 1} of {n_datasets}", one_loss))
               if p * n_tests < alpha]
    verdict = (f"so only a record of {' or '.join(survive)} wins can survive Holm"
               if survive else "so no record can survive Holm")
    return (f"With {n_datasets} datasets the smallest two-sided Wilcoxon p is {sweep:.4f} (the "
            f"reference better on all {n_datasets}, or worse on all) and {one_loss:.4f} with one "
            f"loss on the smallest difference; Holm's first step multiplies by the {n_tests} "
            f"comparisons: {sweep * n_tests:.3f} and {one_loss * n_tests:.3f} against "
            f"alpha = {alpha}, {verdict}.")


def _paid_pretraining(runs: pd.DataFrame) -> pd.DataFrame:
    """The table pretraining paid per (dataset, seed, number form): the first run that trained
    the backbone (``pretrain_cache_hit == 0``); the others loaded it from the cache."""
    if "pretrain_cache_hit" not in runs or "pretrain_seconds" not in runs:
        return pd.DataFrame(columns=["dataset", "seed", "form", "paid"])
    paid = _in_order(runs[runs["pretrain_cache_hit"] == 0])
    paid = paid.assign(form=paid["method"].map(_number_form))
    paid = paid.drop_duplicates(["dataset", "seed", "form"])
    return paid[["dataset", "seed", "form"]].assign(paid=paid["pretrain_seconds"].to_numpy())


def _in_order(runs: pd.DataFrame) -> pd.DataFrame:
    """The runs in the order they started, where the records say."""
    return runs.sort_values("start_time", kind="stable") if "start_time" in runs else runs


def _number_form(method: str) -> str:
    """The number form of a method's serialisation (its recipe's, or that of the method it
    varies): the pretrained backbones differ by it."""
    by_name = registry().by_name
    name = method if method in RECIPES or method not in by_name else by_name[method].of
    recipe = RECIPES.get(name or "")
    return recipe.number_format if recipe else ENGINE_DEFAULTS["number_format"]


def costs(pool: pd.DataFrame, everything: pd.DataFrame) -> pd.DataFrame:
    """Per method, mean seconds to make one synthetic set (one per dataset and seed): fitting
    without pretraining, sampling, and the table pretraining of its backbone charged once per
    (dataset, seed) from the run that paid it (``everything``: where to look for that run);
    with the sets counted and the hours summed over them."""
    sets = _in_order(pool).drop_duplicates(["method", "dataset", "seed"])
    sets = sets.assign(form=sets["method"].map(_number_form)).merge(
        _paid_pretraining(everything), on=["dataset", "seed", "form"], how="left")
    col = lambda name: sets[name].fillna(0.0) if name in sets else 0.0  # noqa: E731
    own = col("pretrain_seconds")
    pretrained = sets["pretrain"].eq("table") if "pretrain" in sets else False
    sets["fit"], sets["sample"] = col("fit_seconds") - own, col("sample_seconds")
    # A backbone loaded from a cache that no run in the records filled has no known cost: it
    # stays out of the mean and is counted, rather than charged as the load's fraction of a
    # second.
    sets["pretraining"] = np.where(np.asarray(pretrained), sets["paid"], 0.0)
    sets["unpaid"] = np.asarray(pretrained) & sets["paid"].isna()
    g = sets.groupby("method")
    out = pd.DataFrame({"sets": g.size(), "fit": g["fit"].mean(), "sample": g["sample"].mean(),
                        "pretraining": g["pretraining"].mean(), "unpaid": g["unpaid"].sum()})
    out["total"] = out["fit"] + out["sample"] + out["pretraining"]
    out["hours"] = out["total"] * out["sets"] / 3600.0
    return out.loc[method_order(out.index)]


def cost_table(c: pd.DataFrame) -> str:
    lines = ["| method | sets | fit s | sample s | pretraining s | total s per set | hours, all "
             "sets |", "|---" * 7 + "|"]
    for m, r in c.iterrows():
        lines.append(f"| {m} | {int(r.sets)} | {r.fit:.2f} | {r['sample']:.2f} | "
                     f"{r.pretraining:.2f} | {r.total:.2f} | {r.hours:.2f} |")
    unpaid = [f"{m} {int(r.unpaid)} of {int(r.sets)}" for m, r in c.iterrows() if r.unpaid]
    if unpaid:
        lines.append(f"\nSets whose backbone came from a cache no recorded run paid (their "
                     f"pretraining left out of the mean): {', '.join(unpaid)}.")
    return "\n".join(lines)


def section(ranked: pd.DataFrame, new: pd.DataFrame, everything: pd.DataFrame, *,
            classifier: str, reference: str, alpha: float, fig_dir: Path
            ) -> tuple[list[str], list[tuple[str, Comparison]]]:
    """The report's section "ImbLLM against today's generators" and its comparisons; empty
    without runs of role ``contender``. ``ranked``: the paper's ranked runs at the report's
    ratio; ``everything``: all runs at that ratio, where the paid pretraining is found."""
    if new.empty:
        return [], []
    pool = pd.concat([ranked, new], ignore_index=True)
    pool = pool[pool["protocol"] == MODE]
    synth = pool[pool["dum"].notna()] if "dum" in pool else pool.iloc[:0]
    found = ranks.comparisons(pool, synth, modes=(MODE,), classifier=classifier, protocol=MODE,
                              reference=reference, alpha=alpha)
    names = ", ".join(f"`{m}`" for m in method_order(new["method"].unique()))
    md = [f"## ImbLLM against today's generators ({MODE} protocol)\n",
          f"The generators from after the paper ({names}; role `contender` in conf/method) "
          "ranked with the paper's methods, whose cells are the same "
          "runs as in the paper's comparison above (which leaves the new methods out). "
          f"Classification ranks use {classifier}.\n"]
    if found:
        c = found[0][1]
        md.append(holm_reach(c.friedman.n_datasets, len(c.ranks) - 1, alpha) + "\n")
    md += [findings.comparison_paragraph(c, label, claims=False) + "\n" for label, c in found]
    if "fit_seconds" in pool:
        md += _cost_block(pool[pool["classifier"] == classifier],
                          everything[everything["protocol"] == MODE])
    md.append("### Ranks and tests\n")
    md += ranks.section(found, fig_dir, prefix="cd_contenders_")
    return md, found


def _cost_block(pool: pd.DataFrame, everything: pd.DataFrame) -> list[str]:
    md = ["### Cost of one synthetic set\n"]
    md.append("Mean seconds per (dataset, seed) to make the synthetic rows (the classifiers "
              "share them), wall seconds as each run logged them under its sweep's load (the "
              "sweeps' tables give their wall times): fitting without table pretraining, sampling, "
              "and the table pretraining of the language-model methods' backbone charged once "
              "per (dataset, seed) from the run that paid it (one backbone per number form, "
              "shared by the methods and loaded from the cache by the others).\n")
    md.append(cost_table(costs(pool, everything)) + "\n")
    return md


def standing_line(found: list[tuple[str, Comparison]], reference: str) -> str:
    """One README line: where the reference stands among the pooled methods."""
    parts = []
    for label, c in found:
        if c.metric in ("f1_minority", "roc_auc", "dum") and c.reference:
            parts.append(f"{findings.ordinal(findings.place(c))} of {len(c.ranks)} on "
                         f"{label} (best {c.ranks.index[0]})")
    if not parts:
        return ""
    return (f"- Against today's generators (the paper's methods and those of role `contender`, "
            f"{MODE} protocol): `{reference}` ranks " + "; ".join(parts)
            + ". Section \"ImbLLM against today's generators\" of the report.")


def peer_section(peers: pd.DataFrame, scratch: pd.DataFrame, *, classifier: str,
                 scratch_name: str) -> list[str]:
    """Each peer implementation (role ``peer_check``) against the method it is ``of`` in the
    from-scratch record, per dataset over seeds, with its verdict."""
    reg = registry()
    md = []
    at = lambda r: r[(r["protocol"] == MODE) & (r["classifier"] == classifier)]  # noqa: E731
    for peer in method_order(peers["method"].unique()):
        of = reg.by_name[peer].of
        mine, theirs = at(peers[peers["method"] == peer]), at(scratch[scratch["method"] == of])
        if mine.empty or theirs.empty:
            continue
        md.append(f"### `{peer}` against `{of}` ({reg.by_name[peer].change}; {MODE} protocol, "
                  f"{classifier}, `{of}` from `{scratch_name}`)\n")
        md += _peer_table(mine, theirs, peer, of)
    if md:
        md.insert(0, "## Peer implementations\n")
    return md


def _peer_table(mine: pd.DataFrame, theirs: pd.DataFrame, peer: str, of: str) -> list[str]:
    def means(r):
        # be_great's peer logs the rows it kept as n_generated; the engine logs n_valid.
        made = r["n_valid"] if "n_valid" in r else pd.Series(np.nan, index=r.index)
        r = r.assign(n_valid=made.fillna(r["n_generated"]) if "n_generated" in r else made)
        return r.groupby("dataset").agg(seeds=("seed", "nunique"), valid=("n_valid", "sum"),
                                        asked=("n_requested", "sum"), f1=("f1_minority", "mean"),
                                        dum=("dum", "mean"))

    a, b = means(mine), means(theirs)
    both = dataset_order(a.index.intersection(b.index))
    lines = [f"| dataset | seeds | `{peer}` rows made | `{peer}` F1 | `{of}` F1 | difference | "
             f"`{peer}` dum | `{of}` dum |", "|---" * 8 + "|"]
    for d in both:
        lines.append(f"| {d} | {int(a.at[d, 'seeds'])} | "
                     f"{llm_rows.share(a.at[d, 'valid'], a.at[d, 'asked'])} | "
                     f"{a.at[d, 'f1']:.4f} | {b.at[d, 'f1']:.4f} | "
                     f"{a.at[d, 'f1'] - b.at[d, 'f1']:+.4f} | {a.at[d, 'dum']:.4f} | "
                     f"{b.at[d, 'dum']:.4f} |")
    diff = float((a.loc[both, "f1"] - b.loc[both, "f1"]).mean())
    made = a.loc[both, "valid"].sum() / a.loc[both, "asked"].sum()
    ok_rows, ok_f1 = made >= llm_rows.FULL_SHARE, abs(diff) <= PEER_F1_TOLERANCE
    verdict = "passes" if ok_rows and ok_f1 else "fails"
    missing = dataset_order(b.index.difference(a.index))
    lacking = (f" (of the {len(b)} `{of}` has; no `{peer}` run on {', '.join(missing)})"
               if missing else "")
    return ["\n".join(lines) + "\n",
            f"Over {len(both)} datasets{lacking}: `{peer}` made {made:.1%} of its rows (pass mark "
            f"{llm_rows.FULL_SHARE:.0%}); its mean minority F1 is {diff:+.4f} from `{of}`'s "
            f"(pass mark ±{PEER_F1_TOLERANCE}); wins {int((a.loc[both, 'f1'] > b.loc[both, 'f1']).sum())} "
            f"of {len(both)} datasets. The check **{verdict}**.\n"]
