"""Keep a model cache within a budget: remove the models used least recently.

    python scripts/prune_cache.py results/cache/models --max-gb 20

A fine-tuned distilgpt2 takes 316 MB, so a grid on it fills a disk; ``paths.cache_max_gb``
makes every run prune after it ends, this prunes by hand. Safe beside running workers: an
entry being trained or stored is skipped (``busy``), and a worker that needs a pruned model
trains it again (:func:`imbllm.llm.model.cache.prune`).
"""

from __future__ import annotations

import argparse
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imbllm.llm.model.cache import prune  # noqa: E402


def main(argv=None) -> dict:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("cache", type=Path, help="the model cache (<paths.cache>/models)")
    ap.add_argument("--max-gb", type=float, required=True, help="what the models left may hold")
    args = ap.parse_args(argv)
    if not args.max_gb >= 0:
        ap.error(f"--max-gb {args.max_gb} must be at least 0")
    if not args.cache.is_dir():
        ap.error(f"{args.cache} is not a folder")
    out = prune(args.cache, int(args.max_gb * 1e9))
    print(f"removed {out['removed']} models, kept {out['kept']} ({out['busy']} busy): "
          f"{out['bytes_before'] / 1e9:.2f} GB -> {out['bytes_after'] / 1e9:.2f} GB")
    return out


if __name__ == "__main__":
    main()
