"""A batch's step over the constraint in one call (imbllm/llm/constrain/tokens.py, guide.py).

``BatchGuide`` asks the constraint for every row's mask, bound on tokens left and next state
in one call per step (``masks_of``, ``at_most_of``, ``advance_all``), with one dict lookup a
row on a hit. These must give what the per-state calls give, for every reachable state,
finished rows (state None) and the end token included, cold and warm, and after the caches
start over.
"""

from __future__ import annotations

import pytest

pytest.importorskip("torch")

from constrain_table import HAND_VOCAB, table_grammar  # noqa: E402

from imbllm.llm.constrain import TokenConstraint  # noqa: E402
from imbllm.llm.constrain import guide as guide_module  # noqa: E402

VOCAB = [*HAND_VOCAB, b"label is rare", b"label is common"]
EOS = 0


def _walk(tc) -> list[tuple]:
    """Every (state, allowed token) pair reachable from the empty row."""
    start = (0, tc.grammar.name_root)
    seen, todo, pairs = {start}, [start], []
    while todo:
        state = todo.pop()
        for t in tc.masks(state).nonzero()[0].tolist():
            pairs.append((state, t))
            nxt = tc.advance(state, t)
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return pairs


def test_batch_calls_give_what_the_per_state_calls_give(monkeypatch):
    grammar = table_grammar()[0]
    pairs = _walk(TokenConstraint(grammar, VOCAB, eos=EOS))
    assert len(pairs) > 50 and any(t == EOS for _, t in pairs)  # rows end in the walk
    states = [s for s, _ in pairs] + [None, None]
    tokens = [t for _, t in pairs] + [EOS, 5]
    one = TokenConstraint(grammar, VOCAB, eos=EOS)
    expected_masks = [one.masks(s) for s in states]
    expected_next = [one.advance(s, t) for s, t in zip(states, tokens, strict=True)]
    expected_most = [one.lengths.need_at_most(s) for s in states]
    assert sum(s is None for s in expected_next) > 2  # the end token finished some rows

    batch = TokenConstraint(grammar, VOCAB, eos=EOS)
    # Cold (every state a miss), then warm (every state a hit).
    for _ in range(2):
        got = batch.masks_of(states)
        assert all((g == e).all() for g, e in zip(got, expected_masks, strict=True))
        assert batch.advance_all(states, tokens) == expected_next
        assert batch.lengths.at_most_of(states) == expected_most

    # With caches that start over every few states, the answers stay the same.
    small = TokenConstraint(grammar, VOCAB, eos=EOS)
    small.max_cached = 3
    monkeypatch.setattr(guide_module, "AT_MOST_CACHED", 4)
    for cut in range(0, len(states), 7):
        part = states[cut : cut + 7]
        got = small.masks_of(part)
        assert all((g == e).all() for g, e in zip(got, expected_masks[cut:], strict=False))
        assert small.lengths.at_most_of(part) == expected_most[cut : cut + 7]
    assert len(small._by_key) <= 3 and len(small.lengths._at_most) <= 4 + 7
    assert small.masks_of([None])[0] is small.finished  # kept through every clear
