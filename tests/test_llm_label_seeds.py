"""Pred-LLM's label queries: round 0 keeps its seed, each refill round draws its own.

With the scripted stand-in model (tests/llm_fake.py), whose label answers here depend on the
seed of the call, so that a reused seed would repeat the same answers round after round.
"""

from __future__ import annotations

import pandas as pd
import pytest
from llm_fake import FAST, calls, labelling_script, pieces, table

from baselines.llm import PredLLM
from imbllm.llm.drawer import Drawer, label_seed


def noisy_labels(X):
    """Rows copied from ``X``; a label query answered by age >= 50, wrong one time in three
    (drawn from the call's generator), so that refill rounds are needed."""
    rows = labelling_script(X)

    def script(prompt, rng, lm):
        asked = pieces(prompt.rstrip(","))
        if len(asked) == 4:
            high = (int(asked["age"]) >= 50) != (rng.random() < 1 / 3)
            return " charges is " + ("high" if high else "low")
        return rows(prompt, rng, lm)

    return script


def label_calls(fake) -> list[dict]:
    """The generate calls that asked for labels (every prompt a full row of 4 features)."""
    return [
        c
        for c in calls(fake, "generate")
        if all(len(pieces(p.rstrip(","))) == 4 for p in c["prompts"])
    ]


@pytest.fixture
def draws(monkeypatch) -> list[int]:
    """The seed of every draw, in order."""
    seeds: list[int] = []
    draw = Drawer.draw
    monkeypatch.setattr(
        Drawer, "draw", lambda self, n, seed: draw(self, n, seeds.append(seed) or seed)
    )
    return seeds


def fit(fake, draws, random_state=0):
    """A fitted Pred-LLM, its output, the seed its draw got, and its label calls."""
    fake.calls.clear()
    X, y = table()
    fake.script = noisy_labels(X)
    sampler = PredLLM(**{**FAST, "random_state": random_state}, patience=10)
    out = sampler.fit_resample(X, y)
    return sampler, out, draws[-1], label_calls(fake)


def test_label_queries_keep_round_0s_seed_and_draw_a_fresh_one_per_refill_round(fake, draws):
    sampler, _, seed, asked = fit(fake, draws)
    t = sampler.telemetry()
    assert t["n_rounds"] >= 3 and t["rejected_label_not_minority"] > 0  # refill rounds ran
    # One label call per round (every round has valid rows to label).
    assert len(asked) == t["n_rounds"]
    used = [c["seed"] for c in asked]
    # Round 0: the seed every round used before, so committed rows stay as they were.
    assert used[0] == seed ^ 0x5EED
    # Each refill round its own seed, from the draw's seed and the round.
    assert len(set(used)) == len(used)
    assert used == [label_seed(seed, r) for r in range(len(used))]
    # The row prompts' seeds are untouched: none of them is a label seed.
    assert not set(used) & {c["seed"] for c in calls(fake, "generate") if c not in asked}


def test_same_seed_same_rows_and_labels_with_fresh_label_seeds(fake, draws):
    _, (X_a, y_a), seed_a, asked_a = fit(fake, draws)
    _, (X_b, y_b), seed_b, asked_b = fit(fake, draws)
    pd.testing.assert_frame_equal(X_a, X_b)
    pd.testing.assert_series_equal(y_a, y_b)
    assert seed_a == seed_b and [c["seed"] for c in asked_a] == [c["seed"] for c in asked_b]
    # Another seed, other label seeds from round 0 on.
    _, _, seed_c, asked_c = fit(fake, draws, random_state=1)
    assert seed_c != seed_a and asked_c[0]["seed"] == seed_c ^ 0x5EED != asked_a[0]["seed"]
