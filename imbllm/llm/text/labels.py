"""Labels of generated rows, for the two label strategies that do not take the prompt's.

* ``classifier`` (TapTap): an XGBoost classifier fitted on the imbalanced table predicts the
  label of every generated row; rows may come out labelled with any class, as published.
* ``lm`` (Pred-LLM): the fine-tuned model is prompted with the full generated row, features in
  table order, and completes ``"<target> is <label>"``; only rows labelled minority are kept.
"""

from __future__ import annotations

import numpy as np
import pandas as pd

from imbllm.llm.text.serialize import SEP, RowCodec, join_pieces
from imbllm.schema import TableSchema

LABEL_NOT_MINORITY = "label_not_minority"
LABEL_UNREADABLE = "label_unreadable"


def _xgb_frame(X: pd.DataFrame, schema: TableSchema) -> pd.DataFrame:
    """Numbers as floats, categories as pandas categoricals over the training categories."""
    out = {}
    for c in X.columns:
        if c in schema.categorical:
            out[c] = pd.Categorical(X[c], categories=schema.categories[c])
        else:
            out[c] = X[c].astype(float)
    return pd.DataFrame(out, index=X.index)


class ClassifierLabeler:
    """XGBoost with native categoricals, fitted on the imbalanced table (TapTap's labeller)."""

    def __init__(self, schema: TableSchema, classes: list, seed: int):
        self.schema = schema
        self.classes = list(classes)
        self.seed = seed

    def fit(self, X: pd.DataFrame, y: pd.Series) -> ClassifierLabeler:
        from xgboost import XGBClassifier

        codes = pd.Series(y).map({k: i for i, k in enumerate(self.classes)}).to_numpy()
        self.model_ = XGBClassifier(
            enable_categorical=True, tree_method="hist", random_state=self.seed, n_jobs=1
        )
        self.model_.fit(_xgb_frame(X, self.schema), codes)
        return self

    def predict(self, X: pd.DataFrame) -> pd.Series:
        if len(X) == 0:
            return pd.Series([], dtype=object, index=X.index)
        codes = np.asarray(self.model_.predict(_xgb_frame(X, self.schema))).astype(int)
        return pd.Series(np.asarray(self.classes, dtype=object)[codes], index=X.index)


def label_queries(codec: RowCodec, X: pd.DataFrame) -> list[str]:
    """Pred-LLM's label prompts: the row's features in table order, then ``","``."""
    return [t + "," for t in join_pieces(codec.pieces(X, columns=codec.features))]


def read_labels(codec: RowCodec, queries: list[str], completions: list[str]) -> pd.Series:
    """The class each completion names (NaN when it names none or an unknown one)."""
    texts = [q + c for q, c in zip(queries, completions, strict=True)]
    parsed = codec.parse(texts)[codec.target]
    return parsed.map(codec.text_label)


def longest_label_completion(codec: RowCodec) -> str:
    """The longest text a label query may need to complete (sizes its generation)."""
    pieces = [codec.piece(codec.target, k) for k in codec.classes]
    return SEP + max(pieces, key=len)
