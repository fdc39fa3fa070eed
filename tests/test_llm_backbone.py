"""The backbone: tokenizer, build, devices, hub/local loading, LoRA, save/load, cache."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from imbllm.llm.model.backbone import (  # noqa: E402
    Budget,
    LanguageModel,
    LLMConfig,
    resolve_device,
    train_tokenizer,
)
from imbllm.llm.model.cache import cached_finetune, model_cache_key  # noqa: E402

CORPUS = [
    f"animal is {a}, colour is {c}, legs is {n}, note is {q}"
    for a, c, n, q in [
        ("cat", "black", 4, 'says "meow"'),
        ("bird", "blue", 2, "Less than $40K, single"),
        ("spider", "brown", 8, "café is 12.5"),
        ("snake", "green", 0, "line\\nbreak"),
    ]
] * 5
TINY = dict(n_layer=1, n_head=2, n_embd=32, vocab_size=300, n_positions=64)


def tiny_lm(seed: int = 0, **kw) -> LanguageModel:
    return LanguageModel.build(LLMConfig(**{**TINY, **kw}), CORPUS, seed=seed)


def test_tokenizer_round_trips_seen_and_unseen_text():
    tok = train_tokenizer(CORPUS, vocab_size=300)
    for text in CORPUS[:4] + ["naïve ☃ , is  double  spaces ,", "x is -0.001, y is 1e-05"]:
        ids = tok(text)["input_ids"]
        assert tok.decode(ids, clean_up_tokenization_spaces=False) == text
    assert tok.eos_token_id != tok.pad_token_id
    # The merges learned on the corpus make its sentences shorter than their bytes.
    assert len(tok(CORPUS[0])["input_ids"]) < len(CORPUS[0].encode()) / 2


@pytest.mark.parametrize("split", ["pieces", "fields", "words"])
def test_prompts_ending_with_a_comma_tokenize_as_a_prefix_of_the_row(split):
    """The sampler relies on it: a prompt's tokens are the first tokens of the full row."""
    tok = train_tokenizer(CORPUS, vocab_size=300, split=split)
    for row in CORPUS[:4]:
        cut = row.index(",", row.index(",") + 1) + 1  # after the second piece
        full, head = tok(row)["input_ids"], tok(row[:cut])["input_ids"]
        assert full[: len(head)] == head
    comma = tok.convert_tokens_to_ids(",")
    ids = tok(CORPUS[0])["input_ids"]
    assert ids.count(comma) == CORPUS[0].count(",")


def test_coarser_splits_spend_fewer_tokens_per_row():
    n = {}
    for split in ("pieces", "fields", "words"):
        tok = train_tokenizer(CORPUS, vocab_size=500, split=split)
        n[split] = sum(len(x) for x in tok(CORPUS)["input_ids"])
    assert n["pieces"] < n["fields"] < n["words"]
    with pytest.raises(ValueError, match="tokenizer_split='bytes' must be one of"):
        train_tokenizer(CORPUS, vocab_size=300, split="bytes")


def test_tokenizer_training_is_deterministic():
    a = train_tokenizer(CORPUS, vocab_size=300).get_vocab()
    b = train_tokenizer(CORPUS, vocab_size=300).get_vocab()
    assert a == b


def test_build_compact_is_seeded_and_leaves_global_rng_alone():
    state = torch.random.get_rng_state()
    a, b, c = tiny_lm(0), tiny_lm(0), tiny_lm(1)
    assert torch.equal(torch.random.get_rng_state(), state)
    wa, wb, wc = (m.model.transformer.h[0].attn.c_attn.weight for m in (a, b, c))
    assert torch.equal(wa, wb) and not torch.equal(wa, wc)
    assert a.model.config.vocab_size == len(a.tokenizer)
    assert a.model.config.n_layer == 1 and a.max_length == 64
    assert a.device.type == "cpu"


def test_compact_dropout_is_the_configs_and_zero_trains_deterministically():
    ids = torch.tensor([[3, 5, 7, 9, 11]])
    lm = tiny_lm(0)  # llm.dropout defaults to 0
    assert lm.model.config.resid_pdrop == lm.model.config.attn_pdrop == 0.0
    lm.model.train()
    assert torch.equal(lm.model(input_ids=ids).logits, lm.model(input_ids=ids).logits)
    noisy = tiny_lm(0, dropout=0.5)
    assert noisy.model.config.embd_pdrop == 0.5
    noisy.model.train()
    assert not torch.equal(noisy.model(input_ids=ids).logits, noisy.model(input_ids=ids).logits)


def test_config_from_dict_ignores_group_name():
    cfg = LLMConfig.from_dict({"name": "compact", "n_layer": 2, "lora": True})
    assert cfg.n_layer == 2 and cfg.lora and cfg.name_or_path == "compact"


def test_bad_sizes_and_devices_are_explained():
    with pytest.raises(ValueError, match="n_embd=30 is not a multiple of llm.n_head=4"):
        LanguageModel.build(LLMConfig(n_layer=1, n_head=4, n_embd=30), CORPUS, seed=0)
    with pytest.raises(ValueError, match="use 'auto'"):
        resolve_device("gpu0")
    if not torch.cuda.is_available():
        with pytest.raises(ValueError, match="CUDA is not available"):
            resolve_device("cuda")


def test_unreachable_backbone_names_the_offline_fix():
    with pytest.raises(ValueError, match="llm=compact"):
        LanguageModel.build(LLMConfig(name_or_path="/no/such/folder"), CORPUS, seed=0)


def _local_folder(tmp_path, drop_pad: bool):
    """A GPT-2 saved like a hub checkout, optionally with a tokenizer lacking a pad token."""
    lm = tiny_lm()
    folder = tmp_path / "local-gpt2"
    lm.model.save_pretrained(folder)
    tok = lm.tokenizer
    if drop_pad:
        tok.pad_token = None
    tok.save_pretrained(folder)
    return folder


def test_local_folder_backbone_gets_a_pad_token_without_new_embeddings(tmp_path):
    folder = _local_folder(tmp_path, drop_pad=True)
    lm = LanguageModel.build(LLMConfig(name_or_path=str(folder)), CORPUS, seed=0)
    assert lm.tokenizer.pad_token_id == lm.tokenizer.eos_token_id
    assert lm.model.get_input_embeddings().weight.shape[0] == len(lm.tokenizer)
    assert lm.model.config.pad_token_id == lm.tokenizer.eos_token_id


def test_lora_trains_adapters_only_and_round_trips(tmp_path):
    folder = _local_folder(tmp_path, drop_pad=False)
    lm = LanguageModel.build(LLMConfig(name_or_path=str(folder), lora=True, lora_r=2), CORPUS, 0)
    trainable = {n for n, p in lm.model.named_parameters() if p.requires_grad}
    assert trainable and all("lora_" in n for n in trainable)
    frozen = {n: p.clone() for n, p in lm.model.named_parameters() if not p.requires_grad}
    lm.finetune(lambda e: CORPUS, Budget(epochs=2, batch_size=8, learning_rate=1e-2), 0, False)
    assert all(torch.equal(p, frozen[n]) for n, p in lm.model.named_parameters() if n in frozen)
    lm.save(tmp_path / "saved")
    # The adapter is saved alone: the base stays in its folder.
    assert (tmp_path / "saved" / "adapter_model.safetensors").is_file()
    back = LanguageModel.load(tmp_path / "saved")
    kw = dict(temperature=1.0, top_k=20, batch_size=4, max_new_tokens=12, seed=3, progress=False)
    prompts = ["animal is cat,", "animal is bird, colour is"]
    assert back.generate(prompts, **kw).texts == lm.generate(prompts, **kw).texts


def test_compact_lora_saves_merged_weights_that_load_and_save_again(tmp_path):
    lm = tiny_lm(lora=True, lora_r=2)
    lm.finetune(lambda e: CORPUS, Budget(epochs=2, batch_size=8, learning_rate=1e-2), 0, False)
    lm.save(tmp_path / "a")
    assert not (tmp_path / "a" / "adapter_model.safetensors").exists()
    back = LanguageModel.load(tmp_path / "a")
    kw = dict(temperature=1.0, top_k=20, batch_size=4, max_new_tokens=12, seed=3, progress=False)
    prompts = ["animal is cat,", "legs is 8,"]
    out = lm.generate(prompts, **kw).texts
    assert back.generate(prompts, **kw).texts == out
    back.save(tmp_path / "b")
    assert LanguageModel.load(tmp_path / "b").generate(prompts, **kw).texts == out


def test_save_load_round_trip_gives_identical_generations(tmp_path):
    lm = tiny_lm()
    lm.finetune(lambda e: CORPUS, Budget(epochs=3, batch_size=8, learning_rate=1e-2), 0, False)
    lm.save(tmp_path / "m")
    assert (tmp_path / "m" / "model.safetensors").is_file()
    back = LanguageModel.load(tmp_path / "m")
    assert back.max_text_tokens_ == lm.max_text_tokens_ > 0
    assert back.train_threads_ == lm.train_threads_ == torch.get_num_threads()
    kw = dict(temperature=0.9, top_k=50, batch_size=3, max_new_tokens=20, seed=5, progress=False)
    prompts = ["animal is cat,", "animal is", "legs is 8,"] * 3
    assert back.generate(prompts, **kw).texts == lm.generate(prompts, **kw).texts
    with pytest.raises(FileNotFoundError, match="LanguageModel.save"):
        LanguageModel.load(tmp_path)


def test_cache_key_is_canonical():
    cfg = LLMConfig(**TINY)
    a = model_cache_key(llm=cfg, budget={"epochs": 2, "lr": 1e-3}, seed=0)
    b = model_cache_key(seed=0, budget={"lr": 1e-3, "epochs": 2}, llm=cfg)
    assert a == b and len(a) == 64
    assert a != model_cache_key(llm=cfg, budget={"epochs": 2, "lr": 1e-3}, seed=1)
    with pytest.raises(TypeError, match="cannot encode a object"):
        model_cache_key(x=object())


def test_cached_finetune_trains_once_and_leaves_no_temp_folders(tmp_path):
    calls = []

    def train(checkpoint):
        calls.append(1)
        lm = tiny_lm()
        lm.finetune(lambda e: CORPUS, Budget(epochs=1, batch_size=8, learning_rate=1e-2), 0, False)
        return lm

    key = model_cache_key(corpus="abc", seed=0)
    lm1, hit1 = cached_finetune(tmp_path, key, train)
    lm2, hit2 = cached_finetune(tmp_path, key, train)
    assert (hit1, hit2) == (False, True) and len(calls) == 1
    # One entry; beside it only the key's lock file, no half-written folder.
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([key, f".{key}.lock"])
    w1 = lm1.model.transformer.wte.weight
    assert torch.equal(w1, lm2.model.transformer.wte.weight)
    # A corrupt entry is trained again rather than failing the run.
    (tmp_path / key / "model.safetensors").write_bytes(b"garbage")
    _, hit3 = cached_finetune(tmp_path, key, train)
    assert not hit3 and len(calls) == 2
    with pytest.raises(ValueError, match="model_cache_key"):
        cached_finetune(tmp_path, "../escape", train)
