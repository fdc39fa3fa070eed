"""Token masks that keep every completion a valid row: the grammar over a tokenizer's bytes.

At each step of :func:`imbllm.llm.model.sampling.generate` every row of a batch has a state
``(written columns, grammar state)`` of :class:`~imbllm.llm.constrain.grammar.RowGrammar`.
A token is allowed when its bytes keep the row inside the grammar, whatever grammar
boundaries they cross (``" age is "`` in the compact ``fields`` tokenizer, ``"Ġis"`` in
GPT-2's): the vocabulary is a byte trie (:class:`~imbllm.llm.constrain.trie.ByteTrie`) walked
against the automaton once per grammar state, which gives each allowed token's next state and
the columns it names. Which columns a row has written then only picks groups of those tokens,
so masks are cached per state and a step costs dict lookups. A mask is a plain float32 array
over the vocabulary (1.0 allowed, 0.0 blocked); the model applies it to its logits
(:mod:`imbllm.llm.model.masking`). The end token is allowed once every column has a finished
value, and a row short of tokens takes only tokens after which it can still end
(:mod:`imbllm.llm.constrain.guide`). Every completion so made passes the strict check
(:func:`imbllm.llm.text.repair.check_rows`) and reads back through the codec's parser.

Sampling worker threads share one bound constraint. A cache hit takes no lock; a miss takes
the constraint's lock and looks again, so that each expansion and mask is built once and the
count of dead states (``n_dead``) is the count one thread makes. The per-batch counters live
on each batch's :class:`~imbllm.llm.constrain.guide.BatchGuide` and are summed after the
threads end.

Why not a library: outlines-core compiles a regular expression into a token-level automaton
and llguidance a context-free grammar; "each column once, in any order" is a language whose
automaton or grammar needs one state per subset of columns (2^27 for the sick table), while
here the written columns are a bit mask beside a small shared automaton.

Example (the drawer binds the grammar to the model's tokenizer and logits width)::

    grammar = RowGrammar.from_codec(codec, schema, X)
    constraint = bind(grammar, lm.tokenizer, width)
    low = constraint.min_new_tokens(prompts)  # the fewest tokens that suffice
    texts = lm.generate(prompts, ..., max_new_tokens=max(low, usual), constraint=constraint).texts
"""

from __future__ import annotations

import json
import threading

import numpy as np

from imbllm.llm.constrain.grammar import RowGrammar
from imbllm.llm.constrain.guide import BatchGuide, RowLengths
from imbllm.llm.constrain.trie import ByteTrie

__all__ = ["TokenConstraint", "bind", "byte_vocabulary"]


def _byte_chars() -> dict[int, str]:
    """GPT-2's byte-level alphabet: printable Latin-1 bytes stand for themselves, the other
    bytes for the characters from U+0100 on, in byte order."""
    printable = [*range(33, 127), *range(161, 173), *range(174, 256)]
    table = {b: chr(b) for b in printable}
    others = [b for b in range(256) if b not in table]
    table.update({b: chr(256 + i) for i, b in enumerate(others)})
    return table


def byte_vocabulary(tokenizer) -> list[bytes | None]:
    """The bytes of every token id of a byte-level BPE tokenizer (None: special tokens)."""
    backend = getattr(tokenizer, "backend_tokenizer", None)
    decoder = json.loads(backend.to_str()).get("decoder") if backend is not None else None
    kind = (decoder or {}).get("type")
    if kind != "ByteLevel":
        raise ValueError(
            f"decoding='constrained' needs a byte-level BPE tokenizer (GPT-2's family or the "
            f"compact backbone's), but {getattr(tokenizer, 'name_or_path', '') or 'this'} "
            f"tokenizer decodes with {kind or 'no fast-tokenizer decoder'}; use "
            "decoding='free' with this backbone."
        )
    char_byte = {c: b for b, c in _byte_chars().items()}
    special = set(tokenizer.all_special_ids) | set(tokenizer.added_tokens_decoder)
    out: list[bytes | None] = []
    for t, piece in enumerate(tokenizer.convert_ids_to_tokens(list(range(len(tokenizer))))):
        ok = t not in special and piece and all(c in char_byte for c in piece)
        out.append(bytes(char_byte[c] for c in piece) if ok else None)
    return out


def bind(constraint, tokenizer, width: int | None = None) -> TokenConstraint:
    """``constraint`` over ``tokenizer``'s vocabulary (``width`` logits): a
    :class:`TokenConstraint` as is, a :class:`RowGrammar` bound once per tokenizer and width
    (its masks cached across calls)."""
    if isinstance(constraint, TokenConstraint):
        return constraint
    if not isinstance(constraint, RowGrammar):
        raise TypeError(
            f"constraint={type(constraint).__name__} is neither a RowGrammar nor a "
            "TokenConstraint; build one with RowGrammar.from_codec(codec, schema, X)."
        )
    key = (id(tokenizer), width)
    hit = constraint._bound.get(key)
    if hit is None or hit[0] is not tokenizer:
        vocab = byte_vocabulary(tokenizer)
        hit = constraint._bound[key] = (
            tokenizer,
            TokenConstraint(constraint, vocab, tokenizer.eos_token_id, width),
        )
    return hit[1]


#: Memory the cached masks may hold: a mask per (state, written columns) is cheap to rebuild
#: from its state's token groups, and wide tables make many distinct ones.
CACHE_BYTES = 256 * 2**20


class _Expansion:
    """The allowed tokens of one grammar state, grouped by what they need of the row.

    Groups are kept as token ids, not as masks over the vocabulary: a state allows few
    tokens, so its cost grows with them rather than with the vocabulary (a dense row per group
    cost 50 KB each over GPT-2's vocabulary)."""

    def __init__(self, moves: dict, keys: list, groups: list, relevant: int, done: bool,
                 touched: int):
        self.moves = moves  # token -> (next state, column bits it names)
        self.keys = keys  # per group: (column bits named, candidates or -1)
        self.groups = groups  # per group: its token ids (int32 array)
        self.relevant = relevant  # written columns that can change the mask
        self.done = done  # a value is finished here
        self.touched = touched  # trie nodes looked at to build it (telemetry)
        self.nexts = None  # (next state, tokens leading there): TokenConstraint.next_states

    @property
    def nbytes(self) -> int:
        """Bytes of its arrays (the token ids of its groups and next states)."""
        arrays = list(self.groups) + [ts for _, ts in self.nexts or ()]
        return sum(a.nbytes for a in arrays)


class TokenConstraint:
    """Masks over a vocabulary given as byte strings (build with :func:`bind`)."""

    def __init__(self, grammar: RowGrammar, vocab: list, eos: int, width: int | None = None):
        self.grammar = grammar
        self.eos = int(eos)
        self.width = max(int(width or 0), len(vocab), self.eos + 1)
        # The vocabulary as a byte trie, so that tokens sharing a prefix share its walk.
        pieces = [None if not p or t == self.eos else p for t, p in enumerate(vocab)]
        self._trie = ByteTrie(pieces, with_under=False)
        self._expansions: dict[int, _Expansion] = {}
        self.finished = np.zeros(self.width, dtype=np.float32)
        self.finished[self.eos] = 1.0
        # A finished row (state None) has its mask here too, so a step's lookups need no test.
        self._by_state: dict = {None: self.finished}
        self._by_key: dict = {}
        # Two float arrays a mask once (keep and bias): the budget counts as it did then.
        self.max_cached = max(64, CACHE_BYTES // (8 * self.width))
        self.n_touched = 0  # trie nodes looked at by every expansion (telemetry)
        self.lengths = RowLengths(self)
        self.n_dead = 0  # dead-end masks built (written under the lock)
        # Reentrant: a mask's miss path builds its state's expansion, which takes it again.
        self._lock = threading.RLock()

    def _expand(self, sid: int) -> _Expansion:
        g, trie = self.grammar, self._trie
        moves: dict = {}
        touched = 0
        # Depth-first over the vocabulary trie; a branch stops where the grammar does, or
        # where a token would name one column twice.
        stack = [(0, sid, 0)]
        while stack:
            node, s, named = stack.pop()
            children = trie.children[node]
            touched += len(children)
            for byte, child in children.items():
                nxt = g.step(s, byte)
                if nxt is None or nxt[1] & named:
                    continue
                s2, named2 = nxt[0], named | nxt[1]
                if trie.key_of[child] is not None:
                    moves[trie.key_of[child]] = (s2, named2)
                if trie.children[child]:
                    stack.append((child, s2, named2))
        by_need: dict = {}
        for t, (s2, named2) in moves.items():
            cands = g.candidates(s2)
            by_need.setdefault((named2, -1 if cands is None else cands), []).append(t)
        keys = list(by_need)
        groups = [np.array(by_need[key], dtype=np.int32) for key in keys]
        relevant = 0
        for named2, cands in keys:
            # "Some column left" (cands = all) only asks whether the row is complete, which
            # the cache key holds apart; it needs every bit only after naming a column.
            relevant |= named2 | (cands if cands not in (-1, g.all) else 0)
            if cands == g.all and named2:
                relevant = g.all
        self.n_touched += touched
        return _Expansion(moves, keys, groups, relevant, g.complete(sid), touched)

    def _fill(self, cache: dict, key, build):
        """``cache[key]`` after a lock-free miss: looked up again under the lock, and built
        there by ``build(key)`` if still missing, so that it is built once."""
        with self._lock:
            value = cache.get(key)
            if value is None:
                value = cache[key] = build(key)
            return value

    def _expansion(self, sid: int) -> _Expansion:
        e = self._expansions.get(sid)
        return e if e is not None else self._fill(self._expansions, sid, self._expand)

    def next_states(self, sid: int) -> list:
        """The states the allowed tokens of ``sid`` lead to: ``((written bits, state), token
        ids)`` pairs, the token ids an int array (memoised with the state's expansion; a pure
        function, so threads that race store the same value)."""
        e = self._expansion(sid)
        if e.nexts is None:
            by_next: dict = {}
            for t, nxt in e.moves.items():
                by_next.setdefault(nxt, []).append(t)
            e.nexts = [(nxt, np.array(ts, dtype=np.int64)) for nxt, ts in by_next.items()]
        return e.nexts

    def cache_bytes(self) -> dict:
        """Bytes its caches hold, by kind: the states' expansions (token ids, growing with the
        tokens each state allows) and the masks and token needs over the vocabulary (each
        bounded by :data:`CACHE_BYTES`, cleared when full). Telemetry for tests and benches."""
        return {
            "expansions": sum(e.nbytes for e in list(self._expansions.values())),
            "masks": sum(m.nbytes for m in list(self._by_key.values())),
            **self.lengths.cache_bytes(),
        }

    def masks(self, state) -> np.ndarray:
        """Float32 over the vocabulary: 1.0 for tokens that keep the row in the grammar, 0.0
        for the others (the model turns 0.0 into a -inf logit)."""
        if state is None:
            return self.finished
        m = self._by_state.get(state)
        return m if m is not None else self._fill(self._by_state, state, self._build_masks)

    def masks_of(self, states: list) -> list[np.ndarray]:
        """:meth:`masks` of each state: one dict lookup a row when all are cached (a step
        of a batch), the per-state path otherwise."""
        by_state = self._by_state
        try:
            return [by_state[s] for s in states]
        except KeyError:
            return [self.masks(s) for s in states]

    def _build_masks(self, state) -> np.ndarray:
        """:meth:`masks` of a state not cached by state (called under the lock)."""
        written, sid = state
        e = self._expansion(sid)
        full = written == self.grammar.all
        key = (sid, written & e.relevant, full)
        m = self._by_key.get(key)
        if m is None:
            ok = [
                not named & written and (cands == -1 or bool(cands & ~(written | named)))
                for named, cands in e.keys
            ]
            allowed = np.zeros(self.width, dtype=bool)
            for ids, keep in zip(e.groups, ok, strict=True):
                if keep:
                    allowed[ids] = True
            if (e.done and full) or not allowed.any():
                # A dead end (a vocabulary that cannot spell the rest) ends the row too.
                self.n_dead += not (e.done and full)
                allowed[self.eos] = True
            if len(self._by_key) >= self.max_cached:
                self._by_key.clear()
                self._by_state.clear()
                self._by_state[None] = self.finished
            m = self._by_key[key] = allowed.astype(np.float32)
        return m

    def advance(self, state, token: int):
        """The state after ``token`` (None once the row has ended)."""
        if state is None or token == self.eos:
            return None
        written, sid = state
        s2, named = self._expansion(sid).moves[token]
        return written | named, s2

    def advance_all(self, states: list, tokens: list[int]) -> list:
        """:meth:`advance` of each row, in one loop (a step of a batch)."""
        eos, expansions = self.eos, self._expansions
        out = []
        for state, token in zip(states, tokens, strict=True):
            if state is None or token == eos:
                out.append(None)
                continue
            written, sid = state
            e = expansions.get(sid) or self._expansion(sid)
            s2, named = e.moves[token]
            out.append((written | named, s2))
        return out

    def min_new_tokens(self, prompts) -> int:
        """The fewest tokens that let every prompt's row end (end token included): with
        ``max_new_tokens`` at least this, a constrained row is never cut."""
        return self.lengths.min_new_tokens(prompts)

    def guide(self, prompts: list[str], max_new_tokens: int) -> BatchGuide:
        """Per-row states of one batch, started from the prompts' texts, for completions of
        at most ``max_new_tokens`` tokens (:class:`imbllm.llm.model.masking.RowConstraint`)."""
        states = self.grammar.starts(prompts)
        return BatchGuide(self, states, max_new_tokens)
