"""Masks applied to logits: where a constraint's masks meet torch.

The model knows nothing of grammars. :func:`imbllm.llm.model.sampling.generate` takes a
constraint already bound to its tokenizer (a :class:`RowConstraint`; the drawer binds the row
grammar of :mod:`imbllm.llm.constrain`), asks it for one :class:`BatchMasks` per batch and, each
step, for one float array per row over the vocabulary (1.0 allowed, 0.0 blocked).
:class:`MaskedLogits` turns those into a -inf bias on the logits, measures the probability
mass the masks removed and tells the sampler how many tokens the widest row may take.
"""

from __future__ import annotations

import threading
import time
from typing import Protocol

import numpy as np
import torch

#: Device memory the masks copied in one call of ``generate`` may hold before they are dropped.
UPLOAD_BYTES = 256 * 2**20


class BatchMasks(Protocol):
    """One batch's rows under a constraint, kept in step with the decoder's rows."""

    n_cut: int  #: rows that could not end in time

    def step(self) -> list[np.ndarray]:
        """This step's masks: per row, float32 over the vocabulary, 1.0 where allowed."""
        ...

    def live(self) -> list[bool]:
        """Per row, whether it is still writing."""
        ...

    def advance(self, tokens: list[int]) -> None:
        """Each row took its token."""
        ...

    def select(self, rows: list[int]) -> None:
        """Only these rows go on (the decoder dropped the others)."""
        ...


class RowConstraint(Protocol):
    """A constraint bound to a tokenizer, as ``generate`` takes it."""

    n_dead: int  #: dead-end masks built so far (telemetry)

    def guide(self, prompts: list[str], max_new_tokens: int) -> BatchMasks:
        """The masks of one batch of completions of ``prompts``."""
        ...


class _Tables:
    """One generation of a :class:`MaskTable`: slots, their arrays and the two tables."""

    def __init__(self):
        # id(array) -> slot; ``held`` keeps each array alive while it has a slot, so that its
        # id cannot pass to another array.
        self.slots: dict[int, int] = {}
        self.held: list[np.ndarray] = []
        self.allowed: list[int] = []  # tokens each slot allows
        self.keep = self.bias = None


class MaskTable:
    """Each distinct mask array of one call of ``generate``, as a row of a table of masks and
    one of -inf biases on the model's device, shared by the call's batches.

    The constraint caches one array per state, so the batches meet the same few arrays many
    times: shared, an array is copied to the device and turned into a bias once per call
    rather than once per batch (an eighth of the worker threads' time with the lock held, when
    each batch had its own tables). The threads add slots under a lock, publishing a slot only
    once its rows are written; a grown table is a new tensor, and the tables start over (a
    new :class:`_Tables`) past :data:`UPLOAD_BYTES`, so a step that read the current tables
    keeps valid rows whatever the other threads add meanwhile.
    """

    def __init__(self, device: torch.device):
        self.device = device
        self._lock = threading.Lock()
        self.current = _Tables()

    def slots(self, arrays: list[np.ndarray]) -> tuple[_Tables, list[int]]:
        """The tables and each array's slot in them (added if missing)."""
        tables = self.current
        if len(tables.allowed) * arrays[0].nbytes >= UPLOAD_BYTES:
            with self._lock:
                if self.current is tables:
                    self.current = _Tables()
                tables = self.current
        # One dict lookup a row; arrays new to the tables take the locked path.
        get = tables.slots.get
        slots = [get(id(a)) for a in arrays]
        if None in slots:
            with self._lock:
                slots = [self._add(tables, a) if s is None else s
                         for s, a in zip(slots, arrays, strict=True)]
        return tables, slots

    def _add(self, tables: _Tables, array: np.ndarray) -> int:
        """The slot of ``array`` in ``tables``, added if it has none (under the lock)."""
        hit = tables.slots.get(id(array))
        if hit is not None:
            return hit
        n = len(tables.allowed)
        if tables.keep is None or n == len(tables.keep):
            grown = torch.empty((max(64, 2 * n), array.shape[0]), dtype=torch.float32,
                                device=self.device)
            bias = torch.empty_like(grown)
            if n:
                grown[:n], bias[:n] = tables.keep[:n], tables.bias[:n]
            tables.keep, tables.bias = grown, bias
        tables.keep[n] = torch.from_numpy(array)
        tables.bias[n] = torch.zeros_like(tables.keep[n]).masked_fill_(tables.keep[n] == 0,
                                                                       float("-inf"))
        tables.allowed.append(int(np.count_nonzero(array)))
        tables.held.append(array)
        tables.slots[id(array)] = n  # last: a reader sees the slot only once it is written
        return n


class MaskedLogits:
    """Applies one batch's masks to its logits; keeps the batch's mask telemetry.

    A step gathers its rows' slots of the call's :class:`MaskTable` in one indexing op rather
    than stacking one tensor per row.
    """

    def __init__(self, masks: BatchMasks, table: MaskTable):
        self.masks = masks
        self.table = table
        self.masked_mass = 0.0  # probability mass masked away, summed over row-steps
        self.row_steps = 0
        self.seconds = 0.0

    @property
    def n_cut(self) -> int:
        return self.masks.n_cut

    def apply(self, scaled: torch.Tensor, logits: torch.Tensor | None = None) -> int:
        """Set the blocked tokens of ``logits`` (``scaled``, the logits at the sampling
        temperature, when None) to -inf, in place; the most tokens a row may take."""
        t0 = time.perf_counter()
        arrays = self.masks.step()
        if arrays[0].shape[0] != scaled.shape[1]:
            raise ValueError(
                f"the model has {scaled.shape[1]} logits but the constraint was built for "
                f"{arrays[0].shape[0]} tokens; bind it with width={scaled.shape[1]}."
            )
        tables, slots = self.table.slots(arrays)
        # Through numpy: torch.tensor on a list parses each item with the lock held.
        index = torch.from_numpy(np.array(slots, dtype=np.int64)).to(self.table.device)
        # The mass masked away, at the sampling temperature, over rows still writing (one
        # fused softmax: cheaper than two log-sum-exps).
        kept = torch.softmax(scaled, dim=-1).mul_(tables.keep.index_select(0, index)).sum(-1)
        live = torch.from_numpy(np.array(self.masks.live(), dtype=bool)).to(scaled.device)
        self.masked_mass += float((1.0 - kept)[live].sum())
        self.row_steps += int(live.sum())
        (scaled if logits is None else logits).add_(tables.bias.index_select(0, index))
        self.seconds += time.perf_counter() - t0
        return max(map(tables.allowed.__getitem__, slots))

    # ``seconds`` counts all of the constraint's work: the masks and moving the rows' states.
    def advance(self, tokens: torch.Tensor) -> None:
        t0 = time.perf_counter()
        self.masks.advance(tokens.tolist())
        self.seconds += time.perf_counter() - t0

    def select(self, rows: torch.Tensor) -> None:
        t0 = time.perf_counter()
        self.masks.select(rows.tolist())
        self.seconds += time.perf_counter() - t0
