"""A training killed between epochs goes on from its saved state to the same weights."""

from __future__ import annotations

import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from imbllm.llm.model.backbone import Budget, LanguageModel, LLMConfig  # noqa: E402
from imbllm.llm.model.cache import cached_finetune, model_cache_key  # noqa: E402
from imbllm.llm.model.checkpoint import TrainingCheckpoint  # noqa: E402

ROWS = [
    "animal is cat, colour is black, legs is 4",
    "animal is bird, colour is blue, legs is 2",
    "animal is spider, colour is brown, legs is 8",
    "animal is snake, colour is green, legs is 0",
] * 3
# Dropout on (the compact default is off), so that resuming must restore the global generator.
TINY = LLMConfig(n_layer=1, n_head=2, n_embd=32, vocab_size=300, n_positions=64, dropout=0.1)
# A row cap, so that each epoch draws its subset from the loop's generator, and dropout, which
# draws from torch's global one: both must be restored for the weights to match.
BUDGET = Budget(epochs=5, batch_size=4, learning_rate=1e-2, max_rows_per_epoch=8)


class Killed(Exception):
    pass


def texts_until(stop_epoch: int | None):
    def texts(epoch):
        if stop_epoch is not None and epoch == stop_epoch:
            raise Killed(epoch)
        return ROWS

    return texts


def weights(lm: LanguageModel) -> dict:
    return {k: v.detach().clone() for k, v in lm.model.state_dict().items()}


def same(a: dict, b: dict) -> bool:
    return a.keys() == b.keys() and all(torch.equal(a[k], b[k]) for k in a)


@pytest.fixture(scope="module")
def straight():
    lm = LanguageModel.build(TINY, ROWS, seed=0)
    assert lm.model.config.resid_pdrop > 0  # dropout is on, so the global generator matters
    stats = lm.finetune(texts_until(None), BUDGET, 0, False)
    return weights(lm), stats


def test_a_killed_training_resumes_to_the_same_weights(tmp_path, straight):
    ckpt = TrainingCheckpoint(tmp_path / "state", every_seconds=0)
    with pytest.raises(Killed):
        LanguageModel.build(TINY, ROWS, seed=0).finetune(texts_until(3), BUDGET, 0, False, ckpt)
    assert (tmp_path / "state" / "state.pt").is_file()
    outside = torch.random.get_rng_state()
    lm = LanguageModel.build(TINY, ROWS, seed=0)
    stats = lm.finetune(texts_until(None), BUDGET, 0, False, TrainingCheckpoint(tmp_path / "state"))
    assert stats["resumed_epochs"] == 3 and straight[1]["resumed_epochs"] == 0
    assert stats["train_tokens"] == straight[1]["train_tokens"]
    assert stats["final_loss"] == pytest.approx(straight[1]["final_loss"], abs=0)
    assert same(weights(lm), straight[0])
    assert torch.equal(torch.random.get_rng_state(), outside)


def test_a_state_saved_for_another_training_is_ignored(tmp_path, straight):
    ckpt = TrainingCheckpoint(tmp_path / "state", every_seconds=0)
    other = Budget(epochs=5, batch_size=4, learning_rate=5e-3, max_rows_per_epoch=8)
    with pytest.raises(Killed):
        LanguageModel.build(TINY, ROWS, seed=0).finetune(texts_until(2), other, 0, False, ckpt)
    lm = LanguageModel.build(TINY, ROWS, seed=0)
    stats = lm.finetune(texts_until(None), BUDGET, 0, False, ckpt)
    assert stats["resumed_epochs"] == 0 and same(weights(lm), straight[0])
    # A damaged state file is not fatal either.
    (tmp_path / "state" / "state.pt").write_bytes(b"torn")
    lm = LanguageModel.build(TINY, ROWS, seed=0)
    assert lm.finetune(texts_until(None), BUDGET, 0, False, ckpt)["resumed_epochs"] == 0


def test_states_are_saved_at_most_once_per_interval():
    ckpt = TrainingCheckpoint("unused", every_seconds=60)
    assert not ckpt.due(100.0) and not ckpt.due(159.0) and ckpt.due(160.0)
    with pytest.raises(ValueError, match="every_seconds=-1 must be >= 0"):
        TrainingCheckpoint("unused", every_seconds=-1)


def test_the_cache_resumes_a_killed_worker_and_clears_its_state(tmp_path, straight):
    key = model_cache_key(corpus="animals", seed=0)
    seen = []

    def train(stop_epoch):
        def build_and_train(checkpoint):
            checkpoint.every_seconds = 0
            lm = LanguageModel.build(TINY, ROWS, seed=0)
            seen.append(lm.finetune(texts_until(stop_epoch), BUDGET, 0, False, checkpoint))
            return lm

        return build_and_train

    with pytest.raises(Killed):
        cached_finetune(tmp_path, key, train(4))
    assert (tmp_path / f".{key}.partial" / "state.pt").is_file()
    lm, hit = cached_finetune(tmp_path, key, train(None))
    assert not hit and seen[-1]["resumed_epochs"] == 4 and same(weights(lm), straight[0])
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([key, f".{key}.lock"])
