"""MaskedLogits and MaskTable (imbllm/llm/model/masking.py): each distinct mask array gets a
slot in the call's tables; a step's logits get -inf exactly where its rows' masks block, whatever
the number of distinct masks (past the tables' first size), after the tables start over, and
with batches on several threads adding slots to one table at once."""

from __future__ import annotations

import sys
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from imbllm.llm.model import masking


class _Masks:
    n_cut = 0

    def __init__(self, steps):
        self.steps, self.t = steps, 0

    def step(self):
        return self.steps[self.t]

    def live(self):
        return [True] * len(self.steps[self.t])

    def advance(self, tokens):
        self.t += 1

    def select(self, rows):
        pass


def test_masks_past_the_first_table_size_and_after_a_reset(monkeypatch):
    rng = np.random.default_rng(0)
    width, rows = 50, 8
    pool = [(rng.random(width) < 0.3).astype(np.float32) for _ in range(150)]
    for a in pool:
        a[0] = 1.0  # every row may take one token
    steps = [[pool[i] for i in rng.integers(0, len(pool), rows)] for _ in range(40)]
    # A small byte budget makes the tables start over several times during the call.
    monkeypatch.setattr(masking, "UPLOAD_BYTES", 100 * width * 4)
    table = masking.MaskTable(torch.device("cpu"))
    guide = masking.MaskedLogits(_Masks(steps), table)
    _run(guide, steps, torch.Generator().manual_seed(0))
    assert guide.row_steps == 40 * rows and 0 < guide.masked_mass < 40 * rows
    assert len(table.current.allowed) <= 100  # the tables started over instead of growing past it


def _run(guide, steps, gen):
    rows, width = len(steps[0]), len(steps[0][0])
    for step in steps:
        logits = torch.randn(rows, width, generator=gen)
        most = guide.apply(logits.clone(), out := logits.clone())
        expected = torch.from_numpy(np.stack(step))
        assert torch.equal(torch.isinf(out), expected == 0)
        assert torch.equal(out[expected == 1], logits[expected == 1])
        assert most == int(expected.sum(1).max())
        guide.advance(torch.zeros(rows, dtype=torch.long))


def test_batches_on_threads_share_one_table():
    rng = np.random.default_rng(1)
    width, rows = 40, 6
    pool = [(rng.random(width) < 0.5).astype(np.float32) for _ in range(300)]
    for a in pool:
        a[0] = 1.0
    batches = [[[pool[i] for i in rng.integers(0, len(pool), rows)] for _ in range(60)]
               for _ in range(8)]
    table = masking.MaskTable(torch.device("cpu"))
    guides = [masking.MaskedLogits(_Masks(b), table) for b in batches]
    # Eight batches on four threads add slots while the others read the tables: every step's
    # logits are still masked exactly (checked inside _run).
    switch = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)  # the interpreter switches threads often, so races happen
    try:
        with ThreadPoolExecutor(4) as pool_:
            list(pool_.map(lambda j: _run(guides[j], batches[j], torch.Generator().manual_seed(j)),
                           range(len(batches))))
    finally:
        sys.setswitchinterval(switch)
    seen = {id(a) for b in batches for step in b for a in step}
    # One slot an array for the whole call, not one per batch that meets it.
    assert len(table.current.allowed) == len(seen) == len(table.current.slots)
    assert sorted(table.current.slots.values()) == list(range(len(seen)))
