"""Constrained decoding over a vocabulary of GPT-2's size (50,257 tokens), on a tiny model.

The mask of a grammar state is built by walking the vocabulary's byte trie against the
grammar, and the per-state caches hold token ids, so the work and memory of a state follow
the tokens it allows, not the vocabulary. Counted here (trie nodes looked at, bytes held),
never timed. The 82M backbone end to end is the slow test in tests/test_local_backbone.py.
"""

from __future__ import annotations

import numpy as np
import pytest

torch = pytest.importorskip("torch")

from constrain_table import SAMPLE, TINY, strict_ok, table_grammar, table_prompts  # noqa: E402

from imbllm.llm.constrain import bind  # noqa: E402
from imbllm.llm.constrain.tokens import CACHE_BYTES  # noqa: E402
from imbllm.llm.model.backbone import LanguageModel  # noqa: E402
from imbllm.llm.model.sampling import generate  # noqa: E402

GPT2_VOCAB = 50257


def wide_bpe(n: int = GPT2_VOCAB):
    """A byte-level BPE of ``n`` tokens built without training (seconds to train one this
    large would be minutes): the 256 bytes, every pair of 96 common characters (the blank as
    GPT-2's "Ġ"), then triples of them, and the end token last (id ``n - 1``, as in GPT-2)."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    alphabet = pre_tokenizers.ByteLevel.alphabet()
    common = sorted(c for c in alphabet if c.isalnum() and c.isascii()) + list("Ġ._-,\"'") + [
        c for c in "!#$%&()*+/:;<=>?@[]^`{|}~"
    ]
    common = common[:96]
    vocab = {c: i for i, c in enumerate(sorted(alphabet))}
    merges = []
    for a in common:
        for b in common:
            vocab[a + b] = len(vocab)
            merges.append((a, b))
    for ab in list(vocab)[256:]:
        for c in common:
            if len(vocab) == n - 1:
                break
            vocab[ab + c] = len(vocab)
            merges.append((ab, c))
    tok = Tokenizer(models.BPE(vocab=vocab, merges=merges))
    tok.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    tok.decoder = decoders.ByteLevel()
    tok.add_special_tokens(["<|endoftext|>"])
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, eos_token="<|endoftext|>", pad_token="<|endoftext|>",
        clean_up_tokenization_spaces=False,
    )


@pytest.fixture(scope="module")
def wide_lm():
    from transformers import GPT2Config, GPT2LMHeadModel

    tok = wide_bpe()
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=GPT2_VOCAB, n_positions=256, n_embd=32, n_layer=2, n_head=2,
                        bos_token_id=tok.eos_token_id, eos_token_id=tok.eos_token_id)
    return LanguageModel(tok, GPT2LMHeadModel(config).eval(), TINY)


def test_wide_tokenizer_is_gpt2_sized_and_round_trips(wide_lm):
    tok = wide_lm.tokenizer
    assert len(tok) == GPT2_VOCAB and tok.eos_token_id == GPT2_VOCAB - 1
    text = 'label is rare, sex is "a, b", T3 is 10.25'
    assert tok.decode(tok(text)["input_ids"]) == text
    assert len(tok(text)["input_ids"]) < 0.7 * len(text)  # merges are used, not bytes alone


def test_masks_over_50k_tokens_cost_what_each_state_allows(wide_lm):
    grammar, codec, schema = table_grammar()
    constraint = bind(grammar, wide_lm.tokenizer, GPT2_VOCAB)
    prompts = table_prompts(codec, 60)
    gen = generate(wide_lm, prompts, max_new_tokens=constraint.min_new_tokens(prompts) + 8,
                   seed=0, constraint=constraint, **SAMPLE)
    full = [p + c for p, c in zip(prompts, gen.texts, strict=True)]
    assert strict_ok(codec, schema, full).sum() == len(prompts)
    assert gen.stats["n_truncated"] == 0 and gen.stats["n_dead_states"] == 0

    expansions = list(constraint._expansions.values())
    nodes = len(constraint._trie.children)
    assert len(expansions) > 20 and nodes >= GPT2_VOCAB - 1
    # Trie nodes: the walk is pruned by the grammar; no state looks at more than a fifth of
    # the vocabulary's trie and a state looks at about 1% on average (a walk over every
    # token would look at all of it, every time).
    touched = [e.touched for e in expansions]
    assert sum(touched) == constraint.n_touched
    assert max(touched) < nodes / 5 and np.mean(touched) < nodes / 50
    # Cache bytes per state: its token ids (int32 groups, int64 next states), 12 bytes an
    # allowed token, and its length plan at most 16; nothing per vocabulary entry.
    for e in expansions:
        assert 0 < e.nbytes <= 12 * len(e.moves)
    plans = constraint.lengths._plans
    assert plans and all(
        constraint.lengths.plan_bytes(plans[s]) <= 16 * len(constraint._expansions[s].moves)
        for s in plans
    )
    held = constraint.cache_bytes()
    assert held["expansions"] < 64 * sum(len(e.moves) for e in expansions)
    # The dense caches (a mask, a need vector per state) keep to their budget at this width.
    assert constraint.max_cached * 8 * constraint.width <= CACHE_BYTES
    assert held["masks"] <= constraint.max_cached * 4 * constraint.width


def test_free_decoding_never_draws_an_embedding_row_past_the_tokenizer(wide_lm, monkeypatch):
    from transformers import GPT2Config, GPT2LMHeadModel

    from imbllm.llm.model import sampling

    # A model wider than its tokenizer (rows a local tokenizer did not fill): those ids have no
    # text, so they are never drawn, even where the model puts its mass on them.
    torch.manual_seed(0)
    config = GPT2Config(vocab_size=GPT2_VOCAB + 64, n_positions=64, n_embd=32, n_layer=1,
                        n_head=2)
    model = GPT2LMHeadModel(config).eval()
    with torch.no_grad():
        model.lm_head.weight[GPT2_VOCAB:] *= 50.0
    lm = LanguageModel(wide_lm.tokenizer, model, TINY)
    with torch.no_grad():
        raw = model(torch.tensor([[5, 6, 7]])).logits[0, -1]
    assert int(raw.argmax()) >= GPT2_VOCAB  # without the ban, the draws would land there
    drawn: list[int] = []
    decode = sampling.completion_texts

    def spy(tokenizer, prompts, completions):
        drawn.extend(t for c in completions for t in c)
        return decode(tokenizer, prompts, completions)

    monkeypatch.setattr(sampling, "completion_texts", spy)
    generate(lm, ["label is rare,"] * 16, temperature=1.0, top_k=50, batch_size=8,
             max_new_tokens=6, seed=0, progress=False)
    assert len(drawn) > 16 and max(drawn) < GPT2_VOCAB
