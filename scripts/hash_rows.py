"""sha256 of the rows the LLM engine makes, to show that a refactor leaves them unchanged.

    OMP_NUM_THREADS=1 python scripts/hash_rows.py > before.txt   # on the old code
    OMP_NUM_THREADS=1 python scripts/hash_rows.py > after.txt    # on the new code
    diff before.txt after.txt                                    # empty: the same rows

Fits ImbLLM, GReaT, TapTap, Pred-LLM and one ablation (ImbLLM prompted with the label only)
on two small benchmark tables (fuel and german, subsampled), under constrained decoding
(strict check) and free decoding (published repair), with a tiny compact backbone (pretrained on the table, then fine-tuned) and a few
epochs: the rows are poor but fully determined by the seed on a CPU. One line per fit: the
rows made and the sha256 of ``fit_resample``'s output (both frames, their dtypes and index), and of the rows
``sample(5, random_state=1)`` draws after ``save`` and ``load``. ``--keep DIR`` writes the
saved samplers there; ``--old DIR`` loads those an earlier run kept (for instance before a
move of modules) and adds the hash of their rows, which must equal the save/load column.
About three minutes on one CPU thread.
"""

from __future__ import annotations

import argparse
import hashlib
import logging
import tempfile
import warnings
from pathlib import Path

import pandas as pd

from baselines.llm import GReaT, PredLLM, TapTap
from imbllm.data import load_dataset
from imbllm.llm.methods import ImbLLM

TABLES = {"fuel": 120, "german": 100}
METHODS = {
    "imbllm": (ImbLLM, {}),
    "great": (GReaT, {}),
    "taptap": (TapTap, {}),
    "pred_llm": (PredLLM, {}),
    "imbllm_no_feature_prompt": (ImbLLM, {"prompt": "label"}),
}
#: The two protocols' pairings: constrained decoding with the strict check, free decoding with
#: the published repair (with a model this small, free rows under the strict check are all
#: invalid, which would hash nothing).
DECODINGS = {"constrained": "strict", "free": "published"}
TINY = {
    "llm_config": {"n_layer": 1, "n_embd": 32, "n_head": 2, "vocab_size": 400},
    "budget": {
        "epochs": 8, "batch_size": 16, "learning_rate": 3e-3, "gen_batch_size": 32,
        "pretrain_epochs": 4, "pretrain_max_rows_per_epoch": 64,
    },
    "on_shortfall": "record",
    "progress": False,
    "random_state": 0,
}


def digest(X: pd.DataFrame, y: pd.Series) -> str:
    """sha256 of the rows, their labels, dtypes and index: equal digests, equal outputs."""
    h = hashlib.sha256()
    for part in (X.to_csv(), repr(X.dtypes.to_dict()), y.to_csv(), repr(y.dtype)):
        h.update(part.encode() + b"\0")
    return h.hexdigest()[:16]


def small_table(name: str, n: int) -> tuple[pd.DataFrame, pd.Series]:
    """The first ``n`` rows of each class share of the table, the minority kept a minority."""
    ds = load_dataset(name)
    y = ds.y.reset_index(drop=True)
    counts = y.value_counts()
    keep = []
    for cls, count in counts.items():
        share = max(8, round(n * count / len(y)))
        keep += y.index[y == cls][:share].tolist()
    keep.sort()
    return ds.X.iloc[keep].reset_index(drop=True), y.iloc[keep].reset_index(drop=True)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--keep", type=Path, help="write the saved samplers under this folder")
    parser.add_argument("--old", type=Path, help="also load the samplers kept by an earlier run")
    args = parser.parse_args()
    logging.disable(logging.WARNING)
    warnings.simplefilter("ignore")
    header = ["method", "table", "decoding", "rows", "fit_resample", "save/load"]
    if args.old:
        header.append("old save")
    print(" ".join(f"{h:<24}" if i == 0 else f"{h:<16}" for i, h in enumerate(header)).rstrip())
    for table, n in TABLES.items():
        X, y = small_table(table, n)
        for method, (cls, extra) in METHODS.items():
            for decoding, repair in DECODINGS.items():
                sampler = cls(decoding=decoding, repair=repair, **extra, **TINY)
                X_res, y_res = sampler.fit_resample(X, y)
                fitted = digest(X_res, y_res)
                name = f"{method}-{table}-{decoding}"
                with tempfile.TemporaryDirectory() as tmp:
                    folder = (args.keep or Path(tmp)) / name
                    sampler.save(folder)
                    loaded = digest(*type(sampler).load(folder).sample(5, random_state=1))
                row = [method, table, decoding, str(sampler.n_generated_), fitted, loaded]
                if args.old:
                    row.append(digest(*cls.load(args.old / name).sample(5, random_state=1)))
                print(" ".join(f"{v:<24}" if i == 0 else f"{v:<16}" for i, v in enumerate(row)))


if __name__ == "__main__":
    main()
