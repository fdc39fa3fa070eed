"""A frame shaped like ``imbllm.results.load_runs`` output, with effects planted on purpose.

Planted so that the answers are known: ``imbllm`` is best on F1 on every dataset (both modes),
in the middle on AUC, and worse than ``smote_nc`` on ``dum`` on every dataset. Only ``ds00``
generates more rows than the synthetic metrics' default cap.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from imbllm.metrics import CLASSIFICATION_METRICS, SYNTHETIC_METRICS

METHODS = ["standard", "balance", "smote_nc", "ctgan", "tvae", "imbllm"]
OVERSAMPLERS = ["smote_nc", "ctgan", "tvae", "imbllm"]
# Method effects: F1 (imbllm clearly first), AUC (imbllm third), dum (lower is better).
F1_EFFECT = {"standard": 0.0, "balance": 0.2, "smote_nc": 0.05, "ctgan": 0.02, "tvae": 0.03,
             "imbllm": 0.10}
AUC_EFFECT = {"standard": 0.0, "balance": 0.2, "smote_nc": 0.06, "ctgan": 0.01, "tvae": 0.08,
              "imbllm": 0.04}
DUM_EFFECT = {"smote_nc": 0.00, "ctgan": 0.10, "tvae": 0.05, "imbllm": 0.03}


def make_runs(n_datasets: int = 10, seeds=(0, 1, 2), methods=METHODS, seed: int = 0) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    rows = []
    for d in range(n_datasets):
        base = rng.uniform(0.4, 0.7)
        for m in methods:
            for clf in ("xgboost", "catboost"):
                for protocol in ("published", "corrected"):
                    for s in seeds:
                        row = {"run_id": f"{d}-{m}-{clf}-{protocol}-{s}", "experiment": "paper",
                               "dataset": f"ds{d:02d}", "method": m, "classifier": clf,
                               "ratio": 0.2, "seed": s, "protocol": protocol,
                               "artifact_uri": f"file:///nowhere/{d}/{m}/{s}"}
                        for name in CLASSIFICATION_METRICS:
                            effect = AUC_EFFECT[m] if "auc" in name else F1_EFFECT[m]
                            row[name] = base + effect + rng.normal(0, 0.002)
                        for name in SYNTHETIC_METRICS:
                            row[name] = np.nan
                        if m in OVERSAMPLERS:
                            ref = 0.2 + 0.01 * d
                            dum = 0.15 + 0.01 * d + DUM_EFFECT[m] + rng.normal(0, 0.002)
                            row.update({name: rng.uniform(0.1, 0.9) for name in SYNTHETIC_METRICS})
                            row.update(dum=dum, dum_reference=ref, dum_ratio=dum / ref,
                                       n_generated=5000 if d == 0 else 100)
                        rows.append(row)
    return pd.DataFrame(rows)
