"""Rows sampled under the schema constraint: every row passes the strict check, batches share
the masks, rows end in time, and the constraint rescues a briefly trained model."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from constrain_table import (  # noqa: E402
    SAMPLE,
    enough_tokens,
    frame_grammar,
    strict_ok,
    table_grammar,
    table_prompts,
    table_texts,
    tiny_lm,
)

from imbllm.llm.constrain import bind, byte_vocabulary  # noqa: E402
from imbllm.llm.decoding import for_model  # noqa: E402
from imbllm.llm.model.backbone import Budget, LanguageModel, LLMConfig, train_tokenizer  # noqa: E402
from imbllm.llm.model.sampling import generate  # noqa: E402
from imbllm.llm.text.serialize import join_pieces  # noqa: E402


@pytest.mark.parametrize(
    "tokenizer_kind, number_format",
    [("compact", "plain"), ("bpe", "plain"), ("compact", "digits")],
)
def test_every_constrained_row_passes_the_strict_check(tokenizer_kind, number_format):
    grammar, codec, schema = table_grammar(number_format)
    lm = tiny_lm(tokenizer_kind, table_texts(codec, 200))  # untrained: near-uniform choices
    prompts = table_prompts(codec, 1000)
    bound = enough_tokens(grammar, prompts)
    gen = generate(lm, prompts, max_new_tokens=bound, seed=0, constraint=for_model(grammar, lm), **SAMPLE)
    texts, stats = gen.texts, gen.stats
    assert stats["n_truncated"] == 0 and stats["n_dead_states"] == 0
    full = [p + c for p, c in zip(prompts, texts, strict=True)]
    assert strict_ok(codec, schema, full).sum() == 1000
    assert 0.0 < stats["masked_mass"] < 1.0 and stats["constrained"]
    # The same seed gives the same rows, with the masks already cached or not.
    grammar2, _, _ = table_grammar(number_format)
    again = generate(
        lm, prompts, max_new_tokens=bound, seed=0, constraint=for_model(grammar2, lm), **SAMPLE
    ).texts
    assert again == texts


def test_batches_side_by_side_fill_the_shared_masks_and_give_the_same_rows():
    grammar, codec, _ = table_grammar()
    lm = tiny_lm("bpe", table_texts(codec, 200))
    prompts = table_prompts(codec, 400)
    threads = torch.get_num_threads()
    try:
        rows = []
        for n in (1, 2):  # two worker threads fill one fresh grammar's caches at once
            torch.set_num_threads(n)
            g = table_grammar()[0]
            rows.append(generate(lm, prompts, max_new_tokens=60, seed=0, constraint=for_model(g, lm), **SAMPLE).texts)
    finally:
        torch.set_num_threads(threads)
    assert rows[0] == rows[1]
    # A mask cache bounded to a few entries rebuilds masks and gives the same rows again.
    g = table_grammar()[0]
    for_model(g, lm).max_cached = 4
    assert generate(lm, prompts, max_new_tokens=60, seed=0, constraint=for_model(g, lm), **SAMPLE).texts == rows[0]
    assert len(for_model(g, lm)._by_key) <= 4


def test_rows_end_in_time_when_tokens_are_short():
    grammar, codec, schema = table_grammar()
    lm = tiny_lm("bpe", table_texts(codec, 200))
    prompts = table_prompts(codec, 200)
    low = for_model(grammar, lm).min_new_tokens(prompts)
    # Far fewer tokens than the longest row has bytes: rows must end in time, and do.
    assert low < enough_tokens(grammar, prompts) // 2
    gen = generate(lm, prompts, max_new_tokens=low, seed=0, constraint=for_model(grammar, lm), **SAMPLE)
    texts, stats = gen.texts, gen.stats
    assert stats["n_truncated"] == 0 and stats["n_cut"] == 0
    full = [p + c for p, c in zip(prompts, texts, strict=True)]
    assert strict_ok(codec, schema, full).sum() == 200
    # One token fewer: the prompts that need them all cannot end; they are cut and counted.
    need = [for_model(grammar, lm).min_new_tokens([p]) for p in prompts]
    cut = generate(lm, prompts, max_new_tokens=low - 1, seed=0, constraint=for_model(grammar, lm), **SAMPLE)
    assert cut.stats["n_cut"] == sum(n == low for n in need) > 0


def test_constraint_turns_a_briefly_trained_model_into_one_that_writes_valid_rows():
    grammar, codec, schema = table_grammar()
    corpus = table_texts(codec, 120)
    lm = tiny_lm("compact", corpus, seed=1)
    lm.finetune(
        lambda epoch: corpus,
        Budget(epochs=5, batch_size=16, learning_rate=3e-3),
        seed=0,
        progress=False,
    )
    prompts = ["label is rare,"] * 300
    bound = enough_tokens(grammar, prompts)
    free = generate(lm, prompts, max_new_tokens=bound, seed=3, **SAMPLE).texts
    n_free = int(
        strict_ok(codec, schema, [p + c for p, c in zip(prompts, free, strict=True)]).sum()
    )
    constrained = generate(
        lm, prompts, max_new_tokens=bound, seed=3, constraint=for_model(grammar, lm), **SAMPLE
    ).texts
    n_constrained = int(
        strict_ok(codec, schema, [p + c for p, c in zip(prompts, constrained, strict=True)]).sum()
    )
    assert n_free < 30  # measured: 0 of 300 (fewer than 1 in 10 allowed here)
    assert n_constrained == 300


def test_other_tokenizers_get_a_clear_error():
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    tok = Tokenizer(models.WordLevel({"a": 0, "<unk>": 1}, unk_token="<unk>"))
    tok.pre_tokenizer = pre_tokenizers.Whitespace()
    grammar, _, _ = table_grammar()
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
    grammar = table_grammar()[0]
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
    grammar, codec, schema = frame_grammar(wide, y)
    texts = join_pieces(codec.pieces(wide, y))
    lm = LanguageModel.build(
        LLMConfig(n_layer=1, n_head=2, n_embd=32, vocab_size=400, n_positions=1024), texts, 0
    )
    prompts = ["label is a,"] * 20
    low = for_model(grammar, lm).min_new_tokens(prompts)
    out = generate(lm, prompts, max_new_tokens=low + 20, seed=0, constraint=for_model(grammar, lm), **SAMPLE)
    assert out.stats["n_cut"] == out.stats["n_truncated"] == 0
    out = out.texts
    full = [p + c for p, c in zip(prompts, out, strict=True)]
    assert strict_ok(codec, schema, full).sum() == 20
