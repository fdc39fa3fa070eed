"""The three row sets a synthetic-data metric reads, encoded once, and the memo they share.

:class:`Sets` holds S (synthetic), R (real training minority) and U (unseen test minority)
under one Gower encoding, with neighbour summaries built on first use;
:mod:`imbllm.metrics.synthetic` computes its metrics from it.
"""

from __future__ import annotations

import hashlib
from collections import OrderedDict
from collections.abc import Callable
from functools import cached_property

import numpy as np
import pandas as pd

from imbllm.metrics.gower import GowerEncoder, GowerMatrix, share_one_hot
from imbllm.metrics.neighbours import Cross, cross_neighbours, self_neighbours


class Sets:
    """S, R, U encoded once (shared Gower encoding); neighbour summaries built on first use."""

    def __init__(self, S, R, U, numeric, categorical, k, max_rows, random_state):
        self.numeric, self.categorical, self.k = list(numeric), list(categorical), k
        frames = {"S": S, "R": R, "U": U}
        cols = self.numeric + self.categorical
        for name, frame in frames.items():
            missing = [c for c in cols if c not in frame.columns]
            if missing:
                raise ValueError(f"{name} lacks columns {missing}; S, R and U need the same "
                                 "columns.")
        # Raw numeric values (+ 0.0 folds -0.0 into 0.0) for entropy, KS and row identity.
        self.num = {n: _numeric(f, self.numeric, n) for n, f in frames.items()}
        enc = GowerEncoder(numeric, categorical).fit(R, U)
        full = {n: enc.transform(f) for n, f in frames.items()}
        # Category codes (shared by the three sets), after the constant-numeric block.
        self.codes = {n: m.cat[:, len(enc.constant_):] for n, m in full.items()}
        self.p = enc.n_features_
        rng = np.random.default_rng(random_state)
        # One-hot codes built once per set: every block of every comparison reuses them.
        capped = [_cap(full[n], max_rows, rng) for n in ("S", "R", "U")]
        # dum searches every distinct synthetic row (nearest distance to a set = to its
        # distinct rows), never a subsample: a sample would bias it upwards.
        self.S_enc, self.R_enc, self.U_enc, self.S_all = share_one_hot(
            *capped, _distinct(full["S"]))

    @property
    def empty(self) -> bool:
        return len(self.num["S"]) == 0

    # Neighbour summaries hold Gower distances times p (see imbllm.metrics.neighbours).
    @cached_property
    def radius_u(self) -> np.ndarray | None:
        return memo((b"radius_u", self.k, self.U_enc),
                     lambda: self_neighbours(self.U_enc, self.k, "U")[0])

    @cached_property
    def s_neighbours(self) -> tuple[np.ndarray | None, float]:
        return self_neighbours(self.S_enc, self.k, "S")

    @cached_property
    def cross(self) -> Cross:
        return cross_neighbours(self.U_enc, self.S_enc, self.radius_u, self.s_neighbours[0])

    @cached_property
    def dum(self) -> float:
        if self.empty:
            return np.nan
        return float(cross_neighbours(self.U_enc, self.S_all).nearest.mean() / self.p)

    @cached_property
    def dum_reference(self) -> float:
        return memo((b"dum_reference", self.U_enc, self.R_enc),
                     lambda: float(cross_neighbours(self.U_enc, self.R_enc).nearest.mean()
                                   / self.p))

    def keys(self, name: str) -> np.ndarray:
        """One 64-bit hash per row: equal rows, equal keys (collisions ~2^-64 per pair)."""
        rows = pd.DataFrame(np.column_stack([self.num[name], self.codes[name]]))
        return pd.util.hash_pandas_object(rows, index=False).to_numpy()


# -- helpers ---------------------------------------------------------------------------
def _numeric(X: pd.DataFrame, numeric: list[str], name: str) -> np.ndarray:
    try:
        return X[numeric].to_numpy(dtype=float).reshape(len(X), len(numeric)) + 0.0
    except (TypeError, ValueError) as err:
        bad = [c for c in numeric if pd.to_numeric(X[c], errors="coerce").isna().any()]
        raise ValueError(
            f"Columns {bad} of {name} are declared numeric but hold non-numeric values "
            f"({err}); cast them or declare them categorical."
        ) from err


#: Summaries of the real rows alone (U's k-NN radii, dum_reference) are the same for every
#: method run on one split, and a whole result is the same for every classifier trained on one
#: oversampled set; a sweep computes each once. Memoised by a digest of the encoded rows (a
#: pure cache: the values do not depend on whether it hits).
_REAL_MEMO: OrderedDict[str, object] = OrderedDict()
_REAL_MEMO_SIZE = 64


def memo(parts: tuple, compute: Callable[[], object]):
    h = hashlib.blake2b(digest_size=16)
    for part in parts:
        arrays = (part.num, part.cat) if isinstance(part, GowerMatrix) else (
            (part,) if isinstance(part, np.ndarray) else ())
        for a in arrays:
            h.update(f"{a.shape}{a.dtype}".encode())
            h.update(np.ascontiguousarray(a).tobytes())
        if not arrays:
            h.update(repr(part).encode())
    key = h.hexdigest()
    if key in _REAL_MEMO:
        _REAL_MEMO.move_to_end(key)
        return _REAL_MEMO[key]
    value = compute()
    if isinstance(value, np.ndarray):
        value.flags.writeable = False  # shared between calls: nobody may change it
    _REAL_MEMO[key] = value
    if len(_REAL_MEMO) > _REAL_MEMO_SIZE:
        _REAL_MEMO.popitem(last=False)
    return value


def _distinct(X: GowerMatrix) -> GowerMatrix:
    if len(X) == 0:
        return X
    rows = np.column_stack([X.num, X.cat.astype(np.float64)])
    _, idx = np.unique(rows, axis=0, return_index=True)
    return X.take(np.sort(idx))


def _cap(X: GowerMatrix, max_rows: int | None, rng: np.random.Generator) -> GowerMatrix:
    if max_rows is None or len(X) <= max_rows:
        return X
    return X.take(np.sort(rng.choice(len(X), size=max_rows, replace=False)))
