"""Schema-constrained decoding: the row grammar and its token masks (rows sampled under it:
tests/test_llm_constrain_sampling.py)."""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from constrain_table import (  # noqa: E402
    HAND_VOCAB,
    table_grammar,
    table_texts,
)

from imbllm.llm.constrain import (  # noqa: E402
    TokenConstraint,
)
from imbllm.llm.constrain.numbers import NumberSpec  # noqa: E402


def _accepts(grammar, text, prompt=""):
    state = grammar.run(text, grammar.start(prompt))
    return state is not None and state[0] == grammar.all and grammar.complete(state[1])


@pytest.mark.parametrize(
    "text, ok",
    [
        ("-3.5", True),
        ("-3.6", False),
        ("-4", False),
        ("2", True),
        ("2.1", False),
        ("0", True),
        ("-0", False),
        ("-0.1", True),
        ("1.0", False),
        ("05", False),
        ("1.", False),
        ("1.5", True),
    ],
)
def test_numbers_in_format_and_range(text, ok):
    spec = NumberSpec(-3.5, 2.0, decimals=1)
    state = NumberSpec.START
    for byte in text.encode():
        state = spec.step(state, byte) if state is not None else None
    assert (state is not None and spec.accepts(state)) is ok


def test_digits_numbers_put_one_blank_between_characters():
    spec = NumberSpec(10, 33.77, decimals=2, digits=True)

    def ok(text):
        state = NumberSpec.START
        for byte in text.encode():
            state = spec.step(state, byte) if state is not None else None
        return state is not None and spec.accepts(state)

    assert [ok(t) for t in ("3 3 . 7 7", "1 0", "1 0 . 5", "33.7", "3 3 . 7 8", "9", "3  3")] == [
        True,
        True,
        True,
        False,
        False,
        False,
        False,
    ]
    # A prefix that cannot end in range is refused at once ("4" can only become 40+).
    assert spec.step(NumberSpec.START, ord("4")) is None


def test_grammar_accepts_every_written_row_and_refuses_near_misses():
    grammar, codec, _ = table_grammar()
    assert all(_accepts(grammar, t) for t in table_texts(codec, 60))
    base = 'T3 is 1.5, T3_measured is 12, sex is "a, b", neg is -0.5, smoker is no, label is rare'
    assert _accepts(grammar, base)
    for bad in (
        base.replace("12", "13"),  # out of range
        base.replace("1.5", "1.50"),  # not the shortest form
        base.replace("1.5", "1.125"),  # more decimals than learnt
        base.replace('"a, b"', "a, b"),  # a separator left unquoted
        base.replace("no", "maybe"),  # unknown category
        base.replace("rare", "medium"),  # unknown label
        base.replace(", smoker is no", ""),  # a column missing
        base + ", smoker is no",  # a column twice
        base.replace("T3 is", "T4 is"),  # unknown column
    ):
        assert not _accepts(grammar, bad), bad


def test_prompt_start_states():
    grammar, codec, _ = table_grammar()
    bit = {c: 1 << j for j, c in enumerate(codec.columns)}
    assert grammar.start("label is rare,") == (bit["label"], grammar.sep)
    # ImbLLM's interpolated values leave the learnt format: the columns are read leniently.
    assert grammar.start("label is rare, T3_measured is 4.5,") == (
        bit["label"] | bit["T3_measured"],
        grammar.sep,
    )
    # "T3 is" is one blank short of the name's end: T3 is the only column it can still name.
    written, sid = grammar.start("label is rare, T3 is")
    assert (written, grammar.candidates(sid)) == (bit["label"], bit["T3"])
    assert _accepts(
        grammar,
        " 2, T3_measured is 1, sex is plain, neg is 0, smoker is no",
        "label is rare, T3 is",
    )
    with pytest.raises(ValueError, match="end prompts with ','"):
        grammar.start("label is rare, T3 is 40.5")
    done = "label is rare, T3 is 2, T3_measured is 1, sex is plain, neg is 0, smoker is no,"
    with pytest.raises(ValueError, match="leaves no row to complete"):
        TokenConstraint(grammar, [None, b","], eos=0).min_new_tokens([done])


def test_prompt_starts_parse_the_lenient_heads_in_one_call(monkeypatch):
    import imbllm.llm.constrain.grammar as cg

    prompts = [
        "label is rare,",
        "label is rare, T3_measured is 4.5,",
        "label is common, T3 is 40.25, sex is plain,",
        "label is rare, T3 is 1.125, T3_measured is",
        "label is rare, T3_measured is 4.5,",
    ]
    def content(grammar, states):  # state ids are numbered in order of discovery
        return [(written, grammar._sets[sid]) for written, sid in states]

    alone = table_grammar()[0]
    one_by_one = content(alone, [alone.start(p) for p in prompts])
    calls = []
    parse = cg.parse_texts
    monkeypatch.setattr(cg, "parse_texts", lambda texts, cols: calls.append(texts) or parse(texts, cols))
    grammar = table_grammar()[0]
    assert content(grammar, grammar.starts(prompts)) == one_by_one
    assert [len(c) for c in calls] == [3]  # three distinct heads outside the grammar, one call
    assert content(grammar, grammar.starts(prompts[::-1])) == one_by_one[::-1]
    assert len(calls) == 1  # cached


def test_masks_on_a_hand_made_vocabulary():
    grammar, _, _ = table_grammar()
    vocab = [*HAND_VOCAB, b"\xb2"]
    tc = TokenConstraint(grammar, vocab, eos=0)

    def allowed(prompt):
        return [vocab[t] for t in np.flatnonzero(tc.masks(grammar.start(prompt)))]

    # After "T3" the name goes on to " is " (T3) or "_measured" (T3_measured).
    assert allowed("label is rare, T3") == [b"_measured", b" is ", b" is", b" "]
    # Byte 0xb2 is "²" as a character, a digit to str.isdigit, but no digit of a number.
    assert b"\xb2" not in allowed("label is rare, T3 is ")
    # After "T3 is" only the blank before the value; then digits that can start a value in
    # [1.5, 10] ("12" cannot, "1" can: 1.5 lies ahead).
    assert allowed("label is rare, T3 is") == [b" "]
    assert allowed("label is rare, T3 is ") == [b"1", b"5"]
    # After "T3_measured is 1" (range [1, 12]) the value may go on to "11" (not "112" or
    # "15") or end, the separator alone or with T3's name.
    assert allowed("label is rare, T3_measured is 1") == [b"1", b",", b", T3 is "]
    # Once T3 is written, a token that names it again is refused.
    assert b", T3 is " not in allowed("label is rare, T3 is 2, T3_measured is 1")
    # The end token only once every column has a finished value.
    done = "label is rare, T3 is 2, T3_measured is 1, sex is plain, neg is 0, smoker is no"
    assert allowed(done) == [None]
    # " is " ends the name: the row has now written label (bit 5) and T3_measured (bit 1).
    assert tc.advance(grammar.start("label is rare, T3_measured"), 4)[0] == 0b100010
