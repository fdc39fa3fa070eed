"""The grammar and its token masks shared by sampling worker threads.

On a CPU, :func:`imbllm.llm.model.sampling.generate` runs batches on worker threads that step one
:class:`~imbllm.llm.constrain.RowGrammar` and fill one
:class:`~imbllm.llm.constrain.TokenConstraint`'s caches at once. These tests hammer those
caches from many threads released together by a barrier, with the interpreter switching
threads every microsecond so that a race, if the code has one, happens, and check what a race
would break: interned ids and node sets stay one-to-one, and the dead-state counter counts
each dead mask once, as one thread would.
"""

from __future__ import annotations

import pickle
import random
import sys
import threading
from collections.abc import Callable

import pytest

pytest.importorskip("torch")

from constrain_table import HAND_VOCAB, table_grammar  # noqa: E402

from imbllm.llm.constrain import RowGrammar, TokenConstraint  # noqa: E402

N_THREADS = 16


def hammer(work: Callable[[int], object], n_threads: int = N_THREADS) -> list:
    """``work(i)`` on ``n_threads`` threads started together; their results, in order."""
    barrier = threading.Barrier(n_threads)
    out: list = [None] * n_threads
    errors: list = []

    def run(i: int) -> None:
        barrier.wait()
        try:
            out[i] = work(i)
        except Exception as err:  # noqa: BLE001 (re-raised below, in the test's thread)
            errors.append(err)

    old = sys.getswitchinterval()
    sys.setswitchinterval(1e-6)
    try:
        threads = [threading.Thread(target=run, args=(i,)) for i in range(n_threads)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
    finally:
        sys.setswitchinterval(old)
    if errors:
        raise errors[0]
    return out


def assert_one_to_one(grammar) -> None:
    """Every interned id names exactly one node set, and every node set one id."""
    sets, ids = grammar._sets, grammar._ids
    assert len(sets) == len(ids) == len(set(sets))
    assert sorted(ids.values()) == list(range(len(sets)))
    assert all(sets[sid] == nodes for nodes, sid in ids.items())


# Rows written in full, from which every thread walks the grammar (overlapping states).
ROWS = [
    'label is rare, T3 is 1.5, T3_measured is 1, sex is "a, b", neg is -3.5, smoker is yes',
    "label is common, sex is plain, T3_measured is 12, T3 is 10, smoker is no, neg is 2",
    'label is common, smoker is no, neg is 0, sex is "say ""hi""", T3 is 2.25, T3_measured is 5',
    'label is rare, neg is -1, T3_measured is 7, T3 is 3.75, smoker is yes, sex is "x is y"',
]


def test_interned_ids_and_node_sets_stay_one_to_one_under_threads():
    # The interner takes any node set; thousands of them make a race near-certain where the
    # miss path is unguarded (measured without the lock: 20 runs of this test, 20 failures).
    keys = [frozenset({(9, i), (9, i + 1)}) for i in range(4000)]
    for _attempt in range(3):
        grammar = table_grammar()[0]
        before = len(grammar._sets)  # the name root and the separator
        # Each thread interns every key, in its own order: most keys race on first sight.
        orders = [random.Random(i).sample(keys, len(keys)) for i in range(N_THREADS)]
        seen = hammer(lambda i: {k: grammar._intern(k) for k in orders[i]})  # noqa: B023
        assert_one_to_one(grammar)
        assert len(grammar._sets) == before + len(keys)
        # And each thread was handed the id that the grammar keeps for the key.
        assert all(grammar._ids[k] == sid for s in seen for k, sid in s.items())


def test_rows_walked_by_many_threads_reach_the_states_one_thread_reaches():
    one = table_grammar()[0]
    alone = [one.run(row[:cut], (0, one.name_root)) for row in ROWS for cut in range(len(row))]
    grammar = table_grammar()[0]

    def walk(i: int) -> dict:
        rows = ROWS[i % len(ROWS) :] + ROWS[: i % len(ROWS)]
        return {
            row[:cut]: grammar.run(row[:cut], (0, grammar.name_root))
            for row in rows
            for cut in range(len(row))
        }

    walked = hammer(walk)
    assert_one_to_one(grammar)
    # Ids may differ from one thread's numbering; the node sets they name may not.
    texts = [row[:cut] for row in ROWS for cut in range(len(row))]
    for w in walked:
        for text, state in zip(texts, alone, strict=True):
            got = w[text]
            assert (got is None) == (state is None)
            if state is not None:
                assert got[0] == state[0]
                assert grammar._sets[got[1]] == one._sets[state[1]]


VOCAB = [*HAND_VOCAB, b"label is rare", b"label is common"]


def _states(grammar, tc) -> list:
    """Every state reachable from the empty row with ``VOCAB`` (what the threads will mask)."""
    start = (0, grammar.name_root)
    seen, todo = {start}, [start]
    while todo:
        state = todo.pop()
        keep = tc.masks(state)
        for t in keep.nonzero()[0].tolist():
            nxt = tc.advance(state, t)
            if nxt is not None and nxt not in seen:
                seen.add(nxt)
                todo.append(nxt)
    return sorted(seen)


def test_dead_states_are_counted_once_however_many_threads_find_them():
    grammar = table_grammar()[0]
    one = TokenConstraint(grammar, VOCAB, eos=0)
    states = _states(grammar, one)
    assert one.n_dead > 0  # the vocabulary leaves some rows stuck
    for _attempt in range(5):
        # Fresh constraints over the same grammar (the states' ids are its own).
        alone = TokenConstraint(grammar, VOCAB, eos=0)
        shared = TokenConstraint(grammar, VOCAB, eos=0)
        orders = [random.Random(i).sample(states, len(states)) for i in range(N_THREADS)]
        masks = hammer(lambda i: [shared.masks(s) for s in orders[i]])  # noqa: B023
        for s in states:
            alone.masks(s)
        # Each dead mask counted once: the count one thread makes, not one per thread.
        assert shared.n_dead == alone.n_dead == one.n_dead
        assert len(shared._by_key) == len(alone._by_key)
        # Every thread got the masks one thread gets.
        by_state = {s: alone.masks(s) for s in states}
        for order, got in zip(orders, masks, strict=True):
            assert all(bool((m == by_state[s]).all()) for s, m in zip(order, got, strict=True))


def test_a_pickled_grammar_gets_a_lock_of_its_own():
    grammar = table_grammar()[0]
    state = grammar.run(ROWS[0][:40], (0, grammar.name_root))
    loaded = pickle.loads(pickle.dumps(grammar))
    assert loaded._lock is not grammar._lock and loaded._sets == grammar._sets
    assert loaded.run(ROWS[0][40:], state) == grammar.run(ROWS[0][40:], state)
    # A grammar pickled before the lock existed (no "_lock" in its state) gets one too.
    old = pickle.loads(pickle.dumps(grammar.__getstate__()))
    assert "_lock" not in old
    revived = RowGrammar.__new__(RowGrammar)
    revived.__setstate__(old)
    n = len(revived._sets)
    assert hammer(lambda i: revived._intern(frozenset({(9, 0)})), 4) == [n] * 4
    assert_one_to_one(revived)
