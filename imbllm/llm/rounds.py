"""Sample until ``n`` valid rows exist or the patience budget is spent (method.md §1 step 6).

The ``n`` rows to make are *slots*; each slot keeps the feature its prompt conditions on, so a
slot whose row was rejected is prompted again on the same feature (with a fresh value) and the
per-feature balance of ImbLLM's prompts survives rejection. After the first round a slot still
empty gets several candidates at once (about one over the valid rate so far, at most
``MAX_COPIES``) so that a model with a low valid rate does not need one small batch per round.
``patience`` caps the completions drawn at ``patience * n``.

A completion whose row lacks some features but is otherwise valid is continued before the
round is judged: a model fine-tuned on rows written with only some columns (ImbLLM's
interpolated rows carry no categorical cells) often ends a row early, and strict parsing
would throw the row away. Merely prompting the row again with a separator lets the model
write any column (it repeats columns already named, or names a categorical column with
another one's value), so the continuation *names* the missing column,
``"<text so far>, smoker is"``, and keeps only the value the model writes for it; one
missing column per row and round, each round one batched call, at most
``max_continuations`` rounds. The value goes through the same checks as any other.

Patience counts a continued row as one more completion drawn, however many of its columns
were named: together its continuations write only the cells its first completion left out,
one short value each (``n_continuations`` counts the named columns).
"""

from __future__ import annotations

import logging
import math
import re
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from imbllm.llm.text.serialize import IS, SEP, quote
from imbllm.llm.text.strategies import Prompter

log = logging.getLogger(__name__)

MAX_COPIES = 8
#: Columns named per incomplete row by default: more than the 27 features of the widest
#: benchmark table (sick), so any row can be completed cell by cell.
MAX_CONTINUATIONS = 32
#: Rounds of unnamed continuation (whole completions; more rarely help, and each counts).
MAX_UNNAMED = 2
# The value that follows "<column> is": blanks, then a quoted token or the text up to the
# next separator (the serialiser's value grammar; an unclosed quote ends the value).
_VALUE = re.compile(r'[ \t]*(?P<value>"(?:[^"]|"")*"|(?:(?!, )[^"])*)', flags=re.DOTALL)


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
    n_continuations: int = 0  # columns named in continuation prompts
    n_continued: int = 0  # rows continued at least once (one completion each)
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


def continuation_prompt(
    prompt: str, completion: str, column: str | None, open_value: bool = False
) -> str:
    """The text so far, then the separator and ``column`` named, ending where its value
    starts (``"... bmi is 30.5, smoker is"``: the model writes the blank before the value,
    as first-round prompts leave it the blank before the next piece); with ``open_value``
    the prompt keeps that blank (``"... smoker is "``), for a tokenizer whose name token
    ends with it (the compact backbone's ``"fields"`` split); without a column, the text
    so far and ``","``."""
    text = (prompt + completion).rstrip()
    if column is None:
        return text if text.endswith(",") else text + ","
    named = text + (" " if text.endswith(",") else SEP) + quote(column)
    return named + (IS if open_value else IS.rstrip())


def first_value(more: str) -> str:
    """The first value piece of a completion written after ``"<column> is"``: the text up to
    the next separator (a quoted value may hold one), led by exactly the blank ``IS`` ends
    with; what the model wrote after that value is dropped."""
    m = _VALUE.match(more)
    return " " + m.group("value")


def continue_incomplete(
    prompts: list[str],
    completions: list[str],
    complete: Callable[[list[str], int], list[str]],
    missing: Callable[[list[str], list[str]], list[list[str]]],
    max_continuations: int,
    budget: int,
    seed: list[int],
    name_columns: bool = True,
    open_value: bool = False,
) -> tuple[list[str], np.ndarray]:
    """Fill the features that ``missing`` reports for an otherwise valid row, one named
    column per row and round, at most ``max_continuations`` rounds and ``budget`` rows.

    Each round is one batched call of ``complete``: every row still incomplete is prompted
    with its text so far and the next missing column it was not yet asked for, and keeps
    only the value written for it. ``name_columns=False`` (a tokenizer that writes a column
    name and its value as one token, so that a prompt cannot end between them) prompts the
    text so far and ``","`` instead and keeps the whole completion, at most ``MAX_UNNAMED``
    rounds; then ``budget`` counts continuations, not rows. ``open_value``: named prompts
    end with the blank before the value (see :func:`continuation_prompt`). Returns the
    extended completions and how many times each row was continued.
    """
    completions = list(completions)
    times = np.zeros(len(prompts), dtype=int)
    asked: list[set] = [set() for _ in prompts]
    rounds = max_continuations if name_columns else min(max_continuations, MAX_UNNAMED)
    for k in range(rounds):
        todo, columns = [], []
        spent = int((times > 0).sum()) if name_columns else int(times.sum())
        for i, cols in enumerate(missing(prompts, completions)):
            col = next((c for c in cols if c not in asked[i]), None)
            # Named: a row already continued is always finished, a new one needs budget.
            if col is None or not ((name_columns and times[i]) or spent < budget):
                continue
            spent += not (name_columns and times[i])
            todo.append(i)
            columns.append(col if name_columns else None)
        if not todo:
            break
        heads = [
            continuation_prompt(prompts[i], completions[i], c, open_value)
            for i, c in zip(todo, columns, strict=True)
        ]
        gen_seed = int(np.random.SeedSequence([*seed, 5, k]).generate_state(1)[0])
        for i, c, head, more in zip(todo, columns, heads, complete(heads, gen_seed), strict=True):
            value = first_value(more) if name_columns else more
            if name_columns and open_value:
                value = value[1:]  # the head already ends with the blank
            completions[i] = head[len(prompts[i]) :] + value
            asked[i].add(c)
        times[todo] += 1
    return completions, times


def sample_rounds(
    n: int,
    prompter: Prompter,
    complete: Callable[[list[str], int], list[str]],
    accept: Callable[[list[str], list[str], int], Accepted],
    patience: float,
    seed: int,
    incomplete: Callable[[list[str], list[str]], list[list[str]]] | None = None,
    max_continuations: int = 0,
    complete_value: Callable[[list[str], int], list[str]] | None = None,
    name_columns: bool = True,
    open_value: bool = False,
) -> Rounds:
    """Fill ``n`` slots with valid rows; ``complete(prompts, seed)`` calls the model,
    ``accept(prompts, completions, round)`` judges a round's rows (``round`` counts from 0,
    so that a step of its own, such as Pred-LLM's label queries, can seed each round apart),
    ``incomplete(prompts, completions)`` lists per row the features worth filling by
    continuation (empty for a complete or invalid row; see the module) and
    ``complete_value`` (default ``complete``) completes continuation prompts that name a
    column (``name_columns``, ``open_value``; see :func:`continue_incomplete`)."""
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
        charged = out.n_continued if name_columns else out.n_continuations
        n_first = out.n_completions - charged
        if max_continuations and n_first:
            # Leave room for the continuations these candidates will need (at the rate seen
            # so far); otherwise a late round spends all patience on first completions.
            room = max(1, math.floor(room / (1.0 + charged / n_first)))
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
                (complete_value or complete) if name_columns else complete,
                incomplete,
                max_continuations,
                budget=limit - out.n_completions - len(cand),
                seed=[seed, out.n_rounds],
                name_columns=name_columns,
                open_value=open_value,
            )
        acc = accept(prompts, completions, out.n_rounds)
        n_continued = int((times > 0).sum())
        # A row completed by named columns counts once; unnamed continuations write whole
        # completions and count each.
        out.n_completions += len(cand) + (n_continued if name_columns else int(times.sum()))
        out.n_continued += n_continued
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
