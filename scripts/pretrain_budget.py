"""Rows made and validation F1 of ImbLLM with and without pretraining (issue 9's budget check).

    OMP_NUM_THREADS=1 python scripts/pretrain_budget.py --datasets german fuel --seed 0

The run's training split (seed, corrected protocol) is split again: 20% of it (stratified) is
the validation part, the rest is cut to the imbalanced set and oversampled, exactly as a
benchmark run does with the test split. The test split is never read. Budgets come from
``conf/llm/compact.yaml`` and ``conf/budget/<budget>.yaml``; ``--set key=value`` changes a
budget field (``--set pretrain_epochs=10``); ``--decoding free`` samples without the schema
constraint (the default: constrained, as the corrected protocol runs). One line per (dataset,
pretrain) with rows made, the share of completions that were valid rows, validation minority F1
and the synthetic-data metrics against the validation minority (``dum``, ``unique_ratio``), and
a last line per dataset comparing the two.
"""

from __future__ import annotations

import argparse
import logging
import tempfile
import time
from pathlib import Path

import yaml

from imbllm.classifiers import XGBoost
from imbllm.data import load_dataset
from imbllm.data.loader import Dataset
from imbllm.llm.methods import ImbLLM
from imbllm.metrics.synthetic import synthetic_metrics
from imbllm.protocol import make_split
from imbllm.runner import MethodSpec, execute_run

ROOT = Path(__file__).resolve().parents[1]


def _yaml(group: str, name: str) -> dict:
    return yaml.safe_load((ROOT / "conf" / group / f"{name}.yaml").read_text())


def validation_run(dataset, seed: int, llm: dict, budget: dict, cache_dir: str,
                   decoding: str = "constrained") -> dict:
    """One ImbLLM run whose 'test' split is the validation part of the training split."""
    outer = make_split(dataset.X, dataset.y, seed=seed)
    inner = Dataset(dataset.spec, outer.X_train, outer.y_train, "train-split", "", "")

    def sampler(**column_roles):  # the runner says which columns are categorical
        return ImbLLM(llm=llm, budget=budget, cache_dir=cache_dir, on_shortfall="record",
                      decoding=decoding, progress=False, random_state=seed, **column_roles)

    def scores(S, R, U, numeric, categorical):
        return synthetic_metrics(S, R, U, numeric, categorical, random_state=seed)

    start = time.perf_counter()
    record = execute_run(inner, MethodSpec("imbllm", family="llm"), sampler,
                         lambda: XGBoost(random_state=seed), mode="corrected", seed=seed,
                         synthetic_metrics=scores)
    m = record.metrics
    return {
        "rows": f"{int(m['n_generated'])}/{int(m['n_requested'])}",
        "valid_share": m["n_valid"] / max(1.0, m.get("n_completions", 0.0)),
        "val_f1_minority": m["f1_minority"],
        "val_dum": m["dum"],
        "unique_ratio": m["unique_ratio"],
        "pretrain_s": m.get("pretrain_seconds", 0.0),
        "finetune_s": m.get("lm_fit_seconds", 0.0),
        "run_s": time.perf_counter() - start,
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--datasets", nargs="+", default=["german", "fuel"])
    parser.add_argument("--seed", type=int, default=0)
    parser.add_argument("--budget", default="compact")
    parser.add_argument("--set", nargs="*", default=[], help="budget field=value")
    parser.add_argument("--cache-dir", default=None, help="model cache (default: a temp dir)")
    parser.add_argument("--decoding", default="constrained", choices=("constrained", "free"))
    args = parser.parse_args()
    logging.basicConfig(level=logging.WARNING)
    budget = _yaml("budget", args.budget)
    for item in args.set:
        key, value = item.split("=", 1)
        budget[key] = yaml.safe_load(value)
    cache_dir = args.cache_dir or tempfile.mkdtemp(prefix="pretrain-budget-")
    for name in args.datasets:
        dataset = load_dataset(name)
        out = {}
        for mode in ("none", "table"):
            llm = {**_yaml("llm", "compact"), "pretrain": mode}
            out[mode] = validation_run(dataset, args.seed, llm, budget, cache_dir, args.decoding)
            print(name, f"pretrain={mode}",
                  " ".join(f"{k}={v:.4g}" if isinstance(v, float) else f"{k}={v}"
                           for k, v in out[mode].items()), flush=True)
        print(name, "val_f1_minority", f"{out['none']['val_f1_minority']:.4f}", "->",
              f"{out['table']['val_f1_minority']:.4f}", "val_dum",
              f"{out['none']['val_dum']:.4f}", "->", f"{out['table']['val_dum']:.4f}", "rows",
              out["none"]["rows"], "->", out["table"]["rows"], flush=True)


if __name__ == "__main__":
    main()
