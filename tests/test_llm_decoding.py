"""``decoding="constrained"`` through the engine: every row made, none rejected, on tables that
break free decoding; the choice defaulted by the repair policy and kept through save/load."""

from __future__ import annotations

import numpy as np
import pandas as pd
import pytest

pytest.importorskip("torch")

from imbllm.llm.decoding import DecodeStats, resolve_decoding  # noqa: E402
from imbllm.llm.methods import ImbLLM  # noqa: E402

TINY = {"n_layer": 1, "n_head": 2, "n_embd": 32, "vocab_size": 400}
# Two epochs of pretraining and of fine-tuning: rows of poor quality, in seconds.
SMALL = {"epochs": 2, "batch_size": 16, "pretrain_epochs": 2, "gen_batch_size": 64}


def hard_table(n=60, n_min=2, seed=0):
    """Mixed types, names sharing a prefix, values holding ``", "``, ``" is "`` and quotes,
    and a 1-in-30 minority."""
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            "T3": rng.choice([1.5, 2.25, 10.0, 3.75, 7.5], n),
            "T3_measured": rng.integers(1, 13, n),
            "sex": rng.choice(["a, b", 'say "hi"', "x is y", "plain"], n),
            "neg": rng.choice([-3.5, 0.0, 2.0, -1.0, 1.5], n),
            "smoker": rng.choice([True, False], n),
        }
    )
    return X, pd.Series(["rare"] * n_min + ["common"] * (n - n_min), name="label")


def wide_table(n=40, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame(
        {
            **{f"x{j}": rng.integers(0, 50, n) for j in range(45)},
            **{f"x{j}_b": rng.choice(["lo", "mid", "hi, very"], n) for j in range(40)},
        }
    )
    return X, pd.Series(["a"] * 10 + ["b"] * (n - 10), name="label")


def sampler(**kw):
    return ImbLLM(llm_config=TINY, budget=SMALL, progress=False, random_state=0, **kw)


def test_decoding_defaults_follow_the_repair_policy_and_are_checked():
    assert resolve_decoding(None, "strict") == "constrained"
    assert resolve_decoding(None, "published") == "free"
    assert resolve_decoding("constrained", "published") == "constrained"
    with pytest.raises(ValueError, match="decoding='greedy' is not one of"):
        resolve_decoding("greedy", "strict")


def test_decode_stats_weigh_masked_mass_by_tokens():
    stats = DecodeStats()
    stats.add({"generated_tokens": 30, "sample_seconds": 1.0, "constrained": True,
               "masked_mass": 0.1, "mask_seconds": 0.003})
    stats.add({"generated_tokens": 10, "sample_seconds": 1.0, "constrained": True,
               "masked_mass": 0.5, "mask_seconds": 0.001})
    stats.add({"generated_tokens": 50, "sample_seconds": 1.0, "constrained": False})
    out = stats.summary(n_valid=12)
    assert out["masked_mass"] == pytest.approx(0.2)
    assert out["mask_us_per_token"] == pytest.approx(100.0)  # 4 ms over the 40 masked tokens
    assert out["valid_rows_per_second"] == 4.0 and out["tokens_per_second"] == 30.0
    assert "masked_mass" not in DecodeStats().summary(0)


def test_constrained_decoding_makes_every_row_a_briefly_trained_model_fails_to_write():
    X, y = hard_table()
    brief = {"llm_config": {**TINY, "pretrain": "none"}, "epochs": 3}
    free = ImbLLM(**brief, decoding="free", patience=1, max_continuations=0,
                  on_shortfall="record", progress=False, random_state=0)
    free.fit_resample(X, y)
    n = free.n_requested_
    assert n == 56 and free.n_generated_ < n // 2  # measured: 0 of 56
    constrained = ImbLLM(**brief, decoding="constrained", patience=1, progress=False,
                         random_state=0)
    X_res, y_res = constrained.fit_resample(X, y)
    t = constrained.telemetry()
    # One completion per row, every one accepted by the strict check.
    assert t["n_generated"] == t["n_completions"] == n and t["n_rejected"] == 0
    assert t["tags"]["decoding"] == "constrained" and 0 < t["masked_mass"] < 1
    new = X_res.iloc[len(X):]
    assert set(new.sex) <= set(X.sex) and new.T3_measured.between(1, 12).all()
    assert set(y_res.iloc[len(X):]) == {"rare"}


def test_defaults_make_every_row_on_a_hard_table_and_repeat(tmp_path):
    X, y = hard_table()
    s = sampler()
    X_res, y_res = s.fit_resample(X, y)
    assert s.plan_.settings.decoding == "constrained" and s.n_generated_ == 56 and s.n_rejected_ == 0
    again, _ = sampler().fit_resample(X, y)
    pd.testing.assert_frame_equal(again, X_res)
    # Saved and loaded, it still samples under the grammar, the same rows as before.
    s.save(tmp_path)
    loaded = ImbLLM.load(tmp_path)
    assert loaded.plan_.grammar is not None
    a, _ = s.sample(30, random_state=1)
    b, _ = loaded.sample(30, random_state=1)
    pd.testing.assert_frame_equal(a, b)
    assert loaded.last_sample_stats_["n_rejected"] == 0 and "masked_mass" in (
        loaded.last_sample_stats_)


def test_missing_cells_are_refused_up_front():
    X, y = hard_table()
    X.loc[3, "neg"] = np.nan
    with pytest.raises(ValueError, match=r"X has missing values in columns \['neg'\]"):
        sampler().fit_resample(X, y)


def test_defaults_make_every_row_of_an_85_column_table():
    X, y = wide_table()
    s = sampler()
    s.fit_resample(X, y)
    assert s.n_generated_ == 20 and s.n_rejected_ == 0
