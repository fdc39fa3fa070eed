"""Per batch and per row length: what :mod:`imbllm.llm.constrain` needs while sampling.

:class:`BatchGuide` keeps the grammar states of one batch in step with the decoder's rows
(the end token, dropped rows) and gives each step's masks, one float array per row, which
the model applies to its logits (:mod:`imbllm.llm.model.masking`, where the probability mass
masked away is measured). :class:`RowLengths` counts the fewest tokens that finish a row from a state, so
that a row short of tokens may only take a token after which it can still end: then
``max_new_tokens`` never cuts a constrained row, however small, as long as it is at least
:meth:`RowLengths.min_new_tokens` (a shortest path through the token automaton, piece by
piece: the piece being written, then ``", <name> is <value>"`` for each column left).

A :class:`BatchGuide` belongs to one batch, so to one worker thread: its counters need no
lock. :class:`RowLengths` is shared by the threads, but its caches memoise pure functions of
a state: two threads that miss at once store the same value, so they take no lock either.
"""

from __future__ import annotations

import numpy as np

INF = float("inf")
#: States whose :meth:`RowLengths.need_at_most` is memoised at once (about 200 bytes each).
AT_MOST_CACHED = 1 << 16


def _bits(mask: int):
    """Positions of the set bits of ``mask``."""
    j = 0
    while mask:
        if mask & 1:
            yield j
        mask >>= 1
        j += 1


class RowLengths:
    """Fewest tokens to the end of a row, for one
    :class:`~imbllm.llm.constrain.tokens.TokenConstraint`."""

    def __init__(self, constraint):
        self.c = constraint
        self._finished_need = np.full(constraint.width, INF, dtype=np.float32)
        self._finished_need[constraint.eos] = 0.0
        self._needs: dict = {}
        self._dist: dict = {}
        self._need_max: dict = {}
        self._plans: dict = {}
        self._left: dict = {}
        self._at_most: dict = {}

    def min_new_tokens(self, prompts) -> int:
        """The fewest tokens that let every prompt's row end (end token included)."""
        most, worst = 0.0, ""
        unique = list(set(prompts))
        for p, state in zip(unique, self.c.grammar.starts(unique), strict=True):
            n = self._to_end(state)
            most, worst = (n, p) if n > most else (most, worst)
        if most == INF:
            raise ValueError(
                f"prompt {worst[-60:]!r} leaves no row to complete (every column is named and "
                "it ends with ','); end such prompts after a value, or use decoding='free'."
            )
        return int(most) + 1

    def need(self, state) -> np.ndarray:
        """Per token, how many tokens a row needs after it to end (the end token included;
        inf where the token is blocked)."""
        if state is None:
            return self._finished_need
        out = self._needs.get(state)
        if out is None:
            written, sid = state
            (at, cost), (tokens, group, to_names), _ = self._plan(sid)
            left = self._pieces(written)
            out = np.full(self.c.width, INF, dtype=np.float32)
            out[at] = cost + (left + 1)
            if to_names:
                # Tokens that end before a name: the cheapest column still free decides.
                best = [
                    next((cost for cost, j in options if not (written | named) >> j & 1), INF)
                    - drop
                    for named, drop, options in to_names
                ]
                out[tokens] = np.array(best, dtype=out.dtype)[group] + (left + 1)
            keep = self.c.masks(state)
            out[keep == 0] = INF
            if keep[self.c.eos]:
                out[self.c.eos] = 0.0
            self._need_max[state] = float(out[np.isfinite(out)].max())
            if len(self._needs) >= self.c.max_cached:
                self._needs.clear()
            self._needs[state] = out
        return out

    def _plan(self, sid: int):
        """What :meth:`need` needs of a state whatever the row wrote: per token landing in a
        value, its tokens to finish that piece less the pieces it wrote; the
        tokens landing before a name, by next state, with the cost of each column it may
        name; and an upper bound of both. The first is kept as (token ids, costs): a state
        allows few tokens, and a vector over a 50k vocabulary per state would cost 200 KB."""
        if sid not in self._plans:
            g = self.c.grammar
            base = np.full(self.c.width, INF, dtype=np.float32)
            to_names, name_tokens = [], []
            for (s2, named), tokens in self.c.next_states(sid):
                drop = sum(self._piece(j) for j in _bits(named))
                if g.column(s2) is not None:
                    base[tokens] = self._in_piece(s2, -1) - drop
                else:
                    # The name's column is yet to choose: its options, cheapest first.
                    cands = _bits(g.candidates(s2) or 0)
                    options = sorted((self._in_piece(s2, j) - self._piece(j), j) for j in cands)
                    to_names.append((named, drop, options))
                    name_tokens.append(tokens)
            # The most any token can leave to do beyond the pieces still to write.
            finite = base[np.isfinite(base)]
            most = [float(finite.max())] if len(finite) else []
            most += [o[-1][0] - drop for _, drop, o in to_names if o]
            # The tokens before a name, flat, with the group each belongs to.
            names = (None, None, [])
            if to_names:
                group = [np.full(len(t), i, dtype=np.int64) for i, t in enumerate(name_tokens)]
                names = (np.concatenate(name_tokens), np.concatenate(group), to_names)
            at = np.flatnonzero(base != INF)  # as the dense vector had them, NaN included
            self._plans[sid] = ((at, base[at]), names, max(most, default=0.0))
        return self._plans[sid]

    def cache_bytes(self) -> dict:
        """Bytes of its need vectors (bounded by the constraint's ``max_cached``) and of its
        per-state plans (growing with the tokens each state allows)."""
        return {
            "needs": sum(v.nbytes for v in list(self._needs.values())),
            "plans": sum(self.plan_bytes(p) for p in list(self._plans.values())),
        }

    @staticmethod
    def plan_bytes(plan) -> int:
        """Bytes of one state's plan (its arrays)."""
        (at, cost), (tokens, group, _), _ = plan
        return at.nbytes + cost.nbytes + sum(a.nbytes for a in (tokens, group) if a is not None)

    def need_at_most(self, state) -> float:
        """A cheap upper bound on :meth:`need_max` (no vector): rows under it skip the check."""
        if state is None:
            return 0.0
        written, sid = state
        return self._plan(sid)[2] + self._pieces(written) + 1

    def at_most_of(self, states: list) -> list[float]:
        """:meth:`need_at_most` of each state (memoised by state; the memo starts over past
        :data:`AT_MOST_CACHED` states, a wide table's rows visit many)."""
        cache = self._at_most
        try:
            return [cache[s] for s in states]
        except KeyError:
            if len(cache) >= AT_MOST_CACHED:
                cache.clear()
            out = [self.need_at_most(s) for s in states]
            cache.update(zip(states, out, strict=True))
            return out

    def _pieces(self, written: int) -> float:
        """Fewest tokens of the pieces of every column not yet written."""
        if written not in self._left:
            n = len(self.c.grammar.columns)
            self._left[written] = sum(self._piece(j) for j in range(n) if not written >> j & 1)
        return self._left[written]

    def need_max(self, state) -> float:
        """The most tokens any allowed token leaves a row needing."""
        if state is None:
            return 0.0
        if state not in self._need_max:
            self.need(state)
        return self._need_max[state]

    def _to_end(self, state) -> float:
        """Fewest tokens that finish the row from ``state`` (end token excluded): the piece
        being written, then each column left as ``", <name> is <value>"``."""
        written, sid = state
        left = self._pieces(written)
        if self.c.grammar.column(sid) is not None:
            return self._in_piece(sid, -1) + left
        free = (self.c.grammar.candidates(sid) or 0) & ~written
        options = (self._in_piece(sid, j) - self._piece(j) for j in _bits(free))
        return min(options, default=float("inf")) + left

    def _piece(self, j: int) -> float:
        # "," (a token of every byte-level vocabulary), then the name and a value of j.
        return 1 + self._in_piece(self.c.grammar.sep, j)

    def _in_piece(self, sid: int, j: int) -> float:
        """Fewest tokens from ``sid`` to a finished value without leaving the piece (column
        ``j`` when ``sid`` is before the value): a shortest path, memoised."""
        key = (sid, j)
        if key not in self._dist:
            g = self.c.grammar
            col = g.column(sid)
            best = 0 if col is not None and g.complete(sid) else float("inf")
            if best:
                for (s2, named), _ in self.c.next_states(sid):
                    c2 = g.column(s2)
                    if col is not None:
                        stays = named == 0 and c2 == col
                    else:
                        stays = (
                            named == 0 and c2 is None and (g.candidates(s2) or 0) >> j & 1
                        ) or (named == 1 << j and c2 == j)
                    if stays:
                        best = min(best, 1 + self._in_piece(s2, j if col is None else -1))
            self._dist[key] = best
        return self._dist[key]


class BatchGuide:
    """The constraint's states of one batch, kept in step with the decoder's rows: the
    :class:`imbllm.llm.model.masking.BatchMasks` that sampling asks for each step's masks."""

    def __init__(self, constraint, states: list, max_new_tokens: int):
        self.constraint = constraint
        self.states = states
        self.max_new_tokens = int(max_new_tokens)
        # Fewer tokens than the longest row has bytes: then a row may only take a token after
        # which it can still end in time (max_new_tokens never cuts a row).
        bound = max((constraint.grammar.max_bytes(s) for s in states if s), default=0) + 1
        self.short = self.max_new_tokens < bound
        self.t = 0
        self.n_cut = 0  # rows that could not end in time (a prompt already too long)

    @property
    def width(self) -> int:
        return self.constraint.width

    def step(self) -> list[np.ndarray]:
        """This step's masks, one float32 array per row (1.0 allowed, 0.0 blocked)."""
        keep = self.constraint.masks_of(self.states)
        if self.short:
            self._within(keep, self.max_new_tokens - self.t)
        self.t += 1
        return keep

    def live(self) -> list[bool]:
        """Per row, whether it is still writing (it has not drawn the end token)."""
        return [s is not None for s in self.states]

    def _within(self, keep: list, left: int) -> None:
        """Refuse, in place, tokens after which a row could not end in ``left - 1`` tokens
        (only rows whose longest need exceeds that are looked at)."""
        c = self.constraint
        lengths = c.lengths
        at_most = lengths.at_most_of(self.states)
        short = [
            i
            for i, (s, most) in enumerate(zip(self.states, at_most, strict=True))
            if most > left - 1 and lengths.need_max(s) > left - 1
        ]
        if not short:
            return
        fits = np.stack([lengths.need(self.states[i]) for i in short]) <= left - 1
        stuck = ~fits.any(-1)
        if stuck.any():
            fits[stuck, c.eos] = True
            self.n_cut += int(stuck.sum())
        for row, ok in zip(short, fits, strict=True):
            keep[row] = ok.astype(np.float32)

    def advance(self, tokens: list[int]) -> None:
        self.states = self.constraint.advance_all(self.states, tokens)

    def select(self, rows: list[int]) -> None:
        self.states = [self.states[i] for i in rows]
