"""MaskedLogits (imbllm/llm/model/masking.py): each distinct mask array gets a slot in the
batch's tables; a step's logits get -inf exactly where its rows' masks block, whatever the
number of distinct masks (past the tables' first size) and after the tables start over."""

from __future__ import annotations

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
    guide = masking.MaskedLogits(_Masks(steps), torch.device("cpu"), {})
    for step in steps:
        logits = torch.randn(rows, width)
        most = guide.apply(logits.clone(), out := logits.clone())
        expected = torch.from_numpy(np.stack(step))
        assert torch.equal(torch.isinf(out), expected == 0)
        assert torch.equal(out[expected == 1], logits[expected == 1])
        assert most == int(expected.sum(1).max())
        guide.advance(torch.zeros(rows, dtype=torch.long))
    assert guide.row_steps == 40 * rows and 0 < guide.masked_mass < 40 * rows
    assert len(guide._allowed) <= 100  # the tables started over instead of growing past it
