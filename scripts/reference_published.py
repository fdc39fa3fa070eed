"""An independent re-run of the published protocol, written from the protocol's facts.

It shares no code with the harness: plain pandas/numpy/imbalanced-learn/XGBoost calls in the
order protocol.md §2-3 describes (per-frame ordinal codes as numpy object arrays, SMOTE on
them, categories cast with ``astype("category")``, hard-label AUC), so it can run in an
environment pinned to the authors' library versions and cross-check ``imbllm-bench``:

    python3 -m venv /tmp/venv_pub
    /tmp/venv_pub/bin/pip install numpy==1.24.3 pandas==1.5.3 scikit-learn==1.2.2 \
        imbalanced-learn==0.12.4 xgboost==2.0.3 "scipy<1.12" pyyaml
    /tmp/venv_pub/bin/python scripts/reference_published.py \
        german,fuel,insurance,housing,bank,adult,gem_price,car,sick,credit_card \
        standard,balance,smote,smote_nc,adasyn results/reference_published.json
    python scripts/compare_published.py results/reference_published.json

Prints ``dataset method seed (f1, auc, accuracy)`` per run and writes them as JSON.
"""

import json
import os
import sys
from collections import Counter
from pathlib import Path

import numpy as np
import pandas as pd
import yaml
from imblearn.datasets import make_imbalance
from imblearn.over_sampling import ADASYN, SMOTE, SMOTENC, RandomOverSampler
from sklearn.metrics import accuracy_score, f1_score, roc_auc_score
from sklearn.model_selection import train_test_split
from sklearn.preprocessing import label_binarize
from xgboost import XGBClassifier

ROOT = Path(__file__).resolve().parents[1]
CONF = ROOT / "conf" / "dataset"
DATA = Path(os.environ.get("IMBLLM_DATA_DIR", ROOT.parent / "shared" / "datasets"))


def load(name):
    spec = yaml.safe_load(open(CONF / f"{name}.yaml"))
    df = pd.read_csv(DATA / f"{name}.csv", encoding="utf-8-sig")
    num, cat, t = spec["numeric"], spec["categorical"], spec["target"]
    if "binarize" in spec:
        df = df.dropna(how="any")
        thr = spec["binarize"]["threshold"]
        y = np.where(df[t] >= thr, "high", "low")
        df = df.copy()
        df[t] = y
    return df[num + cat], df[t], num, cat


def codes(Xdf, num, cat):
    X = np.array(Xdf.loc[:, num])
    for c in cat:
        v = np.array(pd.Categorical(Xdf.loc[:, c]))
        cats = list(pd.Categorical(Xdf.loc[:, c]).categories)
        for i, k in enumerate(cats):
            v[v == k] = i
        X = np.append(X, v.reshape(-1, 1), axis=1)
    return X


def run(name, method, seed, ratio=0.2):
    Xdf, ydf, num, cat = load(name)
    Xtr, Xte, ytr, yte = train_test_split(
        Xdf, ydf, test_size=0.2, shuffle=True, stratify=ydf, random_state=seed
    )
    Xtr, ytr = Xtr.reset_index(drop=True), ytr.reset_index(drop=True)
    Xte, yte = Xte.reset_index(drop=True), yte.reset_index(drop=True)
    ytr = pd.Series(pd.Categorical(ytr).codes).astype("int8")
    yte = pd.Series(pd.Categorical(yte).codes).astype("int8")
    dist = np.bincount(ytr)
    minor = int(np.argmin(dist))
    Xi, yi = make_imbalance(
        Xtr, ytr, random_state=seed, sampling_strategy={minor: int(ratio * Counter(ytr)[minor])}
    )
    Xi, yi = Xi.reset_index(drop=True), yi.reset_index(drop=True)
    Xb_enc, yb = codes(Xtr, num, cat), np.array(ytr).astype(int)
    Xi_enc, yi_enc = codes(Xi, num, cat), np.array(yi).astype(int)
    small = np.bincount(yi_enc).min() <= 5
    if method == "balance":
        X, y = Xb_enc, yb
    elif method == "standard":
        X, y = Xi_enc, yi_enc
    else:
        if small:
            s = RandomOverSampler(random_state=seed)
        elif method == "smote":
            s = SMOTE(random_state=seed)
        elif method == "adasyn":
            s = ADASYN(random_state=seed)
        elif method == "smote_nc":
            s = SMOTENC(
                random_state=seed, categorical_features=list(range(len(num), len(num) + len(cat)))
            )
        X, y = s.fit_resample(Xi_enc, yi_enc)
    Xt = codes(Xte, num, cat)
    yt = np.array(yte).astype(int)
    X, Xt = pd.DataFrame(X, columns=num + cat), pd.DataFrame(Xt, columns=num + cat)
    for c in cat:
        X[c] = X[c].astype("category")
        Xt[c] = Xt[c].astype("category")
    for c in num:
        X[c] = X[c].astype("float")
        Xt[c] = Xt[c].astype("float")
    clf = XGBClassifier(random_state=seed, enable_categorical=True)
    clf.fit(X, pd.Series(y))
    p = clf.predict(Xt)
    k = len(np.unique(y))
    f1 = f1_score(yt, p) if k == 2 else f1_score(yt, p, average="weighted")
    labels = np.unique(y)
    auc = roc_auc_score(
        label_binarize(yt, classes=labels),
        label_binarize(p, classes=labels),
        average="macro",
        multi_class="ovr",
    )
    return round(f1, 4), round(auc, 4), round(accuracy_score(yt, p), 4)


if __name__ == "__main__":
    out = {}
    for name in sys.argv[1].split(","):
        for m in sys.argv[2].split(","):
            for s in [0, 1, 2]:
                out[f"{name}|{m}|{s}"] = run(name, m, s)
                print(name, m, s, out[f"{name}|{m}|{s}"], flush=True)
    json.dump(out, open(sys.argv[3], "w"))
