"""Compare the harness's published-mode XGBoost runs with scripts/reference_published.py.

    python scripts/compare_published.py results/reference_published.json [--experiment paper_classical]

Prints, per (dataset, method), how many seeds agree to 4 decimals on F1, AUC and accuracy, the
largest difference, and a last line ``agree=<k>/<n> runs``.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from imbllm.results import load_runs  # noqa: E402


def main(argv=None) -> int:
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("reference")
    ap.add_argument("--experiment", default="paper_classical")
    ap.add_argument("--tracking-uri", default=None)
    args = ap.parse_args(argv)
    ref = json.loads(Path(args.reference).read_text())
    runs = load_runs(args.tracking_uri, [args.experiment])
    runs = runs[(runs["protocol"] == "published") & (runs["classifier"] == "xgboost")]
    ours = {(r.dataset, r.method, int(r.seed)): (r.f1_published, r.auc_published, r.accuracy) for r in runs.itertuples()}
    agree = total = 0
    rows = {}
    for key, (f1, auc, acc) in ref.items():
        d, m, s = key.split("|")
        if (d, m, int(s)) not in ours:
            continue
        o = ours[(d, m, int(s))]
        diff = max(abs(round(o[0], 4) - f1), abs(round(o[1], 4) - auc), abs(round(o[2], 4) - acc))
        ok = diff < 1e-9
        agree += ok
        total += 1
        a, t, worst = rows.get((d, m), (0, 0, 0.0))
        rows[(d, m)] = (a + ok, t + 1, max(worst, diff))
    for (d, m), (a, t, worst) in sorted(rows.items()):
        print(f"{d:12s} {m:9s} {a}/{t} seeds identical  max|diff|={worst:.4f}")
    print(f"agree={agree}/{total} runs")
    return 0 if total else 1


if __name__ == "__main__":
    raise SystemExit(main())
