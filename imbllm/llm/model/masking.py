"""Masks applied to logits: where a constraint's masks meet torch.

The model knows nothing of grammars. :func:`imbllm.llm.model.sampling.generate` takes a
constraint already bound to its tokenizer (a :class:`RowConstraint`; the drawer binds the row
grammar of :mod:`imbllm.llm.constrain`), asks it for one :class:`BatchMasks` per batch and, each
step, for one float array per row over the vocabulary (1.0 allowed, 0.0 blocked).
:class:`MaskedLogits` turns those into a -inf bias on the logits, measures the probability
mass the masks removed and tells the sampler how many tokens the widest row may take.
"""

from __future__ import annotations

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


class MaskedLogits:
    """Applies one batch's masks to its logits; keeps the batch's mask telemetry.

    The constraint caches one array per state, so a batch meets few distinct masks, each many
    times. Each distinct array gets a slot in a table of masks and one of -inf biases on the
    model's device (copied there once per call of ``generate`` through ``uploads``, shared by
    its batches); a step gathers its rows' slots in one indexing op rather than stacking one
    tensor per row. The tables hold at most :data:`UPLOAD_BYTES` and start over when full.
    """

    def __init__(self, masks: BatchMasks, device: torch.device, uploads: dict):
        self.masks = masks
        self.device = device
        self.uploads = uploads
        self.masked_mass = 0.0  # probability mass masked away, summed over row-steps
        self.row_steps = 0
        self.seconds = 0.0
        self._clear()

    def _clear(self) -> None:
        # id(array) -> slot; ``_held`` keeps each array alive while it has a slot, so that its
        # id cannot pass to another array.
        self._slots: dict[int, int] = {}
        self._held: list[np.ndarray] = []
        self._allowed: list[int] = []  # tokens each slot allows
        self._keep = self._bias = None

    @property
    def n_cut(self) -> int:
        return self.masks.n_cut

    def _tensor(self, array: np.ndarray) -> torch.Tensor:
        if self.device.type == "cpu":
            return torch.from_numpy(array)
        hit = self.uploads.get(id(array))
        # The entry holds the array, so its id cannot pass to another while it is cached.
        if hit is None or hit[0] is not array:
            if len(self.uploads) * array.nbytes >= UPLOAD_BYTES:
                self.uploads.clear()
            hit = self.uploads[id(array)] = (array, torch.from_numpy(array).to(self.device))
        return hit[1]

    def _slot(self, array: np.ndarray) -> int:
        """The slot of ``array``, added to the tables if it has none."""
        hit = self._slots.get(id(array))
        if hit is not None:
            return hit
        n = len(self._allowed)
        if self._keep is None or n == len(self._keep):
            grown = torch.empty((max(64, 2 * n), array.shape[0]), dtype=torch.float32,
                                device=self.device)
            bias = torch.empty_like(grown)
            if n:
                grown[:n], bias[:n] = self._keep, self._bias
            self._keep, self._bias = grown, bias
        row = self._tensor(array)
        self._keep[n] = row
        self._bias[n] = torch.zeros_like(row).masked_fill_(row == 0, float("-inf"))
        self._allowed.append(int(np.count_nonzero(array)))
        self._slots[id(array)] = n
        self._held.append(array)
        return n

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
        if len(self._allowed) * arrays[0].nbytes >= UPLOAD_BYTES:
            self._clear()
        # One dict lookup a row; arrays new to the tables take the slow path.
        get = self._slots.get
        slots = [get(id(a)) for a in arrays]
        if None in slots:
            slots = [self._slot(a) if s is None else s for s, a in zip(slots, arrays, strict=True)]
        index = torch.tensor(slots, device=self.device)
        # The mass masked away, at the sampling temperature, over rows still writing (one
        # fused softmax: cheaper than two log-sum-exps).
        kept = torch.softmax(scaled, dim=-1).mul_(self._keep.index_select(0, index)).sum(-1)
        live = torch.tensor(self.masks.live(), device=scaled.device)
        self.masked_mass += float((1.0 - kept)[live].sum())
        self.row_steps += int(live.sum())
        (scaled if logits is None else logits).add_(self._bias.index_select(0, index))
        self.seconds += time.perf_counter() - t0
        return max(map(self._allowed.__getitem__, slots))

    # ``seconds`` counts all of the constraint's work: the masks and moving the rows' states.
    def advance(self, tokens: torch.Tensor) -> None:
        t0 = time.perf_counter()
        self.masks.advance(tokens.tolist())
        self.seconds += time.perf_counter() - t0

    def select(self, rows: torch.Tensor) -> None:
        t0 = time.perf_counter()
        self.masks.select(rows.tolist())
        self.seconds += time.perf_counter() - t0
