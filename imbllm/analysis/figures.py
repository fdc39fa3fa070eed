"""Figures of the report: critical-difference diagrams, ``dum`` bars, 2-D embeddings, and
ImbLLM's metrics against its interpolation amount.

Every function writes one PNG and returns its path. matplotlib (the ``report`` extra) is
imported at call time with the non-interactive Agg backend, so the library imports without it.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd

from imbllm.analysis.stats import Comparison
from imbllm.metrics import higher_is_better
from imbllm.metrics.gower import GowerEncoder, gower_cdist
from imbllm.optional import require

#: Colours of the three kinds of rows in an embedding panel.
REAL_COLOR, UNSEEN_COLOR, SYNTH_COLOR = "#9e9e9e", "#1f77b4", "#ff7f0e"


def _pyplot():
    require("matplotlib", "report", "Report figures").use("Agg")
    import matplotlib.pyplot as plt

    return plt


def _ordered_cliques(find):
    """scikit-posthocs' clique finder with its sets made lists in a fixed order. Its sets of
    method names iterate in string-hash order, which changes with ``PYTHONHASHSEED``: bars
    that start at one rank stacked in another order, and the same runs drew different
    diagrams from one build to the next."""
    def ordered(adj_matrix):
        position = {name: i for i, name in enumerate(adj_matrix.index)}
        cliques = [sorted(c, key=position.__getitem__) for c in find(adj_matrix)]
        return sorted(cliques, key=lambda c: [position[name] for name in c])

    return ordered


def cd_diagram(comparison: Comparison, path: str | Path, *, title: str | None = None) -> Path:
    """Nemenyi critical-difference diagram (scikit-posthocs) of one metric's average ranks."""
    from unittest import mock

    import scikit_posthocs as sp
    from scikit_posthocs import _plotting

    plt = _pyplot()
    c = comparison
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(c.ranks) + 1.2))
    if c.nemenyi is not None:
        find = _ordered_cliques(_plotting._find_maximal_cliques)
        with mock.patch.object(_plotting, "_find_maximal_cliques", find):
            sp.critical_difference_diagram(c.ranks, c.nemenyi, ax=ax, cd=c.cd, alpha=c.alpha,
                                           label_fmt_left="{label} ({rank:.2f})",
                                           label_fmt_right="({rank:.2f}) {label}")
    else:
        ax.text(0.5, 0.5, "fewer than 3 methods or 2 datasets: no test", ha="center")
        ax.set_axis_off()
    p = c.friedman.pvalue
    ax.set_title(title or f"{c.metric} ({c.goal}; rank 1 = best); N = {c.friedman.n_datasets} "
                 f"datasets, Friedman p = {p:.3g}, CD = {c.cd:.2f}", fontsize=9, pad=22)
    return _save(fig, path)


def dum_bars(runs: pd.DataFrame, dataset: str, path: str | Path, *,
             highlight: str | None = None) -> Path:
    """Bar chart of ``dum`` per method on one dataset (mean and population std over seeds).

    The dashed line is ``dum_reference``: the distance that the real training minority alone
    reaches. Bars below it mean the synthetic rows come closer to the unseen minority. The
    ``highlight`` method (the one under study) is drawn in blue.
    """
    plt = _pyplot()
    sub = runs[(runs["dataset"] == dataset) & runs["dum"].notna()]
    g = sub.groupby("method")["dum"]
    mean, std = g.mean().sort_values(), g.std(ddof=0)
    fig, ax = plt.subplots(figsize=(max(4.0, 0.6 * len(mean) + 1.5), 3.2))
    colors = [UNSEEN_COLOR if m == highlight else SYNTH_COLOR for m in mean.index]
    ax.bar(range(len(mean)), mean.to_numpy(), yerr=std.loc[mean.index].to_numpy(),
           color=colors, capsize=3)
    ax.set_xticks(range(len(mean)), mean.index, rotation=40, ha="right", fontsize=8)
    ref = sub["dum_reference"].mean()
    if np.isfinite(ref):
        ax.axhline(ref, color="k", linestyle="--", linewidth=1,
                   label=f"real training minority only ({ref:.3f})")
        ax.legend(fontsize=7, loc="upper left")
    ax.set_ylabel("dum (lower: closer)", fontsize=8)
    ax.set_title(f"{dataset}: distance to unseen minority", fontsize=9)
    return _save(fig, path)


def embedding(
    R: pd.DataFrame, U: pd.DataFrame, synthetic: dict[str, pd.DataFrame],
    numeric: list[str], categorical: list[str], path: str | Path, *,
    n_points: int = 200, random_state: int = 0, title: str = "",
) -> Path:
    """t-SNE of R, U and each method's S on the shared Gower distance; one panel per method.

    All sets are embedded together (so the panels share coordinates); each set is first
    subsampled to ``n_points`` rows with ``numpy.random.default_rng(random_state)``. Every
    panel shows R (grey) and U (blue), and one method's synthetic rows (orange).
    """
    from sklearn.manifold import TSNE

    plt = _pyplot()
    rng = np.random.default_rng(random_state)
    cols = list(numeric) + list(categorical)
    sets = {"R": R, "U": U, **synthetic}
    parts, labels = [], []
    for name, frame in sets.items():
        if len(frame) > n_points:
            frame = frame.iloc[np.sort(rng.choice(len(frame), n_points, replace=False))]
        parts.append(frame[cols])
        labels += [name] * len(frame)
    rows = pd.concat(parts, ignore_index=True)
    for c in numeric:
        rows[c] = pd.to_numeric(rows[c])  # artifacts are read back as text
    for c in categorical:
        rows[c] = rows[c].astype(str)
    enc = GowerEncoder(numeric, categorical).fit(R[cols], U[cols])
    X = enc.transform(rows)
    D = gower_cdist(X, X)
    perplexity = float(min(30.0, max(2.0, (len(rows) - 1) / 3)))
    xy = TSNE(n_components=2, metric="precomputed", init="random", perplexity=perplexity,
              random_state=random_state).fit_transform(D)
    labels = np.asarray(labels)
    methods = list(synthetic)
    ncol = min(4, max(1, len(methods)))
    nrow = max(1, int(np.ceil(len(methods) / ncol)))
    fig, axes = plt.subplots(nrow, ncol, figsize=(3.2 * ncol, 3.0 * nrow), squeeze=False,
                             sharex=True, sharey=True)
    for ax in axes.ravel()[len(methods):]:
        ax.set_axis_off()
    for ax, m in zip(axes.ravel(), methods or [""], strict=False):
        for name, color, label in (("R", REAL_COLOR, "real train minority"),
                                   ("U", UNSEEN_COLOR, "test minority"),
                                   (m, SYNTH_COLOR, "synthetic")):
            sel = labels == name
            ax.scatter(xy[sel, 0], xy[sel, 1], s=4, c=color, alpha=0.6, label=label,
                       linewidths=0)
        ax.set_title(m or "no synthetic rows", fontsize=9)
        ax.set_xticks([])
        ax.set_yticks([])
    axes[0, 0].legend(fontsize=6, markerscale=2, loc="best")
    fig.suptitle(title or "t-SNE on the shared Gower distance", fontsize=10)
    return _save(fig, path)


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    fig.tight_layout()
    # No "Software" tag: a matplotlib upgrade alone should not rewrite every committed PNG.
    fig.savefig(path, dpi=110, metadata={"Software": None})
    import matplotlib.pyplot as plt

    plt.close(fig)
    return path


def interpolation_plot(runs: pd.DataFrame, metrics: list[str], path: str | Path) -> Path:
    """One panel per metric: the metric against ``interpolation_ratio``, a line of seed means
    per dataset and every seed's run as a point (four datasets are too few for a test)."""
    plt = _pyplot()
    fig, axes = plt.subplots(1, len(metrics), figsize=(4.2 * len(metrics), 3.4), squeeze=False)
    cmap = plt.get_cmap("tab10")
    for ax, metric in zip(axes[0], metrics, strict=True):
        sub = runs[runs[metric].notna()]
        for i, (dataset, part) in enumerate(sorted(sub.groupby("dataset"))):
            means = part.groupby("interpolation_ratio")[metric].mean()
            ax.plot(means.index, means.to_numpy(), color=cmap(i % 10), label=dataset)
            ax.scatter(part["interpolation_ratio"], part[metric], color=cmap(i % 10), s=12,
                       alpha=0.6)
        ax.set_xlabel("interpolation_ratio (interpolated rows per row to generate)", fontsize=8)
        ax.set_ylabel(metric, fontsize=8)
        ax.set_title(f"{metric} ({'higher' if higher_is_better(metric) else 'lower'} is better)",
                     fontsize=9)
    axes[0, 0].legend(fontsize=7, loc="best")
    return _save(fig, path)
