"""The rows a fitted table allows, as a byte automaton: the grammar of constrained decoding.

A row is ``"<column> is <value>"`` pieces joined by ``", "`` (:mod:`imbllm.llm.text.serialize`),
every column exactly once, in any order. Names and categories (the class labels included) are
tries over their written bytes, quoted as the serialiser quotes them; numbers follow the
column's learnt format (integer or at most ``decimals`` decimals, shortest form: no leading
zeros, no trailing fractional zeros, no ``-0``) and stay inside its observed range, checked
on every prefix, so a number that has started can always be finished. ``digits`` numbers
(TapTap) put one blank between characters (``"3 3 . 7 7"``).

Which columns are written lives outside the automaton, as a bit mask ``W``, so that states
are shared by all rows: a state is a set of automaton nodes (a set because a value such as
``"a,b"`` is, after ``"a,"``, both a longer value and a separator), interned as an int.
A step reports the column whose name it completed; :mod:`imbllm.llm.constrain.tokens` turns
states into token masks. Every completion the automaton accepts passes
:func:`imbllm.llm.text.repair.check_rows` in strict mode.

Sampling worker threads (:func:`imbllm.llm.model.sampling.generate`) step one grammar at once. Its
caches are filled as rows go, so they cannot be built before the threads start: reads take
no lock, and interning, the one write whose result depends on the order of writers (it hands
out ids), takes a lock on its miss path. The other caches memoise pure functions of interned
states: two threads that miss at once compute and store the same value.
"""

from __future__ import annotations

import threading

import pandas as pd

from imbllm.llm.constrain.numbers import NumberSpec
from imbllm.llm.constrain.trie import ByteTrie
from imbllm.llm.text.serialize import IS, SEP, RowCodec, format_numbers, parse_texts, quote
from imbllm.schema import TableSchema

SEP_NODE, NAME, CAT, NUM = 0, 1, 2, 3
_COMMA, _BLANK = ord(","), ord(" ")


class RowGrammar:
    """Rows of one fitted table as a byte automaton (see the module docstring).

    ``columns`` in order; ``categories[c]`` the written texts (unquoted) of a categorical
    column or of the label column; ``numbers[c]`` a :class:`NumberSpec`. Build it from what
    the engine has at fit with :meth:`from_codec`.
    """

    def __init__(self, columns: list[str], categories: dict, numbers: dict):
        self.columns = [str(c) for c in columns]
        missing = [c for c in self.columns if (c in categories) == (c in numbers)]
        if missing:
            raise ValueError(
                f"columns {missing} need exactly one domain: categories or numbers; give each "
                "column a list of written values or a NumberSpec."
            )
        self.all = (1 << len(self.columns)) - 1
        self.numbers = [numbers.get(c) for c in self.columns]
        self.values = [
            None if c in numbers else ByteTrie([quote(str(v)).encode() for v in categories[c]])
            for c in self.columns
        ]
        self.names = ByteTrie([(quote(c) + IS).encode() for c in self.columns])
        self._sets: list[frozenset] = []
        self._ids: dict = {}
        self._steps: dict = {}
        self._bound: dict = {}
        self._cands: dict = {}
        self._lock = threading.Lock()
        # The longest ", <name> is <value>" of each column.
        self._longest = [
            len(SEP)
            + len((quote(c) + IS).encode())
            + (spec.max_bytes() if spec else max(t.depths()))
            for c, spec, t in zip(self.columns, self.numbers, self.values, strict=True)
        ]
        self.name_root = self._intern(frozenset({(NAME, 0)}))
        self.sep = self._intern(frozenset({(SEP_NODE,)}))
        self._prompts: dict = {}

    @classmethod
    def from_codec(cls, codec: RowCodec, schema: TableSchema, X: pd.DataFrame) -> RowGrammar:
        """The grammar of rows written by ``codec``: features and label, categories and
        labels as the codec writes them, numbers in the format and range learnt from ``X``
        (the training frame the schema was inferred on, columns as strings)."""
        numbers, categories = {}, {}
        for c in codec.features:
            if c in codec.numeric:
                text = format_numbers(X[c], "plain")
                decimals = (
                    0
                    if schema.integer.get(c, False)
                    else int(text.str.partition(".")[2].str.len().max())
                )
                numbers[c] = NumberSpec(
                    schema.low[c], schema.high[c], decimals, codec.number_format == "digits"
                )
            else:
                categories[c] = list(codec.category_text[c].values())
        categories[codec.target] = list(codec.label_text.values())
        return cls(codec.columns, categories, numbers)

    def __getstate__(self):
        # Token constraints bound to a tokenizer are rebuilt on demand, never pickled; a
        # lock cannot be.
        state = {**self.__dict__, "_bound": {}}
        state.pop("_lock", None)
        return state

    def __setstate__(self, state: dict) -> None:
        self.__dict__.update(state)
        self._lock = threading.Lock()

    # -- the automaton ----------------------------------------------------------------------
    def _intern(self, nodes: frozenset) -> int:
        sid = self._ids.get(nodes)
        if sid is None:
            # Two threads reading the same length would hand one id to two node sets.
            with self._lock:
                sid = self._ids.get(nodes)
                if sid is None:
                    # Listed before it is published, so a reader of the id finds its set.
                    self._sets.append(nodes)
                    sid = self._ids[nodes] = len(self._sets) - 1
        return sid

    def _complete_node(self, node: tuple) -> bool:
        if node[0] == CAT:
            return self.values[node[1]].key_of[node[2]] is not None
        return node[0] == NUM and self.numbers[node[1]].accepts(node[2])

    def _value_start(self, j: int) -> tuple:
        return (NUM, j, NumberSpec.START) if self.numbers[j] else (CAT, j, 0)

    def _node_step(self, node: tuple, byte: int, out: set) -> int:
        """Add the successors of ``node`` on ``byte`` to ``out``; the column it names, as a bit."""
        kind = node[0]
        if kind == SEP_NODE:
            if byte == _BLANK:
                out.add((NAME, 0))
            return 0
        if kind == NAME:
            child = self.names.children[node[1]].get(byte)
            if child is None:
                return 0
            j = self.names.key_of[child]
            if j is None:
                out.add((NAME, child))
                return 0
            out.add(self._value_start(j))
            return 1 << j
        if byte == _COMMA and self._complete_node(node):
            out.add((SEP_NODE,))
        if kind == CAT:
            child = self.values[node[1]].children[node[2]].get(byte)
            if child is not None:
                out.add((CAT, node[1], child))
        else:
            nxt = self.numbers[node[1]].step(node[2], byte)
            if nxt is not None:
                out.add((NUM, node[1], nxt))
        return 0

    def step(self, sid: int, byte: int):
        """``(state, named column bits)`` after ``byte``, or None where the row cannot go on."""
        key = (sid, byte)
        if key not in self._steps:
            out: set = set()
            named = 0
            for node in self._sets[sid]:
                named |= self._node_step(node, byte, out)
            self._steps[key] = (self._intern(frozenset(out)), named) if out else None
        return self._steps[key]

    def complete(self, sid: int) -> bool:
        """Whether a value has just been finished (the row may end or a separator follow)."""
        return any(self._complete_node(n) for n in self._sets[sid])

    def column(self, sid: int) -> int | None:
        """The column whose value ``sid`` is in (None: between values or in a name)."""
        return next((n[1] for n in self._sets[sid] if n[0] in (CAT, NUM)), None)

    def candidates(self, sid: int) -> int | None:
        """Columns one of which must still be named from ``sid`` (None: none is needed)."""
        if sid not in self._cands:
            self._cands[sid] = self._candidates(sid)
        return self._cands[sid]

    def _candidates(self, sid: int) -> int | None:
        out = 0
        for node in self._sets[sid]:
            if node[0] == SEP_NODE:
                return self.all
            if node[0] == NAME:
                out |= self.names.under[node[1]]
            else:
                return None
        return out

    def run(self, text: str, state: tuple[int, int]):
        """``state`` (written columns, automaton state) after ``text``; None if it leaves the grammar."""
        written, sid = state
        for byte in text.encode():
            nxt = self.step(sid, byte)
            if nxt is None or nxt[1] & written:
                return None
            sid, written = nxt[0], written | nxt[1]
        return written, sid

    # -- prompts -----------------------------------------------------------------------------
    def start(self, prompt: str) -> tuple[int, int]:
        """The state a completion of ``prompt`` starts in.

        A prompt in the grammar is run through it. Otherwise (a prompt value outside the
        learnt format, such as ImbLLM's interpolated ``age is 37.5``) the columns it names
        are read by the serialiser's parser, and it must end where a piece or a value starts:
        with ``","`` or with ``" is"`` after a column name.
        """
        if prompt not in self._prompts:
            self.starts([prompt])
        return self._prompts[prompt]

    def starts(self, prompts) -> list[tuple[int, int]]:
        """:meth:`start` of each of ``prompts``; the heads of those outside the grammar are
        parsed in one call (a call each cost more than sampling the row)."""
        new = {p: self.run(p, (0, self.name_root)) for p in dict.fromkeys(prompts)}
        new = {p: state for p, state in new.items() if p not in self._prompts}
        heads: dict = {}
        # Which head a prompt parses does not depend on what it names: find them, parse them.
        for p in (p for p, state in new.items() if state is None):
            self._lenient(p, lambda head: heads.setdefault(head, 0))
        heads = dict(zip(heads, self._named(list(heads)), strict=True))
        for p, state in new.items():
            named = lambda h: heads[h] if h in heads else self._named([h])[0]  # noqa: E731
            self._prompts[p] = state if state is not None else self._lenient(p, named)
        return [self._prompts[p] for p in prompts]

    def _named(self, heads: list[str]) -> list[int]:
        """The columns each of ``heads`` names (bits), as the serialiser's parser reads them."""
        cells = parse_texts(heads, self.columns).notna().to_numpy().tolist() if heads else []
        return [sum(1 << j for j, ok in enumerate(row) if ok) for row in cells]

    def _lenient(self, prompt: str, named) -> tuple[int, int]:
        """The start of a prompt outside the grammar; ``named(head)``: the columns that the
        text ``head`` names, as bits."""
        for tail, sid in ((",", self.sep), (SEP, self.name_root)):
            if prompt.endswith(tail):
                return named(prompt[: -len(tail)]), sid
        for j, c in enumerate(self.columns):
            for ending in (IS, IS.rstrip()):
                piece = quote(c) + ending
                if prompt == piece or prompt.endswith(SEP + piece):
                    written = named(prompt[: -len(piece)].removesuffix(SEP))
                    state = self.run(piece, (written & ~(1 << j), self.name_root))
                    if state is not None:
                        return state
        raise ValueError(
            f"prompt {prompt[-60:]!r} does not end where a piece or a value starts (after ',' "
            "or '<column> is'), so constrained decoding cannot continue it; end prompts with "
            "',' or use decoding='free'."
        )

    def max_bytes(self, state: tuple[int, int]) -> int:
        """An upper bound on the bytes of any completion from ``state``."""
        written, _ = state
        left = sum(p for j, p in enumerate(self._longest) if not written >> j & 1)
        return left + max(self._longest)  # plus the rest of the piece being written
