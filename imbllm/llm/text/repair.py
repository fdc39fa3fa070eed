"""From parsed text cells to typed rows: check them against the schema, repair or reject.

Two policies (method.md §2.5):

``strict`` (the default)
    A row is rejected when a feature is missing, a number cannot be read or is not finite, an
    integer-valued column leaves its observed range after rounding, a number leaves the observed
    range, or a category was never seen in the training table. Nothing is filled in.
``published``
    The authors' repair: a missing or non-finite number becomes the mean of the reference rows
    (2 decimals); a row whose number cannot be read is dropped; a category outside those of the
    reference rows becomes their most frequent one. The reference rows are the real rows the
    language model was fine-tuned on (the minority rows for ImbLLM, the whole table for the
    baselines), as in the authors' code.

Every rejected row is counted under the first check it fails, as ``"<reason>:<column>"``.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pandas as pd

from imbllm.llm.text.serialize import RowCodec, read_numbers
from imbllm.schema import TableSchema

REPAIRS = ("strict", "published")

MISSING = "missing_value"
UNPARSABLE = "unparsable_number"
NON_FINITE = "non_finite"
OUT_OF_RANGE = "out_of_range"
UNKNOWN_CATEGORY = "unknown_category"


def check_repair(repair: str) -> str:
    if repair not in REPAIRS:
        raise ValueError(
            f"repair={repair!r} is not one of {REPAIRS}; use 'strict' (reject invalid rows and "
            "sample again) or 'published' (the authors' mean/mode filling)."
        )
    return repair


@dataclass
class Reference:
    """What the published policy fills with, learned from the model's real training rows."""

    means: dict
    modes: dict
    categories: dict

    @classmethod
    def from_rows(cls, X: pd.DataFrame, schema: TableSchema) -> Reference:
        means = {c: round(float(X[c].astype(float).mean()), 2) for c in schema.numeric}
        modes, cats = {}, {}
        for c in schema.categorical:
            counts = X[c].value_counts(sort=True)
            # Ties go to the category listed first by value_counts (pandas' stable order).
            modes[c] = counts.index[0]
            cats[c] = set(counts.index)
        return cls(means=means, modes=modes, categories=cats)


@dataclass
class Checked:
    """Typed rows that passed, and what happened to the others."""

    X: pd.DataFrame  # kept rows only, typed; index = positions in the parsed frame
    keep: np.ndarray  # bool per parsed row
    reason: np.ndarray  # "" for kept rows, "<reason>:<column>" for rejected ones
    repaired: np.ndarray  # cells filled in per parsed row (published policy)


def check_rows(
    cells: pd.DataFrame,
    codec: RowCodec,
    schema: TableSchema,
    repair: str,
    reference: Reference | None = None,
    missing_ok: bool = False,
) -> Checked:
    """Type the feature cells of ``cells`` (text, NaN when missing) and apply ``repair``;
    ``missing_ok`` lets strict keep rows whose only defect is missing cells (left NaN)."""
    check_repair(repair)
    if repair == "published" and reference is None:
        raise ValueError("repair='published' needs the reference rows' means and modes.")
    n = len(cells)
    reason = np.full(n, "", dtype=object)
    repaired = np.zeros(n, dtype=int)  # cells filled per row
    out: dict[str, pd.Series] = {}

    def reject(mask: np.ndarray, why: str, column: str) -> None:
        # Only the first failing check names the row.
        fresh = mask & (reason == "")
        reason[fresh] = f"{why}:{column}"

    for c in codec.features:
        text = cells[c]
        missing = text.isna().to_numpy()
        if c in codec.numeric:
            values = read_numbers(text, codec.number_format).to_numpy()
            literal = text.astype(object).str.strip().str.lower().str.lstrip("+-")
            nan_text = literal.isin(["nan", "inf", "infinity"]).to_numpy()
            non_finite = ~missing & (np.isinf(values) | (np.isnan(values) & nan_text))
            unparsable = ~missing & np.isnan(values) & ~nan_text
            if repair == "strict":
                reject(missing & (not missing_ok), MISSING, c)
                reject(unparsable, UNPARSABLE, c)
                reject(non_finite, NON_FINITE, c)
                finite = np.isfinite(values)
                v = np.where(finite, values, 0.0)
                if schema.integer.get(c, False):
                    v = np.round(v)
                outside = finite & ((v < schema.low[c]) | (v > schema.high[c]))
                reject(outside, OUT_OF_RANGE, c)
                values = v
            else:
                fill = missing | non_finite
                values = np.where(fill, reference.means[c], values)
                repaired += fill
                reject(unparsable, UNPARSABLE, c)
            out[c] = pd.Series(values, index=cells.index, dtype=float)
        else:
            mapping = codec.text_category[c]
            values = text.map(mapping)
            known = text.isin(list(mapping)).to_numpy()
            if repair == "strict":
                reject(missing & (not missing_ok), MISSING, c)
                reject(~missing & ~known, UNKNOWN_CATEGORY, c)
            else:
                allowed = reference.categories[c]
                ok = known & values.isin(list(allowed)).to_numpy()
                values = values.where(ok, reference.modes[c])
                repaired += ~ok
            out[c] = values.astype(object)

    keep = reason == ""
    X = pd.DataFrame(out, index=cells.index)[codec.features]
    return Checked(X=X[keep], keep=keep, reason=reason, repaired=repaired)


def incomplete_rows(
    cells: pd.DataFrame,
    codec: RowCodec,
    schema: TableSchema,
    repair: str,
    reference: Reference | None = None,
) -> np.ndarray:
    """Rows that lack at least one feature and that ``repair`` would otherwise keep: the
    ones worth asking the model to continue (bool per row of ``cells``)."""
    missing = cells[codec.features].isna().to_numpy().any(axis=1)
    out = np.zeros(len(cells), dtype=bool)
    if missing.any():
        sub = cells[missing]
        out[np.flatnonzero(missing)] = check_rows(
            sub, codec, schema, repair, reference, missing_ok=True
        ).keep
    return out

