"""``ImbLLM()`` with no arguments on a user's wide table and on a long, highly imbalanced one.

    .venv/bin/python scripts/bench_defaults.py              # both tables (up to an hour)
    .venv/bin/python scripts/bench_defaults.py --table rare

The tables are :func:`imbllm.testing.wide_table` (6,000 rows, 85 columns, 6% minority) and
:func:`imbllm.testing.rare_table` (10,000 rows, 4 columns, one minority row in 30). The target
(issue 23): each ends within 30 minutes on a 2-core CPU with every row valid, by the token caps
``ImbLLM()`` trains with when given no budget (:data:`imbllm.llm.model.config.TABLE_FITTED`).
Prints one line per table: seconds (pretraining, fine-tuning, sampling), epochs and rows per
epoch each stage ran, training tokens/s, rows asked and valid.
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imbllm.llm.methods import ImbLLM  # noqa: E402
from imbllm.testing import rare_table, wide_table  # noqa: E402

TABLES = {"wide": wide_table, "rare": rare_table}
TARGET_S = 30 * 60


def run(name: str, seed: int, progress: bool) -> dict:
    X, y = TABLES[name]()
    sampler = ImbLLM(random_state=seed, progress=progress)
    start = time.perf_counter()
    X_res, _ = sampler.fit_resample(X, y)
    seconds = time.perf_counter() - start
    t = sampler.telemetry()
    return {"table": name, "shape": X.shape, "seconds": seconds, **t,
            "valid": sampler.n_generated_, "asked": sampler.n_requested_}


def main(argv=None) -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--table", choices=[*TABLES, "both"], default="both")
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--no-progress", action="store_true")
    args = ap.parse_args(argv)
    print(f"{os.cpu_count()} CPUs, load {os.getloadavg()[0]:.2f}", flush=True)
    for name in TABLES if args.table == "both" else [args.table]:
        r = run(name, args.seed, not args.no_progress)
        print(
            f"{name} {r['shape'][0]}x{r['shape'][1]}: {r['seconds']:.0f} s "
            f"(pretraining {r.get('pretrain_seconds', 0):.0f} s, {r.get('pretrain_epochs_run', 0):.0f} "
            f"epochs; fine-tuning {r.get('lm_fit_seconds', 0):.0f} s, {r.get('lm_epochs', 0):.0f} "
            f"epochs of {r.get('lm_rows_per_epoch', 0):.0f} rows at "
            f"{r.get('train_tokens_per_second', 0):.0f} tokens/s; sampling "
            f"{r.get('sample_seconds', 0):.0f} s); {r['valid']} valid of {r['asked']} asked; "
            f"within_30_min={r['seconds'] <= TARGET_S} every_row_valid={r['valid'] == r['asked']}; "
            f"load {os.getloadavg()[0]:.2f}",
            flush=True,
        )


if __name__ == "__main__":
    main()
