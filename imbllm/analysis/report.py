"""Build ``results/report.md`` and its figures from a frame of logged runs.

The frame is what :func:`imbllm.results.load_runs` returns: one row per finished run with the
keys (``dataset, method, classifier, ratio, seed, protocol``), every metric and
``artifact_uri``. Everything in the report is computed here from that frame, the runs'
``synthetic.csv`` artifacts and the datasets; nothing is typed by hand.

    python scripts/make_report.py            # the entry point
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import pandas as pd

from imbllm.analysis import (
    claims,
    contenders,
    dataset_figures,
    findings,
    llm_rows,
    llm_sections,
    ranks,
    summary,
)
from imbllm.analysis.stats import seed_means
from imbllm.metrics import HEADLINE, SYNTHETIC_METRICS, higher_is_better
from imbllm.registry import methods as registry

FIGURE_PREFIXES = ("cd_", "dum_", "embedding_", "interpolation")


@dataclass
class ReportOptions:
    """What to report on. ``None`` picks the default slice from what the runs hold."""

    #: The method compared with every other; None: the registry's proposed method.
    reference: str | None = None
    ratio: float | None = None
    protocol: str | None = None
    classifier: str | None = None
    embeddings: bool = True
    n_points: int = 200
    alpha: float = 0.05
    source: str = "the tracking store"
    #: The command that rebuilds the report, named in its header.
    command: str = "python scripts/make_report.py"
    #: Experiment of the from-scratch record, compared method by method, not pooled.
    scratch_experiment: str | None = "paper_llm"
    #: Experiment of ImbLLM's interpolation sweep, plotted, not pooled.
    interpolation_experiment: str = "imbllm_interpolation"


def _pick(values: pd.Series, preferred):
    """``preferred`` if some run has it, else the most common value."""
    if (values == preferred).any():
        return preferred
    return values.mode().iloc[0]


@dataclass
class _Slices:
    """The parts of a run frame that the report's sections read."""

    opt: ReportOptions
    header: pd.DataFrame  # the runs the header counts
    scratch: pd.DataFrame
    interp: pd.DataFrame
    new: pd.DataFrame  # generators from after the paper
    peers: pd.DataFrame
    at_ratio: pd.DataFrame
    competing: pd.DataFrame  # the paper's rows and their variants, without upper bounds
    ranked: pd.DataFrame  # the paper's rows alone
    ratio: float
    protocol: str
    classifier: str


def _slices(runs: pd.DataFrame, options: ReportOptions | None) -> _Slices:
    reg = registry()
    opt = options or ReportOptions()
    opt = dataclasses.replace(opt, reference=opt.reference or reg.proposed)
    side = runs["experiment"].isin([opt.scratch_experiment, opt.interpolation_experiment])
    scratch = runs[runs["experiment"] == opt.scratch_experiment]
    interp = runs[runs["experiment"] == opt.interpolation_experiment]
    header = runs = runs[~side]
    # Generators from after the paper and peer implementations have sections of their own; the
    # paper's comparison stays as the paper set it.
    runs, new, peers = contenders.split(runs)
    if runs.empty:
        raise ValueError(f"{opt.source} holds no finished runs outside the comparison "
                         "experiments; run a sweep first (imbllm-bench -m experiment=...).")
    for name, wanted in (("ratio", opt.ratio), ("protocol", opt.protocol),
                         ("classifier", opt.classifier)):
        if wanted is not None and not (runs[name] == wanted).any():
            raise ValueError(f"No run has {name}={wanted!r}; the runs hold "
                             f"{sorted(runs[name].dropna().unique().tolist())}.")
    ratio = _pick(runs["ratio"], 0.2 if opt.ratio is None else opt.ratio)
    at_ratio = runs[runs["ratio"] == ratio]
    protocol = _pick(at_ratio["protocol"], opt.protocol or "corrected")
    classifier = _pick(at_ratio["classifier"], opt.classifier or "xgboost")
    # Reference rows trained on more data are not competitors; variants of a method (its
    # ablations, the before cells of its fixes) are set against it in their own sections, so
    # the pooled ranks and tests hold the paper's rows, as in its main table.
    competing = at_ratio[~at_ratio["method"].isin(reg.upper_bounds)]
    ranked = competing[~competing["method"].isin(reg.variants)]
    return _Slices(opt, header, scratch, interp, new, peers, at_ratio, competing, ranked,
                   ratio, protocol, classifier)


def verdicts(runs: pd.DataFrame, options: ReportOptions | None = None) -> list[tuple[str, str]]:
    """``(claim, verdict)`` per claim on ``runs``, sliced as :func:`build_report` slices them
    (the README block's lines)."""
    part = _slices(runs, options)
    return claims.verdicts(part.competing, part.classifier, part.protocol, part.opt.alpha)


def build_report(
    runs: pd.DataFrame, out_dir: str | Path, options: ReportOptions | None = None, *,
    load_synthetic: Callable[[pd.Series], pd.DataFrame | None] | None = None,
    load_real: Callable[[str, int, float], tuple] | None = None,
) -> Path:
    """Write ``out_dir/report.md``, its README block ``out_dir/summary.md``
    (:mod:`imbllm.analysis.summary`) and ``out_dir/figures/*.png``; return the report path.

    ``load_synthetic(run_row)`` returns a run's synthetic feature rows; ``load_real(dataset,
    seed, ratio)`` returns ``(R, U, numeric, categorical)``. The defaults read the MLflow
    artifact and rebuild the split; tests pass stand-ins.
    """
    reg = registry()
    part = _slices(runs, options)
    opt, ratio, protocol, classifier = part.opt, part.ratio, part.protocol, part.classifier
    at_ratio, competing, ranked = part.at_ratio, part.competing, part.ranked
    new, peers, scratch, interp = part.new, part.peers, part.scratch, part.interp
    out_dir, fig_dir = Path(out_dir), Path(out_dir) / "figures"
    fig_dir.mkdir(parents=True, exist_ok=True)
    for old in fig_dir.glob("*.png"):
        if old.name.startswith(FIGURE_PREFIXES):
            old.unlink()  # figures of methods or datasets no longer in the store

    md = [_header(part.header, opt, ratio, protocol, classifier)]
    synth = competing[competing["protocol"] == protocol]
    synth = synth[synth["dum"].notna()] if "dum" in synth.columns else synth.iloc[:0]
    comparisons = ranks.comparisons(
        ranked, synth[~synth["method"].isin(reg.variants)], modes=HEADLINE, classifier=classifier,
        protocol=protocol, reference=opt.reference, alpha=opt.alpha)

    md.append("## Findings\n")
    md += [findings.comparison_paragraph(c, label) + "\n" for label, c in comparisons]
    if "dum_ratio" in synth.columns and len(synth):
        md.append(findings.dum_ratio_paragraph(seed_means(synth, "dum_ratio"), opt.reference)
                  + "\n")
    md += [p + "\n" for p in (llm_rows.made_paragraph(at_ratio, m) for m in HEADLINE) if p]
    md.append("## The paper's claims (method.md §4)\n")
    md += claims.section(competing, classifier, protocol, opt.alpha)
    md += llm_sections.sections(at_ratio, scratch[scratch["ratio"] == ratio],
                                interp[interp["ratio"] == ratio], fig_dir, protocol=protocol,
                                classifier=classifier, scratch_name=opt.scratch_experiment,
                                alpha=opt.alpha)

    md.append("## Classification\n")
    one = len(reg.upper_bounds) == 1
    md.append(f"Mean (population std) over seeds, best per dataset in bold; {_bounds(reg)} "
              f"{'is the reference' if one else 'are the references'} trained on the training "
              "split before the minority was cut.\n")
    for mode, names in HEADLINE.items():
        for clf in sorted(at_ratio["classifier"].dropna().unique()):
            sl = at_ratio[(at_ratio["protocol"] == mode) & (at_ratio["classifier"] == clf)]
            for short, metric in names.items():
                if metric in sl.columns and sl[metric].notna().any():
                    md.append(f"### {short}: `{metric}`, {mode} protocol, {clf}, ratio {ratio}\n")
                    md.append(_table(sl, metric) + "\n")

    made = llm_rows.section(at_ratio)
    if made:
        md.append(f"## Rows made by the language-model methods (ratio {ratio})\n")
        md += made
    md.append(f"## Synthetic data ({protocol} protocol, ratio {ratio})\n")
    md.append("Mean (population std) over seeds (and classifiers, which share the synthetic "
              "rows). Definitions: protocol.md §4; implementation: imbllm/metrics/synthetic.py "
              "(distance-based metrics on a seeded subsample of at most the logged cap of rows "
              "per set).\n")
    md.append(_cap_note(synth) + "\n")
    for metric in SYNTHETIC_METRICS:
        if metric in synth.columns and synth[metric].notna().any():
            arrow = "higher is better" if higher_is_better(metric) else "lower is better"
            md.append(f"### `{metric}` ({arrow})\n")
            md.append(_table(synth, metric) + "\n")

    md.append("## Ranks and tests\n")
    md += ranks.section(comparisons, fig_dir)
    new_md, new_found = contenders.section(
        ranked, new[new["ratio"] == ratio], at_ratio, classifier=classifier,
        reference=opt.reference, alpha=opt.alpha, fig_dir=fig_dir)
    md += new_md
    md += contenders.peer_section(peers[peers["ratio"] == ratio], scratch[scratch["ratio"] == ratio],
                              classifier=classifier, scratch_name=opt.scratch_experiment)

    md.append("## Figures per dataset\n")
    md += dataset_figures.section(synth, fig_dir, opt, ratio, load_synthetic, load_real)
    path = out_dir / "report.md"
    path.write_text("\n".join(md).rstrip() + "\n")
    (out_dir / "summary.md").write_text(summary.block(
        at_ratio, comparisons, claims.verdicts(competing, classifier, protocol, opt.alpha),
        source=opt.source, reference=opt.reference,
        extra=[contenders.standing_line(new_found, opt.reference)]))
    return path


def _header(runs, opt, ratio, protocol, classifier) -> str:
    def listing(col):
        return ", ".join(map(str, sorted(runs[col].dropna().unique().tolist())))

    versions = runs["code_version"].dropna().unique().tolist() if "code_version" in runs else []
    return (
        "# ImbLLM benchmark report\n\n"
        f"Generated by `{opt.command}` from {opt.source}; do not edit by "
        "hand.\n\n"
        f"- finished runs: {len(runs)}\n- experiments: {listing('experiment')}\n"
        f"- datasets: {listing('dataset')}\n- methods: {listing('method')}\n"
        f"- classifiers: {listing('classifier')}; protocols: {listing('protocol')}; "
        f"ratios: {listing('ratio')}; seeds: {listing('seed')}\n"
        f"- code versions: {', '.join(map(str, sorted(versions))) or 'not logged'}\n"
        f"- tests: ratio {ratio}; classification ranks use {classifier}, synthetic-data ranks "
        f"the {protocol} protocol; reference method `{opt.reference}`; "
        f"{_bounds(registry())} left out of ranks, and so are ImbLLM's ablations and the "
        f"before cells of the engine's fixes (each has its own section), the generators from "
        f"after the paper (role contender) and peer implementations (role peer_check), which "
        f"have theirs after the paper's tests; alpha = {opt.alpha}\n"
    )


def _bounds(reg) -> str:
    """The reference rows trained on more data than the oversamplers, as the text names them."""
    return findings.and_join([f"`{m}`" for m in reg.upper_bounds]) or "no row"


def _table(runs: pd.DataFrame, metric: str) -> str:
    from imbllm.results import format_table, summary_table

    mean, std, rank = summary_table(runs[runs[metric].notna()], metric)
    return format_table(mean, std, rank)


def _cap_note(synth: pd.DataFrame) -> str:
    """Which datasets had synthetic sets above the default row cap (their dum is capped)."""
    from imbllm.metrics.synthetic import DEFAULT_MAX_ROWS

    if "n_generated" not in synth.columns:
        return ""
    sizes = synth.groupby("dataset")["n_generated"].median()
    over = sizes[sizes > DEFAULT_MAX_ROWS].sort_values(ascending=False)
    if over.empty:
        return (f"No synthetic set exceeded the default cap of {DEFAULT_MAX_ROWS} rows: the "
                "distance-based metrics are exact.")
    listed = ", ".join(f"{d} ({int(n)})" for d, n in over.items())
    return (f"Synthetic sets above the default cap of {DEFAULT_MAX_ROWS} rows (median rows "
            f"generated): {listed}. There the distance-based metrics use a seeded subsample of "
            f"{DEFAULT_MAX_ROWS} rows per set: comparable across methods, which generate the "
            "same number of rows, but `dum` is larger than with every row, so `dum_ratio` is "
            "biased upwards against 1 (`scripts/bench_synthetic_metrics.py --exact` prints both "
            "on adult).")
