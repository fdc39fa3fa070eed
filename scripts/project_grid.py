"""Project a grid's summed run time from one dataset's cells run before and after a change.

    python scripts/project_grid.py --grid results/runs/paper_llm_pretrained.csv.gz \\
        --before /tmp/before/paper_llm_pretrained.csv.gz --after /tmp/after/paper_llm_pretrained.csv.gz \\
        --pretrain-cap 1000000 --fit-cap 300000

``--before`` and ``--after`` are run records (``make_tables.py --export``) of the same cells,
run on one machine one after the other, the same way (launcher, workers, threads). Each stage
of the after run is set against the before run: pretraining and fine-tuning by seconds per real
token (the runs that paid for the stage), sampling and the rest of a run (classifiers, metrics,
data) by their summed seconds. The grid's recorded runs (``--grid``, its ``--protocol`` cells)
are then scaled stage by stage; a token cap (``--pretrain-cap``, ``--fit-cap``: the
``budget.pretrain_max_train_tokens`` and ``budget.max_train_tokens`` of the after run) scales a
run's stage by ``min(1, cap / its tokens)``, which :func:`imbllm.llm.model.config.fit_to_tokens`
keeps within (it never trains past the cap unless one epoch of 512 rows is longer).
"""

from __future__ import annotations

import argparse

import numpy as np
import pandas as pd


def _paid(runs: pd.DataFrame, stage: str) -> pd.DataFrame:
    """The runs that paid for ``stage`` ("pretrain" or "fit"): no cache hit, seconds logged."""
    if stage == "pretrain":
        hit, seconds = "pretrain_cache_hit", "pretrain_seconds"
    else:
        hit, seconds = "cache_hit", "lm_fit_seconds"
    fresh = runs[(runs["resample_cache_hit"].fillna(0) == 0) & (runs[hit].fillna(1) == 0)]
    return fresh[fresh[seconds].fillna(0) > 0]


def stages(runs: pd.DataFrame) -> dict:
    """Summed seconds per stage of ``runs``, and the real tokens the paid stages trained."""
    sampled = runs[runs["resample_cache_hit"].fillna(0) == 0]
    pre, fit = _paid(runs, "pretrain"), _paid(runs, "fit")
    out = {
        "run": runs["run_seconds"].sum(),
        "pretrain": pre["pretrain_seconds"].sum(),
        "pretrain_tokens": pre["pretrain_tokens"].sum(),
        "fit": fit["lm_fit_seconds"].sum(),
        "fit_tokens": fit["train_tokens"].sum(),
        "sample": sampled["sample_seconds"].fillna(0).sum(),
    }
    out["rest"] = out["run"] - out["pretrain"] - out["fit"] - out["sample"]
    return out


def ratios(before: dict, after: dict) -> dict:
    """After against before: seconds per token for the training stages, seconds otherwise."""
    def per_token(d, stage):
        return d[stage] / d[f"{stage}_tokens"] if d[f"{stage}_tokens"] else np.nan

    return {
        "pretrain": per_token(after, "pretrain") / per_token(before, "pretrain"),
        "fit": per_token(after, "fit") / per_token(before, "fit"),
        "sample": after["sample"] / before["sample"],
        "rest": after["rest"] / before["rest"],
    }


def project(grid: pd.DataFrame, r: dict, pretrain_cap: float | None,
            fit_cap: float | None) -> dict:
    """The grid's recorded seconds per stage, and the same scaled by ``r`` and the caps."""
    def capped(seconds, tokens, cap):
        return seconds * (np.minimum(1.0, cap / tokens) if cap else 1.0)

    pre, fit = _paid(grid, "pretrain"), _paid(grid, "fit")
    today = stages(grid)
    projected = {
        "pretrain": (capped(pre["pretrain_seconds"], pre["pretrain_tokens"], pretrain_cap)
                     * r["pretrain"]).sum(),
        "fit": (capped(fit["lm_fit_seconds"], fit["train_tokens"], fit_cap) * r["fit"]).sum(),
        "sample": today["sample"] * r["sample"],
        "rest": today["rest"] * r["rest"],
    }
    projected["run"] = sum(projected.values())
    return {"today": today, "projected": projected}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--grid", required=True, help="the grid's run records (csv.gz)")
    ap.add_argument("--before", required=True, help="one dataset's cells before the change")
    ap.add_argument("--after", required=True, help="the same cells after it")
    ap.add_argument("--protocol", default="corrected", help="the grid's cells to project")
    ap.add_argument("--pretrain-cap", type=float, default=None)
    ap.add_argument("--fit-cap", type=float, default=None)
    args = ap.parse_args(argv)
    grid = pd.read_csv(args.grid)
    grid = grid[grid["protocol"] == args.protocol]
    before, after = (stages(pd.read_csv(p)) for p in (args.before, args.after))
    for name, d in (("before", before), ("after", after)):
        print(f"{name}: " + ", ".join(f"{k} {v:.0f}" + ("" if "tokens" in k else " s")
                                      for k, v in d.items()))
    print(f"measured cells: summed run time after/before = {after['run'] / before['run']:.3f}")
    r = ratios(before, after)
    print("after/before: " + ", ".join(
        f"{k} {v:.3f}" + (" (s per token)" if k in ("pretrain", "fit") else "")
        for k, v in r.items()))
    p = project(grid, r, args.pretrain_cap, args.fit_cap)
    for k in ("pretrain", "fit", "sample", "rest", "run"):
        print(f"{k:>8}: today {p['today'][k] / 3600:6.2f} h -> projected "
              f"{p['projected'][k] / 3600:6.2f} h")
    share = p["projected"]["run"] / p["today"]["run"]
    print(f"grid ({len(grid)} runs, {args.protocol}): {p['today']['run'] / 3600:.2f} h -> "
          f"{p['projected']['run'] / 3600:.2f} h = {share:.3f} of today's "
          f"({'within' if share <= 0.5 else 'over'} the half asked)")


if __name__ == "__main__":
    main()
