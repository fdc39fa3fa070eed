"""Pretraining on the whole training split, and the model cache around it: what it trains on,
when it is reused, when it must not be, and that two processes fill one entry once."""

from __future__ import annotations

import ast
import importlib.util
import multiprocessing as mp
import time
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from llm_fake import FakeLanguageModel, split_pieces

import imbllm.llm.model.cache as cache
from baselines.llm import GReaT, TapTap
from imbllm.llm.methods import ImbLLM
from imbllm.llm.model.backbone import LanguageModel, context_length, train_tokenizer
from imbllm.llm.model.config import Budget, LLMConfig
from imbllm.llm.pretrain import PRETRAINED_DIR, pretrain_key, pretrained_backbone

FAST = {"epochs": 2, "progress": False, "random_state": 0, "on_shortfall": "record",
        "decoding": "free"}  # the scripted model has no tokenizer to constrain
TINY = LLMConfig(n_layer=1, n_head=2, n_embd=32, vocab_size=300, pretrain="table")
CORPUS = [f"animal is {a}, legs is {n}, colour is {c}" for a, n, c in
          [("cat", 4, "grey"), ("spider", 8, "black"), ("bird", 2, "red")]] * 8


def table(n_min=12, n_maj=36, seed=0):
    rng = np.random.default_rng(seed)
    n = n_min + n_maj
    X = pd.DataFrame({"age": rng.integers(20, 60, n), "bmi": np.round(rng.uniform(18, 40, n), 2),
                      "smoker": rng.choice(["yes", "no"], n)})
    return X, pd.Series(["high"] * n_min + ["low"] * n_maj, name="charges")


def trainings(fake):
    """The texts of every training call, per epoch: pretraining first when it ran."""
    return [c["epochs"] for k, c in fake.calls if k == "finetune"]


def test_pretraining_sees_every_row_and_column_in_fresh_orders(fake):
    X, y = table()
    ImbLLM(**FAST).fit_resample(X, y)
    pre, tune = trainings(fake)
    assert len(pre) == 30  # Budget.pretrain_epochs, before the method's 2 epochs
    columns = {"age", "bmi", "smoker", "charges"}
    for epoch in pre[:2]:
        assert len(epoch) == len(X)  # every training row, all classes, once an epoch
        named = [[p.split(" is ")[0] for p in split_pieces(t)] for t in epoch]
        assert all(set(n) == columns and len(n) == 4 for n in named)
        assert {t.split(", ")[0].split(" is ")[0] for t in epoch} == columns  # random orders
    labels = sorted(t.split("charges is ")[1].split(",")[0] for t in pre[0])
    assert labels == sorted(y)
    # Fresh orders each epoch: the same rows, written differently.
    def rows(epoch):
        return sorted(tuple(sorted(split_pieces(t))) for t in epoch)

    assert rows(pre[0]) == rows(pre[1])
    assert sorted(pre[0]) != sorted(pre[1])
    # The method's own fine-tuning follows, on its own sentences (minority, label first).
    assert len(tune) == 2 and all(t.startswith("charges is high, ") for t in tune[0])


def test_no_pretraining_starts_from_scratch_at_the_scratch_rate(fake):
    X, y = table()
    s = ImbLLM(**FAST, llm_config={"pretrain": "none"},
               budget={"learning_rate": 1e-3, "scratch_learning_rate": 3e-3})
    s.fit_resample(X, y)
    (tune,) = [c for k, c in fake.calls if k == "finetune"]
    assert tune["budget"].learning_rate == 3e-3 and "pretrain_seconds" not in s.telemetry()
    assert s.telemetry()["tags"]["pretrain"] == "none"
    with pytest.raises(ValueError, match="llm.pretrain='always' is not valid: must be None or a str among"):
        ImbLLM(**FAST, llm_config={"pretrain": "always"}).fit_resample(X, y)


@pytest.mark.parametrize("field, value, message", [
    ("pretrain_epochs", 0, "budget.pretrain_epochs=0 is not valid: must be an int in the range [1, inf)"),
    ("pretrain_learning_rate", 0.0, "budget.pretrain_learning_rate=0.0 is not valid: must be a float in the range (0.0"),
    ("scratch_learning_rate", -1e-3, "budget.scratch_learning_rate=-0.001 is not valid: must be None or a float"),
    ("pretrain_warmup_ratio", 1.0, "budget.pretrain_warmup_ratio=1.0 is not valid: must be a float in the range [0.0, 1.0)"),
    ("pretrain_max_rows_per_epoch", 0, "budget.pretrain_max_rows_per_epoch=0 is not valid: must be None or an int"),
])
def test_pretraining_budget_errors_name_the_field(fake, field, value, message):
    X, y = table()
    with pytest.raises(ValueError) as err:
        ImbLLM(**FAST, budget={field: value}).fit_resample(X, y)
    assert message in str(err.value) and not trainings(fake)


def test_hub_backbones_default_to_no_pretraining(fake, monkeypatch):
    from imbllm.llm import contract

    monkeypatch.setattr(contract, "_hub_unreachable", lambda: None)  # the stand-in needs no hub
    X, y = table()
    s = ImbLLM(**FAST, llm="some/hub-model")
    s.fit_resample(X, y)
    assert len(trainings(fake)) == 1 and s.llm_config_.pretrain == "none"


def test_methods_sharing_the_pretraining_text_pretrain_once(fake, tmp_path):
    X, y = table()
    first = ImbLLM(**FAST, cache_dir=str(tmp_path))
    first.fit_resample(X, y)
    t = first.telemetry()
    assert (t["cache_hit"], t["pretrain_cache_hit"]) == (0.0, 0.0) and t["pretrain_seconds"] > 0
    assert len(trainings(fake)) == 2
    # GReaT writes the same table text: its pretraining is a cache hit, its fine-tuning not.
    great = GReaT(**FAST, cache_dir=str(tmp_path))
    great.fit_resample(X, y)
    assert (great.telemetry()["cache_hit"], great.telemetry()["pretrain_cache_hit"]) == (0.0, 1.0)
    assert len(trainings(fake)) == 3
    # TapTap writes numbers digit by digit: another text, another pretraining.
    taptap = TapTap(**FAST, cache_dir=str(tmp_path))
    taptap.fit_resample(X, y)
    assert taptap.telemetry()["pretrain_cache_hit"] == 0.0 and len(trainings(fake)) == 5
    assert len(list((tmp_path / PRETRAINED_DIR).glob("[0-9a-f]*"))) == 2


def test_both_protocol_modes_share_one_pretrained_backbone(fake, tmp_path):
    X, y = table()
    named = ImbLLM(**FAST, cache_dir=str(tmp_path))
    named.fit_resample(X, y)
    # The published mode writes class codes in the method's text; its pretraining text still
    # writes names, so it starts from the same backbone and only fine-tunes anew.
    coded = ImbLLM(**FAST, label_format="code", cache_dir=str(tmp_path))
    coded.fit_resample(X, y)
    assert (coded.telemetry()["pretrain_cache_hit"], coded.telemetry()["cache_hit"]) == (1.0, 0.0)
    pretraining, _, finetune = trainings(fake)
    assert {p.split(", ")[0] for e in pretraining for p in e if p.startswith("charges")} == {
        "charges is high", "charges is low"}
    assert "charges is 0" in {t.split(", ")[0] for e in finetune for t in e}
    assert len(list((tmp_path / PRETRAINED_DIR).glob("[0-9a-f]*"))) == 1


def test_prompt_or_label_changes_reuse_the_fine_tuned_model(fake, tmp_path):
    X, y = table()
    ImbLLM(**FAST, cache_dir=str(tmp_path)).fit_resample(X, y)
    n = len(trainings(fake))
    for change in ({"prompt": "label"}, {"label": "classifier"}):
        again = ImbLLM(**FAST, **change, cache_dir=str(tmp_path))
        again.fit_resample(X, y)
        assert again.telemetry()["cache_hit"] == 1.0 and len(trainings(fake)) == n
    # A change that alters the training sentences trains again.
    other = ImbLLM(**FAST, permutation="shuffle_all", cache_dir=str(tmp_path))
    other.fit_resample(X, y)
    assert other.telemetry()["cache_hit"] == 0.0 and len(trainings(fake)) == n + 1


def test_a_change_to_the_training_code_misses(fake, tmp_path, monkeypatch):
    X, y = table()
    ImbLLM(**FAST, cache_dir=str(tmp_path)).fit_resample(X, y)
    again = ImbLLM(**FAST, cache_dir=str(tmp_path))
    again.fit_resample(X, y)
    assert again.telemetry()["cache_hit"] == 1.0 and len(trainings(fake)) == 2
    monkeypatch.setattr(cache, "training_code_digest", lambda: "edited")
    edited = ImbLLM(**FAST, cache_dir=str(tmp_path))
    edited.fit_resample(X, y)
    t = edited.telemetry()
    assert (t["cache_hit"], t["pretrain_cache_hit"]) == (0.0, 0.0) and len(trainings(fake)) == 4


def test_training_code_digest_follows_the_source(tmp_path, monkeypatch):
    (tmp_path / "imbllm_probe_mod.py").write_text("X = 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    before = cache.training_code_digest(("imbllm_probe_mod",))
    assert before == cache.training_code_digest(("imbllm_probe_mod",))
    (tmp_path / "imbllm_probe_mod.py").write_text("X = 2\n")
    assert cache.training_code_digest(("imbllm_probe_mod",)) != before
    assert cache.training_code_digest() != before  # the real modules
    with pytest.raises(ValueError, match="no source file"):
        cache.training_code_digest(("no_such_module_here",))


# Imported by the training modules without deciding the weights they make, and why.
NOT_DECIDING = {
    "imbllm.llm.model.sampling": "generation only",
    "imbllm.llm.model.causal": "a protocol and a result type",
    "imbllm.llm.model.checkpoint": "a resumed training ends at the same weights (test_llm_checkpoint)",
    "imbllm.llm.model.cache": "the cache itself",
    "imbllm.llm.model": "the model room's door: it finds the backbone class",
    "imbllm.base": "a constant of the interpolation, whose rows the texts digest holds",
}


def test_every_module_the_training_code_imports_is_digested():
    """A module moved out of a digested one (as the tokenizer was out of backbone) must join
    TRAINING_MODULES, or editing it would serve models the new code no longer makes."""
    imported = set()
    for name in cache.TRAINING_MODULES:
        tree = ast.parse(Path(importlib.util.find_spec(name).origin).read_text())
        for node in ast.walk(tree):
            if isinstance(node, ast.ImportFrom) and (node.module or "").startswith("imbllm"):
                # `from imbllm.llm import train` names a module, `from imbllm.llm.x import y` a
                # name of module x.
                for alias in node.names:
                    full = f"{node.module}.{alias.name}"
                    imported.add(full if _is_module(full) else node.module)
    assert "imbllm.llm.model.tokenizer" in imported
    assert imported - set(cache.TRAINING_MODULES) - set(NOT_DECIDING) == set()


def _is_module(name: str) -> bool:
    try:
        return importlib.util.find_spec(name) is not None
    except ModuleNotFoundError:  # a name inside a module, not a submodule
        return False


def test_context_length_is_sized_from_the_data():
    tok = train_tokenizer(CORPUS, 300)
    longest = max(len(tok(t)["input_ids"]) for t in CORPUS) + 1
    assert context_length(tok, CORPUS) == -(-(2 * longest + 32) // 64) * 64
    # A row far longer than the old fixed 512 positions still trains.
    wide = [", ".join(f"feature_{j} is {(i * j) % 97}" for j in range(150)) for i in range(4)]
    lm = LanguageModel.build(LLMConfig(n_layer=1, n_head=2, n_embd=16, vocab_size=300), wide, 0)
    n_tokens = max(len(lm.tokenizer(t)["input_ids"]) for t in wide)
    assert n_tokens > 512 and lm.max_length >= 2 * n_tokens
    lm.finetune(lambda e: wide, Budget(epochs=1, batch_size=4), seed=0, progress=False)


class SlowFake(FakeLanguageModel):
    """The scripted model, training for a second: long enough for the other process to look
    the entry up and wait on its lock."""

    def finetune(self, *args, **kwargs):
        time.sleep(1.0)
        return super().finetune(*args, **kwargs)


def _pretrain_worker(cache_dir: str, barrier, results, fake: bool) -> None:
    torch.set_num_threads(1)  # part of the key: both workers must ask for the same entry
    budget = Budget(batch_size=8, pretrain_epochs=40, pretrain_warmup_ratio=0.0)
    texts = lambda epoch: CORPUS  # noqa: E731
    key = pretrain_key(TINY, texts, budget, seed=0)
    barrier.wait()  # both look the entry up at the same moment
    if fake:  # this process only: the engine looks its model class up there
        import imbllm.llm.model as model

        model.language_model = lambda: SlowFake
    _, stats = pretrained_backbone(TINY, texts, budget, 0, key, cache_dir, False)
    results.put(stats["pretrain_cache_hit"])


@pytest.mark.parametrize("fake", [
    True,  # the scripted model: what the cache does, without loading a real one in each process
    pytest.param(False, marks=pytest.mark.slow),  # the real backbone (8 s a process)
])
def test_two_processes_needing_one_entry_train_it_once(tmp_path, fake):
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(2), ctx.Queue()
    workers = [ctx.Process(target=_pretrain_worker, args=(str(tmp_path), barrier, results, fake))
               for _ in range(2)]
    for w in workers:
        w.start()
    for w in workers:
        w.join(timeout=300)
    assert [w.exitcode for w in workers] == [0, 0]
    hits = sorted(results.get(timeout=5) for _ in workers)
    assert hits == [0.0, 1.0]  # one trained, the other waited and loaded its model
    entries = [p for p in (tmp_path / PRETRAINED_DIR).iterdir() if p.is_dir()]
    assert len(entries) == 1


def test_pretraining_shows_its_own_progress_bar(capsys):
    budget = Budget(batch_size=8, pretrain_epochs=1, pretrain_warmup_ratio=0.0)
    texts = lambda epoch: CORPUS  # noqa: E731
    lm, _ = pretrained_backbone(TINY, texts, budget, 0, pretrain_key(TINY, texts, budget, seed=0), None, True)
    err = capsys.readouterr().err
    assert "pretrain:" in err and "fine-tune" not in err
    lm.finetune(texts, Budget(epochs=1, batch_size=8), 0, True)
    assert "fine-tune:" in capsys.readouterr().err
