"""Time the synthetic-data metrics against the rest of a non-LLM run on adult.

    OMP_NUM_THREADS=1 python scripts/bench_synthetic_metrics.py            # SMOTE-NC + XGBoost
    python scripts/bench_synthetic_metrics.py --exact                      # also the uncapped values
    python scripts/bench_synthetic_metrics.py --sweep --seeds 0            # the classical sweep
    python scripts/bench_synthetic_metrics.py --from-store                 # ratios of logged runs

Each run goes through the runner's own code path (:func:`imbllm.runner.execute_run`): split,
SMOTE-NC, XGBoost fit and predict, then :func:`imbllm.metrics.synthetic.synthetic_metrics` on
the run's synthetic minority rows (adult: about 17,000 rows against 1,200 real and 1,500
test minority rows). The runner times the three stages; this script prints them and the
share the metrics add. SMOTE-NC + XGBoost is the cheapest non-LLM run, so its share is the
largest any non-LLM run sees (CTGAN, TVAE and CatBoost runs take longer; the metrics do not).
"""

from __future__ import annotations

import argparse
import statistics
import sys
import time
from functools import partial


def bench_runs(dataset: str, seeds: list[int], modes: list[str], max_rows: int | None) -> None:
    from baselines.classical import SMOTENC
    from imbllm.classifiers import XGBoost
    from imbllm.data import load_dataset
    from imbllm.metrics.synthetic import synthetic_metrics
    from imbllm.runner import execute_run
    from imbllm.runspec import MethodSpec

    data = load_dataset(dataset)
    method = MethodSpec("smote_nc", published_input="ordinal")
    cpu = {}

    def timed_metrics(*args):
        # CPU time as well as the runner's wall time: on a shared machine the wall clock
        # also counts the time other processes hold the cores.
        c0 = time.process_time()
        out = synthetic_metrics(*args, max_rows=max_rows, random_state=seed)
        cpu["metrics"] = time.process_time() - c0
        return out

    rows = []
    print(f"{dataset}: SMOTE-NC + XGBoost, synthetic_metrics(max_rows={max_rows}); seconds")
    print(f"{'mode':>10} {'seed':>4} {'|S|':>6} {'split+SMOTE-NC':>15} {'XGBoost':>8} "
          f"{'metrics':>8} {'share':>6} | {'CPU other':>9} {'CPU metrics':>11} {'share':>6}")
    for mode in modes:
        for seed in seeds:
            c0 = time.process_time()
            rec = execute_run(
                data, method, partial(SMOTENC, random_state=seed), partial(XGBoost, random_state=seed),
                mode=mode, seed=seed, synthetic_metrics=timed_metrics,
            )
            cpu_other = time.process_time() - c0 - cpu["metrics"]
            m = rec.metrics
            other = m["resample_seconds"] + m["classify_seconds"]
            wall = m["synthetic_metrics_seconds"]
            rows.append((other, wall, cpu_other, cpu["metrics"]))
            print(f"{mode:>10} {seed:>4} {len(rec.synthetic):>6} {m['resample_seconds']:>15.2f} "
                  f"{m['classify_seconds']:>8.2f} {wall:>8.2f} {wall / other:>6.1%} | "
                  f"{cpu_other:>9.2f} {cpu['metrics']:>11.2f} {cpu['metrics'] / cpu_other:>6.1%}")
    med = [statistics.median(r[i] for r in rows) for i in range(4)]
    tot = [sum(r[i] for r in rows) for i in range(4)]
    print(f"median wall: other work {med[0]:.2f}, metrics {med[1]:.2f}, share {med[1] / med[0]:.1%}; "
          f"all runs: {tot[1] / tot[0]:.1%} (target < 10%)")
    print(f"median CPU:  other work {med[2]:.2f}, metrics {med[3]:.2f}, share {med[3] / med[2]:.1%}; "
          f"all runs: {tot[3] / tot[2]:.1%}")


def bench_sweep(dataset: str, seeds: list[int], classifiers: list[str], max_rows: int | None) -> None:
    """The classical part of the paper sweep on one dataset, as the runner does it.

    Every (method, protocol, classifier, seed) of ``conf/experiment/paper_classical.yaml``
    except CTGAN and TVAE (minutes each: they only shrink the share), with the runner's
    resample cache, so that the numbers are those a sweep pays.
    """
    import tempfile

    from baselines import classical
    from imbllm.classifiers import CatBoost, XGBoost
    from imbllm.data import load_dataset
    from imbllm.metrics.synthetic import synthetic_metrics
    from imbllm.runner import execute_run
    from imbllm.runspec import MethodSpec
    from imbllm.store import ResampleStore

    data = load_dataset(dataset)
    methods = {  # name: (sampler class, published_input, train_on)
        "standard": (classical.Standard, "ordinal", "imbalanced"),
        "balance": (classical.Standard, "ordinal", "full_split"),
        "random": (classical.RandomOversampler, "ordinal", "imbalanced"),
        "smote": (classical.SMOTE, "ordinal_as_numeric", "imbalanced"),
        "smote_nc": (classical.SMOTENC, "ordinal", "imbalanced"),
        "adasyn": (classical.ADASYN, "ordinal_as_numeric", "imbalanced"),
    }
    make_clf = {"xgboost": XGBoost, "catboost": CatBoost}
    totals: dict[str, list[float]] = {}
    with tempfile.TemporaryDirectory() as tmp:
        store = ResampleStore(tmp)
        for seed in seeds:
            for name, (cls, published_input, train_on) in methods.items():
                for mode in ("published", "corrected"):
                    for clf in classifiers:
                        kwargs = {} if cls is classical.Standard else {
                            "random_state": seed,
                            "sampling_strategy": "auto" if mode == "published" else "minority"}
                        rec = execute_run(
                            data, MethodSpec(name, published_input=published_input,
                                             train_on=train_on),
                            partial(cls, **kwargs), partial(make_clf[clf], random_state=seed),
                            mode=mode, seed=seed, store=store,
                            sampler_key=f"{name}|{sorted(kwargs.items())}",
                            synthetic_metrics=partial(synthetic_metrics, max_rows=max_rows,
                                                      random_state=seed),
                        )
                        m = rec.metrics
                        t = totals.setdefault(name, [0.0, 0.0, 0])
                        t[0] += m["resample_seconds"] + m["classify_seconds"]
                        t[1] += m["synthetic_metrics_seconds"]
                        t[2] += 1
    print(f"{dataset} sweep ({', '.join(classifiers)}; seeds {seeds}; both protocols), seconds:")
    print(f"{'method':>10} {'runs':>5} {'other work':>11} {'metrics':>8} {'share':>6}")
    for name, (other, metric, n) in totals.items():
        print(f"{name:>10} {n:>5} {other:>11.2f} {metric:>8.2f} {metric / other:>6.1%}")
    other = sum(t[0] for t in totals.values())
    metric = sum(t[1] for t in totals.values())
    print(f"{'all':>10} {sum(t[2] for t in totals.values()):>5} {other:>11.2f} {metric:>8.2f} "
          f"{metric / other:>6.1%} (target < 10%)")


def bench_exact(dataset: str, seed: int, max_rows: int) -> None:
    """The capped values next to the exact ones, and the time each takes."""
    from baselines.classical import SMOTENC
    from imbllm.data import load_dataset
    from imbllm.metrics.synthetic import synthetic_metrics
    from imbllm.protocol import make_split

    data = load_dataset(dataset)
    split = make_split(data.X, data.y, seed=seed)
    sampler = SMOTENC(random_state=seed, categorical_features=list(data.spec.categorical))
    X_res, y_res = sampler.fit_resample(split.X_imb, split.y_imb)
    new = slice(len(split.X_imb), None)
    S = X_res.iloc[new][(y_res.iloc[new] == split.minority).to_numpy()]
    R = split.X_imb[(split.y_imb == split.minority).to_numpy()]
    U = split.X_test[(split.y_test == split.minority).to_numpy()]
    out = {}
    for cap in (max_rows, None):
        t0 = time.perf_counter()
        out[cap] = synthetic_metrics(S, R, U, data.spec.numeric, data.spec.categorical,
                                     max_rows=cap, random_state=seed)
        print(f"max_rows={cap}: {time.perf_counter() - t0:.2f} s (|S|={len(S)}, |R|={len(R)}, "
              f"|U|={len(U)})")
    print(f"{'metric':>18} {'capped':>9} {'exact':>9}")
    for name in out[None]:
        print(f"{name:>18} {out[max_rows][name]:>9.4f} {out[None][name]:>9.4f}")


def from_store(tracking_uri: str | None, dataset: str) -> None:
    """Share of each logged run's time spent on the synthetic metrics, per method."""
    from imbllm.results import load_runs

    runs = load_runs(tracking_uri)
    need = ["resample_seconds", "classify_seconds", "synthetic_metrics_seconds"]
    runs = runs[(runs["dataset"] == dataset) & runs[need].notna().all(axis=1)] \
        if set(need) <= set(runs.columns) else runs.iloc[:0]
    if runs.empty:
        print(f"No logged {dataset} runs with stage timings in the store.")
        return
    g = runs.groupby("method")[need].sum()
    g["share"] = g["synthetic_metrics_seconds"] / (g["resample_seconds"] + g["classify_seconds"])
    print(g.round(3).to_string())
    total = runs[need].sum()
    print(f"all {len(runs)} runs: share "
          f"{total.iloc[2] / (total.iloc[0] + total.iloc[1]):.1%} (target < 10%)")


def main(argv: list[str] | None = None) -> int:
    p = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    p.add_argument("--dataset", default="adult")
    p.add_argument("--seeds", type=int, nargs="*", default=[0, 1, 2])
    p.add_argument("--modes", nargs="*", default=["corrected", "published"])
    p.add_argument("--max-rows", type=int, default=2000)
    p.add_argument("--exact", action="store_true", help="also compare with max_rows=None")
    p.add_argument("--sweep", action="store_true",
                   help="time the classical paper sweep on the dataset instead of SMOTE-NC runs")
    p.add_argument("--classifiers", nargs="*", default=["xgboost"],
                   help="classifiers of --sweep (xgboost, catboost)")
    p.add_argument("--from-store", action="store_true", help="read timings of logged runs")
    p.add_argument("--tracking-uri", default=None)
    args = p.parse_args(argv)
    if args.from_store:
        from_store(args.tracking_uri, args.dataset)
        return 0
    if args.sweep:
        bench_sweep(args.dataset, args.seeds, args.classifiers, args.max_rows)
        return 0
    bench_runs(args.dataset, args.seeds, args.modes, args.max_rows)
    if args.exact:
        bench_exact(args.dataset, args.seeds[0], args.max_rows)
    return 0


if __name__ == "__main__":
    sys.exit(main())
