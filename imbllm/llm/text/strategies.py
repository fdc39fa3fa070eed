"""The switches that make GReaT, TapTap, Pred-LLM and ImbLLM out of one engine (method.md §1).

* **permutation** — the order of a row's pieces each time the row is drawn for training:
  ``shuffle_all`` (GReaT: every column, target included), ``features_target_excluded``
  (TapTap: features shuffled, the target not written), ``target_last`` (Pred-LLM), ``fixed_y``
  (ImbLLM: target first, features shuffled).
* **training rows** — ``table`` (the imbalanced table), ``table_twice`` (Pred-LLM: each row once
  permuted and once in table order), ``minority_interpolated`` (ImbLLM: the real minority rows
  plus SMOTE-NC minority rows written with their continuous features only, §2.3).
* **prompt** — ``label`` (``"<target> is <minority>,"``), ``feature`` (Pred-LLM: one
  ``"<f> is <v>,"`` from the whole table), ``label_feature`` (ImbLLM: the label then one
  feature-value pair, §2.4). Feature prompts rotate over all features: ``ceil(n / d)`` each,
  trimmed to ``n``.
* **label** — ``prompt``, ``classifier`` (TapTap: XGBoost fitted on the imbalanced table) or
  ``lm`` (Pred-LLM: the fine-tuned model completes the label of the full row); see
  :mod:`imbllm.llm.text.labels`.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from imbllm.base import MIN_NEIGHBOUR_ROWS
from imbllm.llm.text.serialize import SEP, RowCodec, join_pieces

PERMUTATIONS = ("shuffle_all", "features_target_excluded", "target_last", "fixed_y")
TRAINING_ROWS = ("table", "table_twice", "minority_interpolated")
PROMPTS = ("label", "feature", "label_feature")
LABELS = ("prompt", "classifier", "lm")
#: Pred-LLM's second copy of each row: features in table order, then the target.
TABLE_ORDER = "table_order"


def check_choice(name: str, value, choices: tuple) -> str:
    """``value`` if it is one of ``choices``, else a ValueError naming the parameter."""
    if value not in choices:
        raise ValueError(f"{name}={value!r} is not one of {choices}; pick one of those.")
    return value


def row_orders(rng: np.random.Generator, n: int, d: int, permutation: str) -> np.ndarray:
    """Piece orders for ``n`` rows of ``d`` features with the target as piece ``d``.

    Each row gets a fresh random order (argsort of uniform draws is a uniform permutation).
    """
    if permutation == TABLE_ORDER:
        return np.tile(np.arange(d + 1), (n, 1))
    if permutation == "shuffle_all":
        return np.argsort(rng.random((n, d + 1)), axis=1)
    features = np.argsort(rng.random((n, d)), axis=1)
    if permutation == "features_target_excluded":
        return features
    target = np.full((n, 1), d)
    if permutation == "target_last":
        return np.hstack([features, target])
    if permutation == "fixed_y":
        return np.hstack([target, features])
    raise ValueError(f"permutation={permutation!r} is not one of {PERMUTATIONS}.")


@dataclass
class Block:
    """Training rows that share a layout: feature pieces then the target piece, per row."""

    pieces: np.ndarray  # (n_rows, n_features + 1), object
    permutation: str


class TrainingTexts:
    """``epoch -> sentences``: every block's rows in fresh orders, shuffled together.

    Randomness comes from ``(seed, epoch)`` alone, so an epoch's texts do not depend on which
    epochs were asked for before (the fine-tuning loop and the cache key see the same texts).
    """

    def __init__(self, blocks: list[Block], seed: int):
        self.blocks = blocks
        self.seed = int(seed)

    def __len__(self) -> int:
        return sum(len(b.pieces) for b in self.blocks)

    def __call__(self, epoch: int) -> list[str]:
        rng = np.random.default_rng([self.seed, 1, int(epoch)])
        texts: list[str] = []
        for b in self.blocks:
            n, width = b.pieces.shape
            texts += join_pieces(b.pieces, row_orders(rng, n, width - 1, b.permutation))
        order = rng.permutation(len(texts))
        return [texts[i] for i in order]


def interpolate_minority(
    X: pd.DataFrame,
    y: pd.Series,
    minority,
    n_rows: int,
    numeric: list[str],
    categorical: list[str],
    seed: int,
) -> tuple[pd.DataFrame, str | None]:
    """``n_rows`` SMOTE-NC minority rows (k = 5), continuous features rounded to 2 decimals.

    Only the minority class is oversampled, so with several classes every row returned is a
    minority row. With ``MIN_NEIGHBOUR_ROWS`` minority rows or fewer SMOTE-NC cannot run:
    the rows are random duplicates of minority rows and the second value says so.
    """
    if n_rows <= 0 or not numeric:
        return pd.DataFrame(columns=numeric, dtype=float), None
    is_min = (y == minority).to_numpy()
    n_min = int(is_min.sum())
    if n_min <= MIN_NEIGHBOUR_ROWS:
        rng = np.random.default_rng([seed, 2])
        rows = X.loc[is_min, numeric].iloc[rng.integers(0, n_min, n_rows)]
        fallback = (
            f"SMOTE-NC needs more than {MIN_NEIGHBOUR_ROWS} minority rows, got {n_min}: the "
            f"{n_rows} interpolated training rows are random duplicates of minority rows."
        )
    else:
        from imblearn.over_sampling import SMOTE, SMOTENC

        strategy = {minority: n_min + n_rows}
        if categorical:
            sampler = SMOTENC(
                categorical_features=categorical,
                sampling_strategy=strategy,
                k_neighbors=5,
                random_state=seed,
            )
        else:
            sampler = SMOTE(sampling_strategy=strategy, k_neighbors=5, random_state=seed)
        # Floats: with integer-only continuous columns imbalanced-learn truncates the
        # interpolated values and the scaled one-hot block of SMOTE-NC to integers.
        X = X.astype({c: "float64" for c in numeric})
        X_res, _ = sampler.fit_resample(X, y)
        rows = X_res.iloc[len(X) :][numeric]
        fallback = None
    rows = rows.astype(float).round(2).reset_index(drop=True)
    return rows, fallback


class Prompter:
    """Draws the start strings of generation, one per slot.

    ``pools`` maps each feature to ``(pieces, probabilities)``: the ``"<f> is <v>"`` strings
    a prompt may hold and their weights (``None``: uniform over the list, which repeats a
    value as often as it occurs).
    """

    def __init__(self, strategy: str, label_piece: str, features: list[str], pools: dict):
        self.strategy = check_choice("prompt", strategy, PROMPTS)
        self.label_piece = label_piece
        self.features = features
        self.pools = pools

    def slots(self, n: int) -> np.ndarray:
        """The feature each of ``n`` slots is conditioned on (-1: none).

        ``ceil(n / d)`` slots per feature, trimmed to ``n``: features take turns, so the
        counts differ by at most one.
        """
        if self.strategy == "label":
            return np.full(n, -1)
        return np.arange(n) % len(self.features)

    def prompts(self, slot_features: np.ndarray, rng: np.random.Generator) -> list[str]:
        """One prompt per entry of ``slot_features``, feature values drawn fresh."""
        values = np.empty(len(slot_features), dtype=object)
        for j in np.unique(slot_features):
            if j < 0:
                continue
            at = np.flatnonzero(slot_features == j)
            pieces, p = self.pools[self.features[j]]
            values[at] = pieces[rng.choice(len(pieces), size=len(at), p=p)]
        if self.strategy == "label":
            return [self.label_piece + ","] * len(slot_features)
        if self.strategy == "feature":
            return [v + "," for v in values]
        return [self.label_piece + SEP + v + "," for v in values]


def feature_pools(
    codec: RowCodec, rows: pd.DataFrame, extra_numeric: pd.DataFrame | None = None
) -> dict:
    """Prompt pools: categories weighted by their frequency in ``rows``; numbers uniform over
    the values of ``rows`` pooled with ``extra_numeric`` (ImbLLM's interpolated values)."""
    pools = {}
    for c in codec.features:
        if c in codec.numeric:
            values = rows[c]
            if extra_numeric is not None and c in extra_numeric:
                values = pd.concat([values.astype(float), extra_numeric[c]], ignore_index=True)
            pools[c] = (codec.pieces(pd.DataFrame({c: values}))[:, 0], None)
        else:
            freq = rows[c].value_counts(normalize=True, sort=False)
            pieces = codec.pieces(pd.DataFrame({c: freq.index.to_series()}))[:, 0]
            pools[c] = (pieces, freq.to_numpy(dtype=float))
    return pools
