"""The small table, tokenizers and untrained models the constrained-decoding tests share
(tests/test_llm_constrain.py, tests/test_llm_constrain_sampling.py). Import after
``pytest.importorskip("torch")``."""

from __future__ import annotations

import numpy as np
import pandas as pd
import torch

from imbllm.llm.constrain import RowGrammar
from imbllm.llm.model.backbone import LanguageModel, LLMConfig
from imbllm.llm.text.repair import check_rows
from imbllm.llm.text.serialize import RowCodec, join_pieces
from imbllm.schema import TableSchema

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


#: A hand-made byte vocabulary (id 0 is the end of text) that cannot spell most values: many
#: of the table grammar's states are dead ends, where the row must end.
HAND_VOCAB = [
    None, b"T", b"T3", b"_measured", b" is ", b" is", b" ", b"1", b"12", b"5", b",", b", T3 is ",
    b"x", b"T3_measured is 1",
]


def frame_grammar(X, y, number_format="plain"):
    """Grammar, codec and schema of the table ``(X, y)`` as the engine's plan builds them."""
    X = X.rename(columns=str)
    schema = TableSchema.infer(X, "auto")
    classes = sorted(pd.unique(y).tolist(), key=lambda v: (type(v).__name__, v))
    codec = RowCodec(X.columns, schema.numeric, schema.categories, str(y.name or "target"),
                     classes, number_format=number_format)
    return RowGrammar.from_codec(codec, schema, X), codec, schema


def table_grammar(number_format="plain"):
    return frame_grammar(X, Y, number_format=number_format)


def enough_tokens(grammar, prompts):
    """Tokens enough for any completion of any of ``prompts`` (every token holds at least one
    byte; one more for the end token): with it, no constrained row is ever cut."""
    return max(map(grammar.max_bytes, grammar.starts(prompts)), default=0) + 1


def table_texts(codec, n, seed=0):
    """``n`` training sentences: the table's rows in random column orders."""
    rng = np.random.default_rng(seed)
    rows = np.resize(codec.pieces(X, Y), (n, X.shape[1] + 1))
    return join_pieces(rows, np.argsort(rng.random(rows.shape), axis=1))


def strict_ok(codec, schema, texts) -> np.ndarray:
    """Rows the engine's own parser and strict check accept, label included."""
    cells = codec.parse(texts)
    ok = check_rows(cells, codec, schema, "strict").keep
    return ok & cells[codec.target].isin(list(codec.text_label)).to_numpy()


def bpe_tokenizer(corpus):
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


def tiny_lm(tokenizer_kind, corpus, seed=0):
    from transformers import GPT2Config, GPT2LMHeadModel

    if tokenizer_kind == "compact":
        return LanguageModel.build(TINY, corpus, seed=seed)
    tok = bpe_tokenizer(corpus)
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


def table_prompts(codec, n):
    """GReaT/ImbLLM/Pred-LLM style prompts and a continuation that names a column."""
    kinds = [
        "label is rare,",
        'label is rare, sex is "a, b",',
        "T3_measured is 4.5,",  # an interpolated value outside the integer format
        "label is common, smoker is yes, T3 is",
        join_pieces(codec.pieces(X.iloc[:1], columns=codec.features))[0] + ",",  # label query
    ]
    return [kinds[i % len(kinds)] for i in range(n)]
