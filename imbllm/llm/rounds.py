"""Sample until ``n`` valid rows exist or the patience budget is spent (method.md §1 step 6).

The ``n`` rows to make are *slots*; each slot keeps the feature its prompt conditions on, so a
slot whose row was rejected is prompted again on the same feature (with a fresh value) and the
per-feature balance of ImbLLM's prompts survives rejection. After the first round a slot still
empty gets several candidates at once (about one over the valid rate so far, at most
``MAX_COPIES``) so that a model with a low valid rate does not need one small batch per round.
``patience`` caps the completions drawn at ``patience * n``.
"""

from __future__ import annotations

import logging
import math
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from imbllm.llm.strategies import Prompter

log = logging.getLogger(__name__)

MAX_COPIES = 8


@dataclass
class Accepted:
    """What the engine made of one round's completions (positions index the round's prompts)."""

    X: pd.DataFrame  # valid rows, typed, indexed by position in the round
    y: pd.Series  # their labels, same index
    reason: np.ndarray  # per completion: "" if valid, else "<reason>:<column>"
    repaired: np.ndarray  # cells filled in per completion


@dataclass
class Rounds:
    """The outcome of sampling: rows in slot order and the bookkeeping of how they came."""

    X: pd.DataFrame
    y: pd.Series
    n_requested: int
    n_completions: int = 0
    n_rounds: int = 0
    n_rejected: int = 0
    n_unused: int = 0  # valid rows beyond the first for an already filled slot
    n_repaired_cells: int = 0
    reasons: Counter = field(default_factory=Counter)

    @property
    def n_valid(self) -> int:
        return len(self.X)

    @property
    def shortfall(self) -> int:
        return self.n_requested - self.n_valid

    def reason_summary(self, top: int = 6) -> str:
        items = self.reasons.most_common(top)
        text = ", ".join(f"{k} {v}" for k, v in items) or "none recorded"
        rest = len(self.reasons) - len(items)
        return text + (f" and {rest} other reasons" if rest > 0 else "")


def sample_rounds(
    n: int,
    prompter: Prompter,
    complete: Callable[[list[str], int], list[str]],
    accept: Callable[[list[str], list[str]], Accepted],
    patience: float,
    seed: int,
) -> Rounds:
    """Fill ``n`` slots with valid rows; ``complete(prompts, seed)`` calls the model."""
    slots = prompter.slots(n)
    filled = np.zeros(n, dtype=bool)
    limit = max(n, math.ceil(patience * n))
    chunks: list[pd.DataFrame] = []
    labels: list[pd.Series] = []
    out = Rounds(X=pd.DataFrame(), y=pd.Series(dtype=object), n_requested=n)
    n_valid_seen = 0
    while not filled.all() and out.n_completions < limit:
        empty = np.flatnonzero(~filled)
        copies = 1
        if out.n_completions:
            rate = max(n_valid_seen / out.n_completions, 1.0 / MAX_COPIES)
            copies = min(MAX_COPIES, math.ceil(1.0 / rate))
        cand = np.repeat(empty, copies)[: limit - out.n_completions]
        rng = np.random.default_rng([seed, 4, out.n_rounds])
        prompts = prompter.prompts(slots[cand], rng)
        gen_seed = int(np.random.SeedSequence([seed, 3, out.n_rounds]).generate_state(1)[0])
        acc = accept(prompts, complete(prompts, gen_seed))
        out.n_completions += len(cand)
        out.n_rounds += 1

        bad = acc.reason != ""
        out.n_rejected += int(bad.sum())
        out.reasons.update(acc.reason[bad].tolist())
        n_valid_seen += len(acc.X)
        # The first valid candidate of a slot fills it; later ones are surplus.
        pos = acc.X.index.to_numpy()
        slot_of = cand[pos]
        take = ~pd.Series(slot_of).duplicated().to_numpy() & ~filled[slot_of]
        out.n_unused += int((~take).sum())
        out.n_repaired_cells += int(acc.repaired[pos[take]].sum())
        filled[slot_of[take]] = True
        chunk = acc.X.iloc[take].copy()
        chunk.index = slot_of[take]
        chunks.append(chunk)
        labels.append(pd.Series(acc.y.iloc[take].to_numpy(), index=slot_of[take]))
        log.info(
            "Sampling round %d: %d of %d rows valid after %d completions (%d rejected).",
            out.n_rounds,
            int(filled.sum()),
            n,
            out.n_completions,
            out.n_rejected,
        )
    if chunks:
        out.X = pd.concat(chunks).sort_index()
        out.y = pd.concat(labels).sort_index()
    return out
