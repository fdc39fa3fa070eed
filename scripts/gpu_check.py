"""Speed of the paper's backbone size on a lent GPU machine and on its CPU: one JSON.

    scripts/gpu_check.sh                     # builds the 82M folder, writes gpu_check.json
    scripts/gpu_check.sh --dry-run --out x.json   # a tiny model: one CPU step, one sample

Calls the engine directly (:class:`imbllm.llm.methods.ImbLLM`, constrained decoding; no
tracking store, no classifier, no command line) on a seeded insurance-like table made here,
so the machine needs no data mirror. Per device (CUDA in bf16 autocast when present, then the
CPU in fp32): fine-tuning's non-pad tokens per second, valid rows per second of sampling,
rows requested and made, and on CUDA the peak memory PyTorch allocated. ``--dry-run`` runs one
training step and one constrained sample of a tiny compact model on the CPU and writes the
same keys (``cuda`` null). GPU figures are measured here, never in tests or CI.
"""

from __future__ import annotations

import argparse
import json
import logging
import platform
import time
from pathlib import Path

import numpy as np
import pandas as pd

#: Table sizes (majority, minority rows: the engine makes the difference) and training rows
#: per epoch, per run. CUDA's warm-up run pays for the first kernels and allocations.
SIZES = {
    "cuda_warmup": (96, 64, 32),
    "cuda": (1500, 500, 2048),
    "cpu": (150, 50, 128),
    "dry_run": (24, 8, 8),
}
TINY = {"n_layer": 1, "n_embd": 32, "n_head": 2, "vocab_size": 400, "pretrain": "none"}


def table(n_major: int, n_minor: int, seed: int = 0) -> tuple[pd.DataFrame, pd.Series]:
    """An insurance-like table (6 features, 2 classes), drawn from ``seed``."""
    rng = np.random.default_rng(seed)
    n = n_major + n_minor
    X = pd.DataFrame({
        "age": rng.integers(18, 65, n),
        "sex": rng.choice(["female", "male"], n),
        "bmi": np.round(rng.normal(30.0, 6.0, n).clip(15.0, 53.0), 2),
        "children": rng.integers(0, 6, n),
        "smoker": rng.choice(["yes", "no"], n, p=[0.2, 0.8]),
        "region": rng.choice(["northeast", "northwest", "southeast", "southwest"], n),
    })
    y = pd.Series(["low"] * n_major + ["high"] * n_minor, name="charges")
    return X, y


def measure(llm: dict, size: str, batch_size: int) -> dict:
    """Fit ImbLLM on ``llm`` (one epoch) and return its speed figures."""
    import torch

    from imbllm.llm.methods import ImbLLM

    n_major, n_minor, rows = SIZES[size]
    X, y = table(n_major, n_minor)
    cuda = str(llm["device"]).startswith("cuda")
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    budget = {"epochs": 1, "batch_size": batch_size, "learning_rate": 5e-5, "gen_batch_size": 100,
              "max_rows_per_epoch": rows}
    sampler = ImbLLM(llm=llm, budget=budget, decoding="constrained", repair="strict",
                     progress=False, random_state=0)
    sampler.fit_resample(X, y)
    extra = sampler.telemetry_extra_
    seconds = sampler.sample_seconds_
    return {
        "device": str(llm["device"]),
        "dtype": "bf16 autocast" if cuda else "fp32",
        "cpu_threads": torch.get_num_threads(),
        "train_rows": rows,
        "train_tokens": int(extra["train_tokens"]),
        "train_tokens_per_s": float(extra["train_tokens_per_second"]),
        "fit_seconds": float(sampler.fit_seconds_),
        "rows_requested": int(sampler.n_requested_),
        "valid_rows": int(sampler.n_generated_),
        "sample_seconds": float(seconds),
        "valid_rows_per_s": sampler.n_generated_ / seconds if seconds > 0 else None,
        "peak_gpu_mb": torch.cuda.max_memory_allocated() / 2**20 if cuda else None,
    }


def run(backbone: Path | None, dry_run: bool) -> dict:
    import torch
    import transformers

    t0 = time.perf_counter()
    torch.manual_seed(0)
    if dry_run:
        llm = {**TINY, "device": "cpu"}
        backbone_info = {"name_or_path": "compact", **TINY}
        cuda, cpu = None, measure(llm, "dry_run", batch_size=8)
    else:
        if backbone is None:
            raise SystemExit("--backbone FOLDER is needed without --dry-run "
                             "(scripts/make_local_backbone.py FOLDER makes one).")
        made = backbone / "imbllm_backbone.json"
        backbone_info = {"name_or_path": str(backbone),
                         **(json.loads(made.read_text()) if made.is_file() else {})}
        llm = {"name_or_path": str(backbone), "device": "cuda"}
        cuda = None
        if torch.cuda.is_available():
            measure(llm, "cuda_warmup", batch_size=32)
            cuda = measure(llm, "cuda", batch_size=32)
        cpu = measure({**llm, "device": "cpu"}, "cpu", batch_size=32)
    return {
        "dry_run": dry_run,
        "backbone": backbone_info,
        "gpu": torch.cuda.get_device_name(0) if torch.cuda.is_available() else None,
        "torch": torch.__version__,
        "transformers": transformers.__version__,
        "python": platform.python_version(),
        "cuda": cuda,
        "cpu": cpu,
        "seconds": time.perf_counter() - t0,
    }


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--backbone", type=Path, help="the 82M folder (make_local_backbone.py)")
    parser.add_argument("--dry-run", action="store_true",
                        help="a tiny model on the CPU: one training step, one constrained sample")
    parser.add_argument("--out", type=Path, default=Path("gpu_check.json"), help="JSON to write")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    result = run(args.backbone, args.dry_run)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    args.out.write_text(json.dumps(result, indent=2) + "\n")
    logging.getLogger("gpu_check").warning("wrote %s", args.out)


if __name__ == "__main__":
    main()
