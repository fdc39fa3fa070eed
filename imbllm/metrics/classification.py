"""Classification metrics of one run, both protocol modes (protocol.md §3).

All are computed for every run; the protocol mode decides how the data was encoded, and
:data:`SCORES` which mode's tables show each and which are the paper's "F1" and "AUC". Labels are integer codes (index in the sorted classes).
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from imblearn.metrics import geometric_mean_score
from sklearn.metrics import (
    accuracy_score,
    average_precision_score,
    balanced_accuracy_score,
    f1_score,
    matthews_corrcoef,
    roc_auc_score,
)
from sklearn.preprocessing import label_binarize


@dataclass(frozen=True)
class Score:
    """One logged score: the protocol mode whose tables show it and, for the paper's two
    scores, the name the paper gives it in that mode (``"F1"``, ``"AUC"``; protocol.md §3)."""

    name: str
    protocol: str
    headline: str | None = None


#: Every logged score, in table order; each is maximised.
SCORES = (
    Score("f1_published", "published", "F1"),
    Score("auc_published", "published", "AUC"),
    Score("f1_minority", "corrected", "F1"),
    Score("f1_macro", "corrected"),
    Score("roc_auc", "corrected", "AUC"),
    Score("pr_auc", "corrected"),
    Score("balanced_accuracy", "corrected"),
    Score("g_mean", "corrected"),
    Score("mcc", "corrected"),
    Score("accuracy", "published"),
)
#: Logged names, in table order.
CLASSIFICATION_METRICS = tuple(s.name for s in SCORES)


def classification_metrics(
    y_true: np.ndarray, y_pred: np.ndarray, proba: np.ndarray, minority: int, n_classes: int
) -> dict[str, float]:
    """Every metric of protocol.md §3 for one prediction.

    Parameters
    ----------
    y_true, y_pred : array of int
        Label codes of the test split and the predictions.
    proba : array, shape (n, n_classes)
        Predicted probabilities, columns in code order.
    minority : int
        Code of the training minority class.
    n_classes : int
        Number of classes.
    """
    y_true, y_pred = np.asarray(y_true), np.asarray(y_pred)
    labels = list(range(n_classes))
    binary = n_classes == 2
    out: dict[str, float] = {}
    # Authors: F1 of class code 1 for two classes (the majority on five datasets), weighted F1
    # otherwise; AUC from one-hot *hard* labels (for two classes: balanced accuracy).
    if binary:
        out["f1_published"] = f1_score(y_true, y_pred, pos_label=1, zero_division=0)
    else:
        out["f1_published"] = f1_score(y_true, y_pred, average="weighted", labels=labels, zero_division=0)
    out["auc_published"] = roc_auc_score(
        label_binarize(y_true, classes=labels),
        label_binarize(y_pred, classes=labels),
        average="macro",
        multi_class="ovr",
    )
    out["f1_minority"] = f1_score(y_true, y_pred, labels=[minority], average="macro", zero_division=0)
    out["f1_macro"] = f1_score(y_true, y_pred, labels=labels, average="macro", zero_division=0)
    if binary:
        out["roc_auc"] = roc_auc_score(y_true, proba[:, 1])
    else:
        out["roc_auc"] = roc_auc_score(y_true, proba, multi_class="ovr", average="macro", labels=labels)
    out["pr_auc"] = average_precision_score(y_true == minority, proba[:, minority])
    out["balanced_accuracy"] = balanced_accuracy_score(y_true, y_pred)
    # Root of the product of per-class recalls (sqrt(TPR * TNR) for two classes).
    out["g_mean"] = geometric_mean_score(y_true, y_pred, labels=labels, average="multiclass")
    out["mcc"] = matthews_corrcoef(y_true, y_pred)
    out["accuracy"] = accuracy_score(y_true, y_pred)
    return {k: float(v) for k, v in out.items()}
