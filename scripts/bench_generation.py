"""Valid rows per second of the ImbLLM engine, constrained and free, against the published way.

Everything is measured in one run, on one machine, with one model (issue 9, item 4)::

    .venv/bin/python scripts/bench_generation.py                 # 20,000 rows (~15 minutes)
    .venv/bin/python scripts/bench_generation.py --rows 1000 --budget smoke   # a quick run

Workload: ImbLLM (corrected protocol: strict check, constrained decoding) fitted on the
insurance table's seed-0 imbalanced training split with the ``--budget`` preset: the compact
backbone pretrained on the whole split, then fine-tuned on the minority and interpolated rows
(its seconds are the run's language-model cost). Every figure below uses that fitted sampler
and the engine's own prompts, serialiser, parser and strict check.

(a) ceiling: forward-only throughput (tokens/s) on the workload itself: ``--compare-rows`` of
    the engine's prompts, batched and left-padded as ``generate`` batches them, each row's
    prefill and the decode steps that make the constrained rows' mean length (tokens per row,
    the end token included); best of the Hugging Face forward and the direct decoder (one op
    at a time, or one batch per thread as ``generate`` runs them);
(b) constrained: ``sampler.sample(rows)`` in a fresh process, ``--reps`` times, each process
    then measuring (a) on the same model (the most resident memory of any is
    ``peak_rss_mb``); every completion is a valid row. The first process also samples
    ``--reps`` more times with the same seed, the constraint's caches warm (best kept:
    ``ceiling_fraction_warm``); the target is the cold call's, as a run samples once;
(b') free: the same with ``decoding="free"``: sample, check, continue and sample again until
    ``rows`` valid rows (or patience runs out);
(c) naive, as the published code samples (``scripts/published_sampling.py``): ``model.generate``
    on batches of 100 copies of the label prompt, no attention mask, row-by-row pandas parsing;
    valid rows counted by the engine's strict check;
(e) ``constrained_vs_free``: the constraint's own cost, apart from rejection: ``generate`` on
    ``--compare-rows`` of the engine's prompts, constrained, best of ``--reps``, at the speed
    it keeps against the same decoding without the constraint's work (1 minus the share of
    the worker threads' seconds spent on masks and the rows' states: ``mask_seconds`` over
    ``worker_seconds``, both summed over the threads). Free ``generate`` on the
    same prompts runs alternately; its completions/s and tokens/s are printed beside
    (``constrained_vs_free_completions``, ``_tokens``) but compare unequal work: a free
    completion that ends the row early (the model's end token before the last column) is
    shorter, and is then rejected or continued, while a constrained one writes the whole row;
(t) training: each stage's real tokens/s against the same model's forward+backward on dense
    batches (``bench_training.py``); ``train_ceiling_fraction`` is the lower of the two.

``ceiling_fraction`` is (b)'s valid rows/s against (a) turned into rows by the mean completion's
tokens (everything ``sample`` does counts), each (b) paired with the (a) measured right after
it in the same process, the median of ``--reps`` pairs kept (the machine's speed drifts by a
fifth between processes minutes apart, which two figures measured apart turn into the ratio's
error); ``decode_fraction`` is (b)'s generated tokens/s against its (a). The line before the
last says which of issue 23's five targets are met: >= 0.7 of the ceiling, constrained >= 0.8 of free, < 2 GB, >= 10x the naive loop (c) of the same run,
``train_ceiling_fraction`` >= 0.7. ``--backbone <folder>`` runs the same on a Hugging Face
folder (``scripts/make_local_backbone.py`` writes one of distilgpt2's size), e.g.
``--backbone /tmp/distil --budget paper --set epochs=1 --rows 500``; ``--precision bf16`` trains
under bf16 autocast on the CPU (``llm.precision``; decoding stays fp32 there), its training
ceiling too.

``speedup_vs_authors`` compares with the authors' pipeline on this machine class: 474 valid
rows in 4.06 s (117 rows/s; HF ``generate`` in batches of 100, row-by-row parsing).
"""

from __future__ import annotations

import argparse
import logging
import multiprocessing as mp
import os
import resource
import sys
import tempfile
import time
from dataclasses import replace
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

# (a)'s ceiling, (c)'s loop and (t)'s ceiling, from the modules beside this one (running a
# script puts its folder on the path).
from bench_ceiling import ceiling  # noqa: E402
from bench_training import stage_figures  # noqa: E402
from published_sampling import naive  # noqa: E402

from imbllm.data import load_dataset  # noqa: E402
from imbllm.llm.drawer import Drawer  # noqa: E402
from imbllm.llm.methods import ImbLLM  # noqa: E402
from imbllm.llm.model.config import Budget  # noqa: E402
from imbllm.protocol import make_split  # noqa: E402

log = logging.getLogger("bench_generation")
AUTHORS_ROWS_PER_S = 474 / 4.06
#: Issue 23's targets, each a ratio measured in the same run, and the memory bound.
AT_LEAST = {"ceiling_fraction": 0.7, "constrained_vs_free": 0.8, "speedup_vs_naive": 10.0,
            "train_ceiling_fraction": 0.7}
PEAK_RSS_MB_BELOW = 2048


def peak_rss_mb() -> float:
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def engine_prompts(sampler, n: int, seed: int) -> list[str]:
    """``n`` first-round prompts as the engine draws them (label and one feature value)."""
    p = sampler.plan_.prompter
    return p.prompts(p.slots(n), np.random.default_rng(seed))


# -- (b) the engine, in a fresh process ------------------------------------------------------
def _sample_child(path: str, decoding: str, rows: int, seed: int, reps: int, pair: tuple | None,
                  queue) -> None:
    sampler = ImbLLM.load(path)
    if decoding == "free":
        # The fitted sampler decoding freely: no grammar, the gap recorded, not raised.
        plan = sampler.plan_
        settings = replace(plan.settings, decoding="free", on_shortfall="record")
        sampler.plan_ = replace(plan, grammar=None, settings=settings)
        budget = sampler.budget_
        sampler.drawer_ = Drawer(sampler.plan_, sampler.lm_, gen_batch_size=budget.gen_batch_size,
                                 max_new_tokens=budget.max_new_tokens, progress=False)
    start, cpu = time.perf_counter(), time.process_time()
    X_new, _ = sampler.sample(rows, random_state=seed)
    seconds, cpu = time.perf_counter() - start, time.process_time() - cpu
    s = sampler.last_sample_stats_
    # Again with the same seed (the same rows), the constraint's caches warm: best of ``reps``.
    warm = float("inf")
    for _ in range(reps):
        t0 = time.perf_counter()
        sampler.sample(rows, random_state=seed)
        warm = min(warm, time.perf_counter() - t0)
    top = float("nan")
    if pair is not None:
        # (a) in the same process right after: the pair's ratio is taken seconds apart.
        n_prompts, a_reps = pair
        per_row = max(1, round(s["generated_tokens"] / s["n_completions"]))
        budget = sampler.budget_
        top = max(ceiling(sampler.lm_, engine_prompts(sampler, n_prompts, seed),
                          budget.gen_batch_size, per_row, a_reps).values())
    queue.put(
        {
            "ceiling": top,
            "valid": len(X_new),
            "completions": s["n_completions"],
            "continuations": s["n_continuations"],
            "seconds": seconds,
            "warm_seconds": warm,
            "cpu_seconds": cpu,
            "tokens_per_second": s["tokens_per_second"],
            "tokens": s["generated_tokens"],
            "masked_mass": s.get("masked_mass", float("nan")),
            "mask_us_per_token": s.get("mask_us_per_token", float("nan")),
            "peak_rss_mb": peak_rss_mb(),
        }
    )


def sample_in_child(path: Path, decoding: str, rows: int, seed: int, reps: int = 0,
                    pair: tuple | None = None) -> dict:
    ctx = mp.get_context("spawn")
    queue = ctx.Queue()
    child = ctx.Process(target=_sample_child,
                        args=(str(path), decoding, rows, seed, reps, pair, queue))
    child.start()
    result = queue.get()
    child.join()
    return result


# -- (e) the masks' cost ------------------------------------------------------------------------
def compare(sampler, prompts: list[str], batch: int, reps: int, seed: int) -> dict:
    """Free and constrained ``generate`` on the same prompts, alternating, best of ``reps``
    (after one constrained call that warms the masks, as the engine's first round does)."""
    from imbllm.llm.decoding import completion_budget

    lm, grammar = sampler.lm_, sampler.drawer_.constraint  # bound to the model's tokenizer
    free_tokens = sampler.drawer_.max_new_tokens
    bound = completion_budget(grammar, prompts, free_tokens)
    kw = dict(temperature=0.7, top_k=50, batch_size=batch, seed=seed, progress=False)

    def timed(constraint, max_new):
        t0 = time.perf_counter()
        g = lm.generate(prompts, max_new_tokens=max_new, constraint=constraint, **kw)
        return time.perf_counter() - t0, g.stats

    cold, _ = timed(grammar, bound)
    free = constrained = float("inf")
    for _ in range(reps):
        # The same seed draws the same tokens each time: only the seconds change.
        seconds, free_stats = timed(None, free_tokens)
        free = min(free, seconds)
        seconds, stats = timed(grammar, bound)
        if seconds < constrained:
            # Both summed over the worker threads: the share of the threads' time.
            constrained, share = seconds, stats["mask_seconds"] / stats["worker_seconds"]
    n = len(prompts)
    return {"free": n / free, "constrained": n / constrained, "cold": n / cold,
            "free_tokens_per_s": free_stats["generated_tokens"] / free,
            "constrained_tokens_per_s": stats["generated_tokens"] / constrained,
            "constraint_share": share}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=20000, help="rows asked of (b), (b'), (c)")
    ap.add_argument("--compare-rows", type=int, default=2000, help="prompts of (e)")
    ap.add_argument("--reps", type=int, default=3, help="timings of (a) and (e), best kept")
    ap.add_argument("--budget", default="compact", help="conf/budget preset of the fit")
    ap.add_argument("--cache-dir", help="model cache (a hit reports no language-model cost)")
    ap.add_argument("--backbone", default="compact",
                    help="llm.name_or_path: 'compact', or a Hugging Face folder (such as the one "
                    "scripts/make_local_backbone.py writes)")
    ap.add_argument("--set", action="append", default=[], metavar="FIELD=VALUE",
                    help="a budget field over the preset (e.g. epochs=2), repeatable")
    ap.add_argument("--precision", default="auto", choices=("auto", "bf16", "fp32"),
                    help="llm.precision: 'bf16' trains under bf16 autocast on the CPU too (the "
                    "training ceiling as well)")
    ap.add_argument("--seed", type=int, default=0)
    args = ap.parse_args(argv)
    logging.basicConfig(level=logging.WARNING, format="%(message)s")
    budget = yaml.safe_load((ROOT / "conf" / "budget" / f"{args.budget}.yaml").read_text())
    budget.update({k: yaml.safe_load(v) for k, v in (kv.split("=", 1) for kv in args.set)})
    budget = Budget(**{k: v for k, v in budget.items() if k != "name"})
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"OMP_NUM_THREADS={os.environ.get('OMP_NUM_THREADS', 'unset')}, "
        f"load {os.getloadavg()[0]:.2f}"
    )
    ds = load_dataset("insurance")
    split = make_split(ds.X, ds.y, seed=args.seed)
    sampler = ImbLLM(llm=args.backbone, llm_config={"precision": args.precision}, budget=budget,
                     cache_dir=args.cache_dir, progress=False,
                     random_state=args.seed)
    sampler.fit_resample(split.X_imb, split.y_imb)
    t = sampler.telemetry()
    lm_seconds = t.get("pretrain_seconds", 0.0) + t.get("lm_fit_seconds", 0.0)
    print(
        f"fit ({args.budget}, {len(split.X_imb)} rows, {t['n_requested']} asked): pretraining "
        f"{t.get('pretrain_seconds', 0.0):.0f} s, fine-tuning {t.get('lm_fit_seconds', 0.0):.0f} "
        f"s, cache hit {bool(t['cache_hit'])}; {t['n_generated']} rows made, "
        f"masked_mass {t.get('masked_mass', float('nan')):.4f}"
    )
    train = stage_figures(sampler.lm_, t, budget.batch_size, args.reps)
    for stage, r in train.items():
        print(f"(t) {stage}: {r['tokens_per_s']:.0f} real tokens/s against a forward+backward "
              f"ceiling of {r['ceiling']:.0f} (batch {budget.batch_size} x {r['length']} tokens) "
              f"= {r['fraction']:.2f}")
    with tempfile.TemporaryDirectory() as tmp:
        sampler.save(tmp)
        # A fresh process each time (cold, as a run samples once), each followed by (a) in the
        # same process: this machine's speed moves ~20% between processes minutes apart, so
        # each ratio is of a pair measured together and the median pair is kept.
        pair = (args.compare_rows, args.reps)
        cold = [sample_in_child(Path(tmp), "constrained", args.rows, args.seed,
                                args.reps if i == 0 else 0, pair)
                for i in range(max(1, args.reps))]
        for r in cold:
            per_row = r["tokens"] / r["completions"]
            r["fraction"] = r["valid"] / r["seconds"] * per_row / r["ceiling"]
        b = sorted(cold, key=lambda r: r["fraction"])[(len(cold) - 1) // 2]
        b = {**b, "peak_rss_mb": max(r["peak_rss_mb"] for r in cold)}
        w = cold[0]  # the process that also sampled warm
        print("(a)+(b) constrained, cold, each in a fresh process with its ceiling after it: "
              + ", ".join(f"{r['valid'] / r['seconds']:.0f} valid rows/s against "
                          f"{r['ceiling']:.0f} tok/s = {r['fraction']:.2f}" for r in cold)
              + f"; median pair kept ({b['fraction']:.2f})")
        f = sample_in_child(Path(tmp), "free", args.rows, args.seed)
    for name, r in (("(b) constrained", b), ("(b') free + strict", f)):
        print(
            f"{name}: {r['valid']} valid of {args.rows} asked in {r['seconds']:.1f} s "
            f"({r['cpu_seconds']:.1f} CPU s) = {r['valid'] / r['seconds']:.0f} valid rows/s; "
            f"{r['completions']} completions ({r['continuations']} columns continued), "
            f"{r['tokens_per_second']:.0f} tok/s, masked_mass {r['masked_mass']:.4f}, "
            f"masks {r['mask_us_per_token']:.0f} us/token, "
            f"peak RSS {r['peak_rss_mb']:.0f} MB"
            + (f"; warm, best of {args.reps} in the first process: "
               f"{r['valid'] / w['warm_seconds']:.0f} valid rows/s"
               if w["warm_seconds"] < float("inf") and r is b else "")
        )
    per_row = b["tokens"] / b["completions"]  # the workload's tokens per row (end token too)
    prompts = engine_prompts(sampler, args.compare_rows, args.seed)
    a = ceiling(sampler.lm_, prompts, budget.gen_batch_size, max(1, round(per_row)), args.reps)
    print(f"(a) ceiling in this process, by decoder, {len(prompts)} of the engine's prompts in "
          f"batches of {budget.gen_batch_size}, {max(1, round(per_row))} tokens a row: "
          + ", ".join(f"{k} {v:.0f} tok/s" for k, v in a.items()))
    c = naive(sampler, args.rows, args.seed)
    print(
        f"(c) naive: {c['rows']} rows in {c['seconds']:.1f} s ({c['cpu_seconds']:.1f} CPU s), "
        f"{c['valid']} valid = {c['valid'] / c['seconds']:.0f} valid rows/s"
    )
    e = compare(sampler, prompts, budget.gen_batch_size, args.reps, args.seed)
    print(
        f"(e) generate, {args.compare_rows} prompts: free {e['free']:.0f} completions/s "
        f"({e['free_tokens_per_s']:.0f} tok/s), constrained {e['constrained']:.0f} completions/s "
        f"({e['constrained_tokens_per_s']:.0f} tok/s; cold {e['cold']:.0f} completions/s), "
        f"{e['constraint_share']:.1%} of its seconds on the constraint; "
        f"load {os.getloadavg()[0]:.2f}"
    )
    valid_per_s = b["valid"] / b["seconds"]
    naive_per_s = c["valid"] / c["seconds"]
    free_per_s = f["valid"] / f["seconds"]
    # The ceiling in rows: its tokens/s over the workload's tokens per row (mean completion).
    fraction = b["fraction"]  # the median pair's, its ceiling measured beside it
    warm_fraction = (w["valid"] / w["warm_seconds"] * per_row / w["ceiling"]
                     if w["warm_seconds"] < float("inf") else float("nan"))  # --reps 0: none
    figures = {
        "ceiling_fraction": fraction,
        "constrained_vs_free": 1.0 - e["constraint_share"],
        "peak_rss_mb": b["peak_rss_mb"],
        "speedup_vs_naive": valid_per_s / naive_per_s if naive_per_s else float("inf"),
        "train_ceiling_fraction": min((r["fraction"] for r in train.values()), default=float("nan")),
    }
    met = {k: figures[k] >= least for k, least in AT_LEAST.items()}
    met["peak_rss_mb"] = figures["peak_rss_mb"] < PEAK_RSS_MB_BELOW
    print("targets: " + ", ".join(f"{k} {'met' if v else 'NOT met'}" for k, v in met.items()))
    print(
        f"valid_rows_per_s={valid_per_s:.0f} "
        f"speedup_vs_authors={valid_per_s / AUTHORS_ROWS_PER_S:.2f} "
        f"speedup_vs_naive={figures['speedup_vs_naive']:.2f} "
        f"free_valid_rows_per_s={free_per_s:.0f} "
        f"ceiling_fraction={fraction:.2f} "
        f"ceiling_fraction_warm={warm_fraction:.2f} "
        f"decode_fraction={b['tokens_per_second'] / b['ceiling']:.2f} "
        f"constrained_vs_free={figures['constrained_vs_free']:.2f} "
        f"constrained_vs_free_completions={e['constrained'] / e['free']:.2f} "
        f"constrained_vs_free_tokens={e['constrained_tokens_per_s'] / e['free_tokens_per_s']:.2f} "
        f"constrained_vs_free_valid_rows={valid_per_s / free_per_s if free_per_s else float('inf'):.2f} "
        f"peak_rss_mb={b['peak_rss_mb']:.0f} "
        + " ".join(f"train_ceiling_fraction_{k}={r['fraction']:.2f}" for k, r in train.items())
        + f" train_ceiling_fraction={figures['train_ceiling_fraction']:.2f} "
        f"lm_seconds={lm_seconds:.0f}"
    )


if __name__ == "__main__":
    main()
