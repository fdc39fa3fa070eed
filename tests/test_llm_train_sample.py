"""Fine-tuning and sampling on a tiny model built in the test (seconds, CPU)."""

from __future__ import annotations

import warnings

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from imbllm.llm.model.backbone import Budget, LanguageModel, LLMConfig  # noqa: E402
from imbllm.llm.model.decoders import GPT2Decoder, HFDecoder  # noqa: E402
from imbllm.llm.model.detokenize import batch_decode  # noqa: E402
from imbllm.llm.model.sampling import generate, sample_next  # noqa: E402
from imbllm.llm.model.train import (  # noqa: E402
    collate,
    encode_texts,
    finetune,
    length_batches,
    next_token_loss,
)

ROWS = [
    "animal is cat, colour is black, legs is 4",
    "animal is bird, colour is blue, legs is 2",
    "animal is spider, colour is brown, legs is 8",
    "animal is snake, colour is green, legs is 0",
]
TINY = LLMConfig(n_layer=1, n_head=2, n_embd=32, vocab_size=300, n_positions=64)
FAST = Budget(epochs=100, batch_size=4, learning_rate=1e-2, warmup_ratio=0.1)
SAMPLE = dict(temperature=1.0, top_k=50, batch_size=4, max_new_tokens=20, progress=False)


def _loss(lm: LanguageModel, texts: list[str]) -> float:
    inputs, labels = collate(encode_texts(lm, texts), lm.tokenizer.eos_token_id)
    with torch.no_grad():
        return float(next_token_loss(lm.model.eval()(input_ids=inputs).logits, labels))


@pytest.fixture(scope="module")
def trained():
    lm = LanguageModel.build(TINY, ROWS, seed=0)
    before = _loss(lm, ROWS)
    stats = lm.finetune(lambda epoch: ROWS, FAST, seed=0, progress=False)
    return lm, before, stats


def test_finetune_memorises_and_reports(trained):
    lm, before, stats = trained
    assert stats["final_loss"] < 0.5 * before
    # Hand count: every row and its end token, every epoch, no padding.
    n_tokens = sum(len(x) for x in encode_texts(lm, ROWS))
    assert stats["train_tokens"] == FAST.epochs * n_tokens
    assert (
        stats["max_text_tokens"]
        == lm.max_text_tokens_
        == max(len(x) for x in encode_texts(lm, ROWS))
    )
    assert stats["train_tokens_per_second"] == pytest.approx(
        stats["train_tokens"] / stats["fit_seconds"]
    )
    # Memorised: greedy completion of a row's start gives the rest of that row, then stops.
    out = lm.generate(["animal is spider,", "animal is cat,"], seed=0, **{**SAMPLE, "top_k": 1}).texts
    assert out == [" colour is brown, legs is 8", " colour is black, legs is 4"]


def test_collate_pads_right_and_masks_labels():
    inputs, labels = collate([[5, 6, 7], [8]], pad_id=1)
    assert inputs.tolist() == [[5, 6, 7], [8, 1, 1]]
    assert labels.tolist() == [[5, 6, 7], [8, -100, -100]]


def test_length_batches_cover_every_row_once_with_similar_lengths():
    lengths = [(i * 37) % 23 for i in range(1000)]
    batches = length_batches(lengths, 10, torch.Generator().manual_seed(0))
    flat = sorted(i for b in batches for i in b)
    assert flat == list(range(1000)) and max(map(len, batches)) == 10
    # Sorted within chunks: the padding a batch carries is far below random batching's.
    spread = sum(max(lengths[i] for i in b) - min(lengths[i] for i in b) for b in batches)
    assert spread / len(batches) < 2


def test_finetune_is_deterministic_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    weights = []
    for _ in range(2):
        lm = LanguageModel.build(TINY, ROWS, seed=0)
        lm.finetune(lambda e: ROWS, Budget(epochs=3, batch_size=2, learning_rate=1e-2), 0, False)
        weights.append(lm.model.transformer.h[0].mlp.c_fc.weight.detach().clone())
    assert torch.equal(weights[0], weights[1])
    assert torch.equal(torch.random.get_rng_state(), state)


def test_row_cap_trains_on_a_fresh_subset_each_epoch():
    lm = LanguageModel.build(TINY, ROWS, seed=0)
    seen = []

    def texts(epoch):
        seen.append(epoch)
        return ROWS * 5

    budget = Budget(epochs=3, batch_size=4, learning_rate=1e-3, max_rows_per_epoch=6)
    stats = finetune(lm, texts, budget, seed=0, progress=False)
    assert seen == [0, 1, 2] and stats["rows_per_epoch"] == 6
    per_row = {len(x) for x in encode_texts(lm, ROWS)}
    assert min(per_row) * 18 <= stats["train_tokens"] <= max(per_row) * 18


def test_budget_errors_name_the_parameter():
    lm = LanguageModel.build(TINY, ROWS, seed=0)
    with pytest.raises(ValueError, match="budget.warmup_ratio=1.5"):
        lm.finetune(lambda e: ROWS, Budget(warmup_ratio=1.5), 0, False)
    with pytest.raises(ValueError, match="no sentences"):
        lm.finetune(lambda e: [], Budget(epochs=1), 0, False)
    with pytest.raises(ValueError, match="n_positions"):
        lm.finetune(lambda e: [" ".join(ROWS * 10)], Budget(epochs=1), 0, False)


def test_generate_one_completion_per_prompt_seeded(trained):
    lm = trained[0]
    prompts = ["animal is", "animal is cat,", "colour is", "legs is 8, animal is"] * 5
    first = lm.generate(prompts, seed=1, **SAMPLE)
    a, stats = first.texts, first.stats
    b = lm.generate(prompts, seed=1, **SAMPLE).texts
    c = lm.generate(prompts, seed=2, **{**SAMPLE, "temperature": 3.0}).texts
    assert len(a) == len(prompts) and a == b and a != c
    assert not any(lm.tokenizer.eos_token in t or lm.tokenizer.pad_token in t for t in a + c)
    assert stats["n_prompts"] == 20 and stats["generated_tokens"] > 0
    assert stats["tokens_per_second"] == pytest.approx(
        stats["generated_tokens"] / stats["sample_seconds"]
    )
    # The threads' seconds on their batches: inside the call's wall time on each thread.
    threads = torch.get_num_threads()
    assert 0 < stats["worker_seconds"] <= threads * stats["sample_seconds"]


def test_texts_are_decoded_as_the_tokenizer_decodes_them(trained):
    # The fast tokenizer's backend, called directly, gives its batch_decode's texts.
    tok = trained[0].tokenizer
    ids = tok([*ROWS, "legs is 8, animal is"])["input_ids"]
    ids = [[*row, tok.eos_token_id, *row[:2]] for row in ids] + [[tok.eos_token_id], []]
    kw = {"skip_special_tokens": True, "clean_up_tokenization_spaces": False}
    assert batch_decode(tok, ids) == tok.batch_decode(ids, **kw)
    assert batch_decode(tok, ids)[0].startswith(ROWS[0])


def test_generation_does_not_depend_on_the_number_of_threads(trained):
    lm = trained[0]
    prompts = ["animal is", "colour is", "legs is 8,", "animal is bird,"] * 6
    threads = torch.get_num_threads()
    try:
        out = []
        for n in (1, 3):
            torch.set_num_threads(n)
            out.append(lm.generate(prompts, seed=4, **{**SAMPLE, "batch_size": 3}).texts)
    finally:
        torch.set_num_threads(threads)
    assert out[0] == out[1]
    assert torch.get_num_threads() == threads


def test_top_k_sampling_follows_the_top_k_distribution():
    """The CDF draw with top-k rejection gives the same law as sampling the top k directly."""
    logits = torch.tensor([[2.0, 1.0, 0.5, 0.0, -1.0]]).repeat(20000, 1)
    gen = torch.Generator().manual_seed(0)
    draws = sample_next(logits, 1.0, 2, gen)
    freq = torch.bincount(draws, minlength=5).double() / len(draws)
    expected = torch.softmax(torch.tensor([2.0, 1.0]), 0).double()
    assert freq[2:].sum() == 0
    torch.testing.assert_close(freq[:2], expected, atol=0.015, rtol=0)


def test_top_k_check_skipped_under_masks_gives_the_same_draws():
    """Rows with fewer finite logits than top_k cannot draw outside the top k: telling
    sample_next so (most_allowed) skips the check and leaves every draw as it was."""
    torch.manual_seed(0)
    logits = torch.randn(500, 40)
    blocked = torch.rand(500, 40).argsort(-1) >= 6  # six tokens left in every row
    logits[blocked] = float("-inf")
    most = int(logits.isfinite().sum(-1).max())
    assert most == 6
    draws = [sample_next(logits, 0.7, 10, torch.Generator().manual_seed(3), m) for m in (None, most)]
    assert torch.equal(draws[0], draws[1])
    assert logits.gather(1, draws[1][:, None]).isfinite().all()


def test_truncated_completions_are_counted(trained):
    lm = trained[0]
    cut = lm.generate(["animal is cat,"] * 3, seed=0, **{**SAMPLE, "max_new_tokens": 2})
    assert cut.stats["n_truncated"] == 3
    assert cut.stats["finished"] == [False] * 3
    assert cut.stats["generated_tokens"] == 6
    out = cut.texts
    prompts = ["animal is cat,", "legs is 8,"] * 4
    stats = lm.generate(prompts, seed=0, **{**SAMPLE, "max_new_tokens": 24}).stats
    assert len(stats["finished"]) == len(prompts)
    assert sum(stats["finished"]) == len(prompts) - stats["n_truncated"] > 0
    assert all(len(lm.tokenizer(t)["input_ids"]) <= 2 for t in out)


def test_completion_does_not_depend_on_batch_neighbours(trained):
    """Left padding, masks and positions are right: greedy output alone == in a mixed batch."""
    lm = trained[0]
    prompts = [
        "animal is",
        "legs is 2, colour is blue, animal is",
        "colour is green,",
        "animal is bird,",
    ]
    greedy = {**SAMPLE, "top_k": 1, "batch_size": 1}
    alone = [lm.generate([p], seed=0, **greedy).texts[0] for p in prompts]
    mixed = lm.generate(prompts, seed=0, **{**greedy, "batch_size": 4}).texts
    assert mixed == alone


def test_fast_gpt2_decoder_matches_the_hf_forward(trained):
    lm = trained[0]
    model = lm.model.eval()
    assert GPT2Decoder.supports(model)
    prompts = lm.tokenizer(["animal is", "legs is 2, colour is blue,"])["input_ids"]
    width = max(map(len, prompts))
    ids = torch.tensor([[0] * (width - len(p)) + p for p in prompts])
    mask = torch.tensor([[0] * (width - len(p)) + [1] * len(p) for p in prompts])
    fast, ref = GPT2Decoder(model), HFDecoder(model)
    # The installed transformers' cache argument: no deprecation warning (errors here).
    with torch.inference_mode(), warnings.catch_warnings():
        warnings.simplefilter("error", FutureWarning)
        lf, lr = fast.start(ids, mask, 6), ref.start(ids, mask, 6)
        torch.testing.assert_close(lf, lr, atol=1e-4, rtol=1e-4)
        for step in range(5):
            token = lr.argmax(-1)
            if step == 2:  # drop the first row, as the sampler does with finished rows
                keep = torch.tensor([1])
                fast.select(keep), ref.select(keep)
                token = token[keep]
            lf, lr = fast.step(token), ref.step(token)
            torch.testing.assert_close(lf, lr, atol=1e-4, rtol=1e-4)


def test_generate_rejects_bad_arguments(trained):
    lm = trained[0]
    with pytest.raises(ValueError, match="temperature=0"):
        generate(lm, ["animal is"], temperature=0, top_k=5, batch_size=2, max_new_tokens=5, seed=0)
    with pytest.raises(ValueError, match="top_k=0"):
        generate(lm, ["animal is"], temperature=1, top_k=0, batch_size=2, max_new_tokens=5, seed=0)
    with pytest.raises(ValueError, match="n_positions"):
        lm.generate(["legs is 2, " * 40], seed=0, **SAMPLE)
    empty = lm.generate([], seed=0, **SAMPLE)
    assert empty.texts == [] and empty.stats["n_prompts"] == 0


@pytest.mark.parametrize("module", ["train", "sampling", "causal"])
def test_training_and_sampling_do_not_import_the_model_class(module):
    """Imports run one way: backbone imports train and sampling, never the reverse."""
    import ast
    from pathlib import Path

    import imbllm.llm.model

    source = Path(imbllm.llm.model.__file__).with_name(module + ".py").read_text()
    imported = set()
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.ImportFrom):
            imported.add(node.module or "")
            imported.update(f"{node.module}.{a.name}" for a in node.names)
        elif isinstance(node, ast.Import):
            imported.update(a.name for a in node.names)
    assert "imbllm.llm.model.causal" in imported or module == "causal"
    assert not any(name.startswith("imbllm.llm.model.backbone") for name in imported), imported


def test_finetune_reports_its_threads_and_generate_leaves_the_model_untouched(trained):
    lm, _, stats = trained
    before = dict(vars(lm))
    out = lm.generate(["animal is"] * 3, seed=0, **SAMPLE)
    assert len(out.texts) == 3 and out.stats["n_prompts"] == 3
    assert vars(lm) == before and lm.train_threads_ == stats["train_threads"] >= 1


def test_left_pad_right_aligns_each_prompt_with_its_mask():
    from imbllm.llm.model.sampling import _left_pad

    ids, mask = _left_pad([[5, 6, 7], [8], [9, 10]], pad_id=0)
    assert ids.tolist() == [[5, 6, 7], [0, 0, 8], [0, 9, 10]]
    assert mask.tolist() == [[1, 1, 1], [0, 0, 1], [0, 1, 1]]
    assert ids.dtype == mask.dtype == torch.long
