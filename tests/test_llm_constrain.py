"""Schema-constrained decoding: the row grammar, its token masks, and rows sampled under it."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from imbllm.llm.backbone import Budget, LanguageModel, LLMConfig, train_tokenizer  # noqa: E402
from imbllm.llm.constrain import (  # noqa: E402
    RowGrammar,
    TokenConstraint,
    bind,
    byte_vocabulary,
    for_model,
)
from imbllm.llm.constrain_numbers import NumberSpec  # noqa: E402
from imbllm.llm.repair import check_rows  # noqa: E402
from imbllm.llm.sampling import generate  # noqa: E402
from imbllm.llm.serialize import join_pieces  # noqa: E402

# Names sharing a prefix, values holding ", ", " is " and quotes, negative and integer numbers.
X = pd.DataFrame(
    {
        "T3": [1.5, 2.25, 10.0, 3.75, 7.5, 2.25],
        "T3_measured": [1, 5, 12, 7, 3, 9],
        "sex": ["a, b", 'say "hi"', "x is y", "a, b", "plain", "x is y"],
        "neg": [-3.5, 0.0, 2.0, -1.0, 1.5, -0.5],
        "smoker": ["yes", "no", "no", "yes", "no", "no"],
    }
)
Y = pd.Series(["rare", "common", "common", "rare", "common", "common"], name="label")
TINY = LLMConfig(n_layer=1, n_head=2, n_embd=32, vocab_size=400, n_positions=256)
SAMPLE = dict(temperature=1.0, top_k=50, batch_size=100, progress=False)


def _grammar(number_format="plain"):
    return RowGrammar.from_frame(X, Y, number_format=number_format)


def _texts(codec, n, seed=0):
    """``n`` training sentences: the table's rows in random column orders."""
    rng = np.random.default_rng(seed)
    rows = np.resize(codec.pieces(X, Y), (n, X.shape[1] + 1))
    return join_pieces(rows, np.argsort(rng.random(rows.shape), axis=1))


def _strict_ok(codec, schema, texts) -> np.ndarray:
    """Rows the engine's own parser and strict check accept, label included."""
    cells = codec.parse(texts)
    ok = check_rows(cells, codec, schema, "strict").keep
    return ok & cells[codec.target].isin(list(codec.text_label)).to_numpy()


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
    grammar, codec, _ = _grammar()
    assert all(_accepts(grammar, t) for t in _texts(codec, 60))
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
    grammar, codec, _ = _grammar()
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
    import imbllm.llm.constrain_grammar as cg

    prompts = [
        "label is rare,",
        "label is rare, T3_measured is 4.5,",
        "label is common, T3 is 40.25, sex is plain,",
        "label is rare, T3 is 1.125, T3_measured is",
        "label is rare, T3_measured is 4.5,",
    ]
    def content(grammar, states):  # state ids are numbered in order of discovery
        return [(written, grammar._sets[sid]) for written, sid in states]

    alone = _grammar()[0]
    one_by_one = content(alone, [alone.start(p) for p in prompts])
    calls = []
    parse = cg.parse_texts
    monkeypatch.setattr(cg, "parse_texts", lambda texts, cols: calls.append(texts) or parse(texts, cols))
    grammar = _grammar()[0]
    assert content(grammar, grammar.starts(prompts)) == one_by_one
    assert [len(c) for c in calls] == [3]  # three distinct heads outside the grammar, one call
    assert content(grammar, grammar.starts(prompts[::-1])) == one_by_one[::-1]
    assert len(calls) == 1  # cached


def test_masks_on_a_hand_made_vocabulary():
    grammar, _, _ = _grammar()
    vocab = [
        None,
        b"T",
        b"T3",
        b"_measured",
        b" is ",
        b" is",
        b" ",
        b"1",
        b"12",
        b"5",
        b",",
        b", T3 is ",
        b"x",
        b"T3_measured is 1",
        b"\xb2",
    ]
    tc = TokenConstraint(grammar, vocab, eos=0)

    def allowed(prompt):
        return [vocab[t] for t in np.flatnonzero(~tc.blocked(grammar.start(prompt)).numpy())]

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


def _bpe_tokenizer(corpus):
    """A byte-level BPE with GPT-2's pre-tokenizer (merges inside words, "Ġis")."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers, trainers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.BPE())
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False, use_regex=True)
    tok.decoder = decoders.ByteLevel()
    trainer = trainers.BpeTrainer(
        vocab_size=300,
        special_tokens=["<|endoftext|>"],
        initial_alphabet=pre_tokenizers.ByteLevel.alphabet(),
        show_progress=False,
    )
    tok.train_from_iterator(corpus, trainer=trainer)
    return PreTrainedTokenizerFast(
        tokenizer_object=tok,
        eos_token="<|endoftext|>",
        pad_token="<|endoftext|>",
        clean_up_tokenization_spaces=False,
    )


def _tiny_lm(tokenizer_kind, corpus, seed=0):
    from transformers import GPT2Config, GPT2LMHeadModel

    if tokenizer_kind == "compact":
        return LanguageModel.build(TINY, corpus, seed=seed)
    tok = _bpe_tokenizer(corpus)
    torch.manual_seed(seed)
    config = GPT2Config(
        vocab_size=len(tok),
        n_positions=256,
        n_embd=32,
        n_layer=1,
        n_head=2,
        bos_token_id=tok.eos_token_id,
        eos_token_id=tok.eos_token_id,
        pad_token_id=tok.pad_token_id,
    )
    return LanguageModel(tok, GPT2LMHeadModel(config).eval(), TINY)


def _prompts(codec, n):
    """GReaT/ImbLLM/Pred-LLM style prompts and a continuation that names a column."""
    kinds = [
        "label is rare,",
        'label is rare, sex is "a, b",',
        "T3_measured is 4.5,",  # an interpolated value outside the integer format
        "label is common, smoker is yes, T3 is",
        join_pieces(codec.pieces(X.iloc[:1], columns=codec.features))[0] + ",",  # label query
    ]
    return [kinds[i % len(kinds)] for i in range(n)]


@pytest.mark.parametrize(
    "tokenizer_kind, number_format",
    [("compact", "plain"), ("bpe", "plain"), ("compact", "digits")],
)
def test_every_constrained_row_passes_the_strict_check(tokenizer_kind, number_format):
    grammar, codec, schema = _grammar(number_format)
    lm = _tiny_lm(tokenizer_kind, _texts(codec, 200))  # untrained: near-uniform choices
    prompts = _prompts(codec, 1000)
    bound = grammar.max_new_tokens(prompts)
    gen = generate(lm, prompts, max_new_tokens=bound, seed=0, constraint=grammar, **SAMPLE)
    texts, stats = gen.texts, gen.stats
    assert stats["n_truncated"] == 0 and stats["n_dead_states"] == 0
    full = [p + c for p, c in zip(prompts, texts, strict=True)]
    assert _strict_ok(codec, schema, full).sum() == 1000
    assert 0.0 < stats["masked_mass"] < 1.0 and stats["constrained"]
    # The same seed gives the same rows, with the masks already cached or not.
    grammar2, _, _ = _grammar(number_format)
    again = generate(
        lm, prompts, max_new_tokens=bound, seed=0, constraint=grammar2, **SAMPLE
    ).texts
    assert again == texts


def test_batches_side_by_side_fill_the_shared_masks_and_give_the_same_rows():
    grammar, codec, _ = _grammar()
    lm = _tiny_lm("bpe", _texts(codec, 200))
    prompts = _prompts(codec, 400)
    threads = torch.get_num_threads()
    try:
        rows = []
        for n in (1, 2):  # two worker threads fill one fresh grammar's caches at once
            torch.set_num_threads(n)
            g = _grammar()[0]
            rows.append(generate(lm, prompts, max_new_tokens=60, seed=0, constraint=g, **SAMPLE).texts)
    finally:
        torch.set_num_threads(threads)
    assert rows[0] == rows[1]
    # A mask cache bounded to a few entries rebuilds masks and gives the same rows again.
    g = _grammar()[0]
    for_model(g, lm).max_cached = 4
    assert generate(lm, prompts, max_new_tokens=60, seed=0, constraint=g, **SAMPLE).texts == rows[0]
    assert len(for_model(g, lm)._by_key) <= 4


def test_rows_end_in_time_when_tokens_are_short():
    grammar, codec, schema = _grammar()
    lm = _tiny_lm("bpe", _texts(codec, 200))
    prompts = _prompts(codec, 200)
    low = for_model(grammar, lm).min_new_tokens(prompts)
    # Far fewer tokens than the longest row has bytes: rows must end in time, and do.
    assert low < grammar.max_new_tokens(prompts) // 2
    gen = generate(lm, prompts, max_new_tokens=low, seed=0, constraint=grammar, **SAMPLE)
    texts, stats = gen.texts, gen.stats
    assert stats["n_truncated"] == 0 and stats["n_cut"] == 0
    full = [p + c for p, c in zip(prompts, texts, strict=True)]
    assert _strict_ok(codec, schema, full).sum() == 200
    # One token fewer: the prompts that need them all cannot end; they are cut and counted.
    need = [for_model(grammar, lm).min_new_tokens([p]) for p in prompts]
    cut = generate(lm, prompts, max_new_tokens=low - 1, seed=0, constraint=grammar, **SAMPLE)
    assert cut.stats["n_cut"] == sum(n == low for n in need) > 0


def test_constraint_turns_a_briefly_trained_model_into_one_that_writes_valid_rows():
    grammar, codec, schema = _grammar()
    corpus = _texts(codec, 120)
    lm = _tiny_lm("compact", corpus, seed=1)
    lm.finetune(
        lambda epoch: corpus,
        Budget(epochs=5, batch_size=16, learning_rate=3e-3),
        seed=0,
        progress=False,
    )
    prompts = ["label is rare,"] * 300
    bound = grammar.max_new_tokens(prompts)
    free = generate(lm, prompts, max_new_tokens=bound, seed=3, **SAMPLE).texts
    n_free = int(
        _strict_ok(codec, schema, [p + c for p, c in zip(prompts, free, strict=True)]).sum()
    )
    constrained = generate(
        lm, prompts, max_new_tokens=bound, seed=3, constraint=grammar, **SAMPLE
    ).texts
    n_constrained = int(
        _strict_ok(codec, schema, [p + c for p, c in zip(prompts, constrained, strict=True)]).sum()
    )
    assert n_free < 30  # measured: 0 of 300 (fewer than 1 in 10 allowed here)
    assert n_constrained == 300


def test_other_tokenizers_get_a_clear_error():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"a": 0, "<unk>": 1}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    grammar, _, _ = _grammar()
    with pytest.raises(ValueError, match="byte-level BPE tokenizer.*decoding='free'"):
        bind(grammar, PreTrainedTokenizerFast(tokenizer_object=tok, eos_token="<unk>"))


def test_compact_tokenizer_vocabulary_is_spelled_in_bytes():
    tok = train_tokenizer(['T3 is 1.5, sex is "a, b"'] * 5, vocab_size=300)
    vocab = byte_vocabulary(tok)
    # Every byte on its own, the special tokens left out, and what decoding writes.
    assert {v for v in vocab if v is not None and len(v) == 1} == {bytes([b]) for b in range(256)}
    assert vocab[tok.eos_token_id] is None and vocab[tok.pad_token_id] is None
    merged = [t for t, v in enumerate(vocab) if v is not None and len(v) > 1]
    assert merged and all(tok.decode([t]).encode() == vocab[t] for t in merged)
    grammar = _grammar()[0]
    assert bind(grammar, tok) is bind(grammar, tok)  # one binding per grammar and tokenizer


def test_a_table_of_85_columns_stays_valid_within_a_short_budget():
    rng = np.random.default_rng(0)
    wide = pd.DataFrame(
        {
            **{f"x{j}": rng.integers(0, 50, 40) for j in range(45)},
            **{f"x{j}_b": rng.choice(["lo", "mid", "hi, very"], 40) for j in range(40)},
        }
    )
    y = pd.Series(rng.choice(["a", "b"], 40), name="label")
    grammar, codec, schema = RowGrammar.from_frame(wide, y)
    texts = join_pieces(codec.pieces(wide, y))
    lm = LanguageModel.build(
        LLMConfig(n_layer=1, n_head=2, n_embd=32, vocab_size=400, n_positions=1024), texts, 0
    )
    prompts = ["label is a,"] * 20
    low = for_model(grammar, lm).min_new_tokens(prompts)
    out = generate(lm, prompts, max_new_tokens=low + 20, seed=0, constraint=grammar, **SAMPLE)
    assert out.stats["n_cut"] == out.stats["n_truncated"] == 0
    out = out.texts
    full = [p + c for p, c in zip(prompts, out, strict=True)]
    assert _strict_ok(codec, schema, full).sum() == 20
