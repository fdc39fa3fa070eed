"""Completions per second with schema-constrained decoding against free decoding, same model.

    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_constrained.py            # ~2 minutes
    OMP_NUM_THREADS=1 .venv/bin/python scripts/bench_constrained.py --rows 500 --model-steps 200

Workload: the insurance table's seed-0 imbalanced training split, written by the engine's codec
with the label first (``"charges is high, <f> is <v>, ..."``, features in a fresh order each
epoch); a compact backbone fine-tuned on its minority rows with the ``compact`` budget; prompts
``"charges is high,"`` in batches of 100. Both decodings use ``max_new_tokens`` from the longest
training row (as the engine does; constrained decoding raises it to the fewest tokens that let
every row end, if need be). Valid rows pass the engine's parser and strict check. The first constrained call builds the masks (``cold``); later
calls reuse them, as the engine's sampling rounds do. Best of ``--reps`` alternating runs, in
wall-clock and in process CPU seconds (steadier on a shared machine). The last line is
``free_rows_per_s=<f> constrained_rows_per_s=<c> constrained_vs_free=<c/f> masked_mass=<m>``.
:func:`compare` is the measurement, for other benches to call.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

import numpy as np
import torch
import yaml

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from imbllm.data import load_dataset  # noqa: E402
from imbllm.llm.backbone import Budget, LanguageModel, LLMConfig  # noqa: E402
from imbllm.llm.constrain import RowGrammar, for_model  # noqa: E402
from imbllm.llm.repair import check_rows  # noqa: E402
from imbllm.llm.serialize import join_pieces  # noqa: E402
from imbllm.protocol import make_split  # noqa: E402

TARGET = "charges"


def n_valid(codec, schema, prompts, completions) -> int:
    """Completions that pass the engine's parser and strict check."""
    cells = codec.parse([p + c for p, c in zip(prompts, completions, strict=True)])
    return int(check_rows(cells, codec, schema, "strict").keep.sum())


def compare(lm, grammar, codec, schema, prompts, free_tokens, batch=100, reps=3, seed=0) -> dict:
    """Free and constrained ``generate`` on the same prompts, alternating, best of ``reps``
    (after one constrained call that builds the masks, reported as ``cold``)."""
    # The free length serves constrained decoding too, raised to the fewest tokens that let
    # every row end (rows short of tokens then take only tokens that still let them end).
    low = for_model(grammar, lm).min_new_tokens(prompts)
    bound = max(free_tokens, low)
    kw = dict(temperature=0.7, top_k=50, batch_size=batch, seed=seed, progress=False)

    def timed(constraint, max_new):
        # CPU seconds too: on a shared machine they show what wall-clock contention hides.
        t0, c0 = time.perf_counter(), time.process_time()
        out = lm.generate(prompts, max_new_tokens=max_new, constraint=constraint, **kw)
        wall, cpu = time.perf_counter() - t0, time.process_time() - c0
        return wall, out, dict(lm.last_generate_stats_), cpu

    cold = timed(grammar, bound)
    free, cons = [], []
    for _ in range(reps):
        free.append(timed(None, free_tokens))
        cons.append(timed(grammar, bound))
    f, c = min(free, key=lambda r: r[0]), min(cons, key=lambda r: r[0])
    n = len(prompts)
    return {
        "rows": n,
        "free_rows_per_s": n / f[0],
        "constrained_rows_per_s": n / c[0],
        "free_rows_per_cpu_s": n / min(r[3] for r in free),
        "constrained_rows_per_cpu_s": n / min(r[3] for r in cons),
        "constrained_cold_rows_per_s": n / cold[0],
        "free_valid": n_valid(codec, schema, prompts, f[1]),
        "constrained_valid": n_valid(codec, schema, prompts, c[1]),
        "masked_mass": c[2]["masked_mass"],
        "mask_seconds": c[2]["mask_seconds"],
        "free_tokens_per_row": f[2]["generated_tokens"] / n,
        "constrained_tokens_per_row": c[2]["generated_tokens"] / n,
        "free_max_new_tokens": free_tokens,
        "constrained_max_new_tokens": bound,
        "constrained_min_new_tokens": low,
        "n_cut": c[2]["n_cut"],
    }


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--rows", type=int, default=2000)
    ap.add_argument("--batch", type=int, default=100)
    ap.add_argument("--model-steps", type=int, default=600, help="optimizer steps of the model")
    ap.add_argument("--reps", type=int, default=3)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--model-dir", type=Path, help="reuse the model saved there (else train, save)")
    args = ap.parse_args(argv)
    print(
        f"torch {torch.__version__}, {torch.get_num_threads()} threads, "
        f"load {os.getloadavg()[0]:.2f}"
    )

    ds = load_dataset("insurance")
    split = make_split(ds.X, ds.y, seed=args.seed)
    X, y = split.X_imb.reset_index(drop=True), split.y_imb.rename(TARGET).reset_index(drop=True)
    grammar, codec, schema = RowGrammar.from_frame(X, y)
    minority = y == split.minority
    pieces = codec.pieces(X[minority], y[minority])  # features, then the label

    def texts(epoch: int) -> list[str]:
        rng = np.random.default_rng([args.seed, epoch])
        d = pieces.shape[1] - 1
        order = np.hstack(
            [np.full((len(pieces), 1), d), np.argsort(rng.random((len(pieces), d)), 1)]
        )
        return join_pieces(pieces, order)

    if args.model_dir and args.model_dir.is_dir():
        lm = LanguageModel.load(args.model_dir)
        print(f"model: loaded from {args.model_dir}")
    else:
        budget = Budget.from_dict(yaml.safe_load((ROOT / "conf/budget/compact.yaml").read_text()))
        budget.epochs = -(-args.model_steps // -(-len(pieces) // budget.batch_size))
        lm = LanguageModel.build(LLMConfig(), texts(0), seed=args.seed)
        t0 = time.perf_counter()
        lm.finetune(texts, budget, seed=args.seed, progress=False)
        print(
            f"model: {len(pieces)} minority rows, {budget.epochs} epochs in "
            f"{time.perf_counter() - t0:.1f} s, longest row {lm.max_text_tokens_} tokens"
        )
        if args.model_dir:
            lm.save(args.model_dir)

    prompts = [codec.piece(TARGET, split.minority) + ","] * args.rows
    r = compare(
        lm,
        grammar,
        codec,
        schema,
        prompts,
        lm.max_text_tokens_ + 8,
        args.batch,
        args.reps,
        args.seed,
    )
    print(
        f"free: {r['free_rows_per_s']:.0f} rows/s, {r['free_valid']}/{r['rows']} valid, "
        f"{r['free_tokens_per_row']:.1f} tokens/row (max_new_tokens {r['free_max_new_tokens']})"
    )
    print(
        f"constrained: {r['constrained_rows_per_s']:.0f} rows/s (cold "
        f"{r['constrained_cold_rows_per_s']:.0f}), {r['constrained_valid']}/{r['rows']} valid, "
        f"{r['constrained_tokens_per_row']:.1f} tokens/row (max_new_tokens "
        f"{r['constrained_max_new_tokens']}, at least {r['constrained_min_new_tokens']}; "
        f"{r['n_cut']} cut), mask time {r['mask_seconds']:.2f} s"
    )
    cpu_ratio = r["constrained_rows_per_cpu_s"] / r["free_rows_per_cpu_s"]
    print(
        f"per CPU second: free {r['free_rows_per_cpu_s']:.0f} rows, constrained "
        f"{r['constrained_rows_per_cpu_s']:.0f} rows, ratio {cpu_ratio:.2f}; "
        f"load {os.getloadavg()[0]:.2f}"
    )
    print(
        f"free_rows_per_s={r['free_rows_per_s']:.0f} "
        f"constrained_rows_per_s={r['constrained_rows_per_s']:.0f} "
        f"constrained_vs_free={r['constrained_rows_per_s'] / r['free_rows_per_s']:.2f} "
        f"masked_mass={r['masked_mass']:.4f}"
    )


if __name__ == "__main__":
    main()
