"""A budget that fits the table: ``max_train_tokens`` cuts rows per epoch, then epochs;
``ImbLLM()`` with no budget caps its training; of the presets only ``compact`` does, lower."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from imbllm.llm.fitting import resolve_budget
from imbllm.llm.model.config import (
    MIN_CAPPED_ROWS,
    TABLE_FITTED,
    Budget,
    LLMConfig,
    fit_to_tokens,
)
from imbllm.llm.pretrain import pretrain_budget
from imbllm.testing import rare_table, wide_table

CONF = Path(__file__).resolve().parents[1] / "conf" / "budget"


def test_a_cap_cuts_rows_per_epoch_first_then_epochs():
    assert fit_to_tokens(30, 1000, 20.0, None) == (30, 1000)
    assert fit_to_tokens(30, 1000, 20.0, 600_000) == (30, 1000)       # 600,000 tokens: fits
    assert fit_to_tokens(50, 9633, 20.0, 1_000_000) == (50, 1000)     # 1e6 / (50 x 20)
    # 85 columns, ~340 tokens a row: rows stop at the floor, then epochs go
    assert fit_to_tokens(50, 5600, 340.0, 1_000_000) == (5, MIN_CAPPED_ROWS)
    assert fit_to_tokens(30, 1536, 340.0, 2_000_000) == (11, MIN_CAPPED_ROWS)
    assert fit_to_tokens(30, 100, 340.0, 1_000) == (1, 100)           # one epoch at least
    assert fit_to_tokens(50, 300, 20.0, 100_000) == (16, 300)         # a small table: every row


def test_imbllm_without_a_budget_caps_its_tokens_and_only_compact_of_the_presets_does():
    config = LLMConfig()
    budget, tune = resolve_budget(None, {}, config)
    assert (budget.max_train_tokens, budget.pretrain_max_train_tokens) == (
        TABLE_FITTED["max_train_tokens"], TABLE_FITTED["pretrain_max_train_tokens"])
    assert tune.max_train_tokens == TABLE_FITTED["max_train_tokens"]
    assert resolve_budget(None, {"epochs": 3}, config)[0].max_train_tokens is not None
    assert resolve_budget({"epochs": 3}, {}, config)[0].max_train_tokens is None
    for preset in ("paper", "smoke"):
        values = yaml.safe_load((CONF / f"{preset}.yaml").read_text())
        b, _ = resolve_budget(values, {}, config)
        assert (b.max_train_tokens, b.pretrain_max_train_tokens) == (None, None), preset
    # The grid's budget caps pretraining only (issue 23: a fine-tuning cap cost ImbLLM's F1).
    b, tune = resolve_budget(yaml.safe_load((CONF / "compact.yaml").read_text()), {}, config)
    assert (b.max_train_tokens, b.pretrain_max_train_tokens) == (None, 400_000)
    assert tune.max_train_tokens is None
    assert pretrain_budget(b).max_train_tokens == 400_000


def test_a_bad_cap_names_its_key():
    with pytest.raises(ValueError, match="budget.max_train_tokens"):
        Budget(max_train_tokens=0)


def test_the_tables_of_the_defaults_bench_have_their_shape():
    X, y = wide_table()
    assert X.shape == (6000, 85) and 0.04 < (y == "claim").mean() < 0.08
    X, y = rare_table()
    assert X.shape == (10000, 4) and 1 / 40 < (y == "fraud").mean() < 1 / 25


def test_the_training_loop_keeps_within_the_cap():
    torch = pytest.importorskip("torch")  # noqa: F841
    from imbllm.llm.model.backbone import LanguageModel
    from imbllm.llm.model.train import encode_texts, finetune

    rows = [f"animal is a{i % 7}, legs is {i % 5}, colour is c{i % 3}" for i in range(700)]
    lm = LanguageModel.build(LLMConfig(n_layer=1, n_head=2, n_embd=32, vocab_size=300,
                                       n_positions=64), rows, seed=0)
    per_row = sum(map(len, encode_texts(lm, rows))) / len(rows)
    cap = int(per_row * 1500)  # 4 epochs of 700 rows would be 2,800 rows' worth
    budget = Budget(epochs=4, batch_size=64, learning_rate=1e-3, max_train_tokens=cap)
    stats = finetune(lm, lambda e: rows, budget, seed=0, progress=False)
    # rows cut to the floor of 512 (375 would fit 4 epochs), then 2 epochs of them
    assert (stats["epochs"], stats["rows_per_epoch"]) == (2, MIN_CAPPED_ROWS)
    assert 2 * 512 * per_row * 0.9 <= stats["train_tokens"] <= cap
