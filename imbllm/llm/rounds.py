"""Sample until ``n`` valid rows exist or the patience budget is spent (method.md §1 step 6).

The ``n`` rows to make are *slots*; each slot keeps the feature its prompt conditions on, so a
slot whose row was rejected is prompted again on the same feature (with a fresh value) and the
per-feature balance of ImbLLM's prompts survives rejection. After the first round a slot still
empty gets several candidates at once (about one over the valid rate so far, at most
``MAX_COPIES``) so that a model with a low valid rate does not need one small batch per round.
``patience`` caps the completions drawn at ``patience * n``.

A completion whose row lacks some columns but is otherwise valid (``incomplete``) is sent
back to the model with its own text so far, up to ``max_continuations`` times, before the
round is judged: a model fine-tuned on rows written with only some columns (ImbLLM's
interpolated rows carry no categorical cells) often ends a row early, and strict parsing
would throw the row away. Each continuation counts as a completion drawn.
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
    n_continuations: int = 0  # incomplete rows sent back to the model (also completions)
    n_continued_valid: int = 0  # rows kept that needed at least one continuation
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


def continuation_prompt(prompt: str, completion: str) -> str:
    """The text so far, ended by the separator the way first-round prompts end (``","``:
    the model writes the space that opens the next piece, as it did in training)."""
    text = (prompt + completion).rstrip()
    return text if text.endswith(",") else text + ","


def continue_incomplete(
    prompts: list[str],
    completions: list[str],
    complete: Callable[[list[str], int], list[str]],
    incomplete: Callable[[list[str], list[str]], np.ndarray],
    max_continuations: int,
    budget: int,
    seed: list[int],
) -> tuple[list[str], np.ndarray]:
    """Complete again the rows that ``incomplete`` flags, at most ``max_continuations`` times
    each and ``budget`` prompts in all; returns the completions (each extended by what
    followed it) and how many times each was continued."""
    completions = list(completions)
    times = np.zeros(len(prompts), dtype=int)
    for k in range(max_continuations):
        todo = np.flatnonzero(incomplete(prompts, completions))[: budget - int(times.sum())]
        if not len(todo):
            break
        heads = [continuation_prompt(prompts[i], completions[i]) for i in todo]
        gen_seed = int(np.random.SeedSequence([*seed, 5, k]).generate_state(1)[0])
        for i, head, more in zip(todo, heads, complete(heads, gen_seed), strict=True):
            completions[i] = head[len(prompts[i]) :] + more
        times[todo] += 1
    return completions, times


def sample_rounds(
    n: int,
    prompter: Prompter,
    complete: Callable[[list[str], int], list[str]],
    accept: Callable[[list[str], list[str]], Accepted],
    patience: float,
    seed: int,
    incomplete: Callable[[list[str], list[str]], np.ndarray] | None = None,
    max_continuations: int = 0,
) -> Rounds:
    """Fill ``n`` slots with valid rows; ``complete(prompts, seed)`` calls the model,
    ``incomplete(prompts, completions)`` flags rows worth continuing (see the module)."""
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
        room = limit - out.n_completions
        n_first = out.n_completions - out.n_continuations
        if max_continuations and n_first:
            # Leave room for the continuations these candidates will need (at the rate seen
            # so far); otherwise a late round spends all patience on first completions.
            room = max(1, math.floor(room / (1.0 + out.n_continuations / n_first)))
        cand = np.repeat(empty, copies)[:room]
        rng = np.random.default_rng([seed, 4, out.n_rounds])
        prompts = prompter.prompts(slots[cand], rng)
        gen_seed = int(np.random.SeedSequence([seed, 3, out.n_rounds]).generate_state(1)[0])
        completions = complete(prompts, gen_seed)
        times = np.zeros(len(cand), dtype=int)
        if max_continuations and incomplete is not None:
            completions, times = continue_incomplete(
                prompts,
                completions,
                complete,
                incomplete,
                max_continuations,
                budget=limit - out.n_completions - len(cand),
                seed=[seed, out.n_rounds],
            )
        acc = accept(prompts, completions)
        out.n_completions += len(cand) + int(times.sum())
        out.n_continuations += int(times.sum())
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
        out.n_continued_valid += int((times[pos[take]] > 0).sum())
        filled[slot_of[take]] = True
        chunk = acc.X.iloc[take].copy()
        chunk.index = slot_of[take]
        chunks.append(chunk)
        labels.append(pd.Series(acc.y.iloc[take].to_numpy(), index=slot_of[take]))
        log.info(
            "Sampling round %d: %d of %d rows valid after %d completions (%d continuations, "
            "%d rejected).",
            out.n_rounds,
            int(filled.sum()),
            n,
            out.n_completions,
            out.n_continuations,
            out.n_rejected,
        )
    if chunks:
        out.X = pd.concat(chunks).sort_index()
        out.y = pd.concat(labels).sort_index()
    return out
