"""Rows that end early, completed column by column (imbllm.llm.rounds), with the scripted
stand-in model of tests/llm_fake.py: the continuation prompt, what is kept, what is rejected,
and how continued rows count against the sampler's patience.
"""

from __future__ import annotations

import itertools
import re

import pandas as pd
import pytest
from llm_fake import FAST, FakeTokenizer, calls, pieces, table

from imbllm.llm.methods import ImbLLM
from imbllm.llm.rounds import continuation_prompt, first_value


def test_continuation_prompt_names_the_column_and_keeps_its_first_value():
    head = continuation_prompt("charges is high,", " age is 55, bmi is 30.5", "region")
    assert head == "charges is high, age is 55, bmi is 30.5, region is"
    assert continuation_prompt("charges is high,", " age is 55,  ", "a, b").endswith(
        '55, "a, b" is'
    )
    assert first_value(' "north, east", smoker is no') == ' "north, east"'
    assert first_value(" 30.5, age is 99") == " 30.5"
    assert first_value("south") == " south" and first_value(", age is 1") == " "
    assert pieces(head + first_value(' "north, east", age is 20')) == {
        "charges": "high",
        "age": "55",
        "bmi": "30.5",
        "region": "north, east",
    }


#: First completions for the continuation tests: a row that ends after bmi (its age readable,
#: so it is continued) and one whose age is not a number (rejected, never continued).
EARLY_ROWS = [" age is 55, bmi is 30.5", " age is old, bmi is 30.5"]
EARLY_HEAD = "charges is high," + EARLY_ROWS[0]


def test_a_row_ending_early_is_completed_column_by_column(fake):
    X, y = table()
    first = itertools.cycle(EARLY_ROWS)
    smoker = itertools.cycle([" yes, region is south, smoker is no", " maybe"])
    head = EARLY_HEAD

    def script(prompt, rng, lm):
        if prompt == "charges is high,":
            return next(first)
        if prompt == head + ", smoker is":
            return next(smoker)
        assert prompt == head + ", smoker is yes, region is"  # only the first value was kept
        return ' "north, east", smoker is no, age is 20'

    fake.script = script
    s = ImbLLM(**FAST, prompt="label", patience=1.5, on_shortfall="record")
    X_res, y_res = s.fit_resample(X, y)
    t = s.telemetry()
    # 24 first completions; the 12 with a readable age name smoker (one batched call), the
    # 6 that got a known smoker value name region (another); 12 rows continued = 12 more
    # completions, which spends the patience of 36.
    assert [len(g["prompts"]) for g in calls(fake, "generate")] == [24, 12, 6]
    assert t["continuations_name_columns"] == 1
    assert (t["n_completions"], t["n_continuations"], t["n_continued"]) == (36, 18, 12)
    assert (t["n_valid"], t["n_continued_valid"], t["n_rejected"]) == (6, 6, 18)
    assert (t["rejected_unparsable_number"], t["rejected_unknown_category"]) == (12, 6)
    new = X_res.iloc[48:]
    assert (new.age == 55).all() and (new.bmi == 30.5).all()
    assert (new.smoker == "yes").all() and (new.region == "north, east").all()
    # A continuation writes one value: '"north, east",' is the longest (4 fake tokens) + 4.
    assert [g["max_new_tokens"] for g in calls(fake, "generate")][1:] == [8, 8]


def test_a_tokenizer_that_keeps_the_blank_with_the_name_gets_prompts_ending_in_it(fake, monkeypatch):
    # Like the compact "fields" tokenizer: " smoker is " is one token and the value the next,
    # so "..., smoker is" is no token boundary of the training text but "..., smoker is " is.
    monkeypatch.setattr(
        FakeTokenizer, "__call__", lambda self, t: {"input_ids": re.findall(r"[^,]*? is |[^,]+|,", t)}
    )
    X, y = table()
    first = itertools.cycle(EARLY_ROWS)
    head = EARLY_HEAD

    def script(prompt, rng, lm):
        if prompt == "charges is high,":
            return next(first)
        if prompt == head + ", smoker is ":
            return "yes, region is south"  # no blank: the prompt ended with it
        assert prompt == head + ", smoker is yes, region is "
        return ' "north, east"'  # a stray blank is dropped like any leading blank

    fake.script = script
    s = ImbLLM(**FAST, prompt="label", patience=1.5, on_shortfall="record")
    X_res, _ = s.fit_resample(X, y)
    t = s.telemetry()
    assert (t["continuations_name_columns"], t["continuations_open_value"]) == (1, 1)
    assert (t["n_valid"], t["n_continued_valid"]) == (12, 12)
    new = X_res.iloc[48:]
    assert (new.smoker == "yes").all() and (new.region == "north, east").all()


def test_a_tokenizer_that_merges_name_and_value_continues_without_naming(fake, monkeypatch):
    # Like the compact "pieces" tokenizer: merges stop at commas only, so "smoker is" and
    # "smoker is yes" tokenize differently and a prompt cannot end between them.
    monkeypatch.setattr(FakeTokenizer, "__call__", lambda self, t: {"input_ids": t.split(",")})
    X, y = table()
    first = itertools.cycle(EARLY_ROWS)

    def script(prompt, rng, lm):
        if prompt == "charges is high,":
            return next(first)
        assert prompt == EARLY_HEAD + ","  # its own text + separator
        return " smoker is yes, region is south, age is 20"  # a repeated column: first wins

    fake.script = script
    s = ImbLLM(**FAST, prompt="label", patience=1.5, on_shortfall="record")
    X_res, _ = s.fit_resample(X, y)
    t = s.telemetry()
    assert t["continuations_name_columns"] == 0
    # 24 first completions and 12 whole continuations (each counts) spend the patience of 36.
    assert [len(g["prompts"]) for g in calls(fake, "generate")] == [24, 12]
    assert (t["n_completions"], t["n_continuations"], t["n_continued_valid"]) == (36, 12, 12)
    new = X_res.iloc[48:]
    assert (new.age == 55).all() and (new.smoker == "yes").all() and (new.region == "south").all()


def test_without_continuations_early_rows_are_rejected(fake):
    X, y = table()
    fake.script = lambda prompt, rng, lm: " age is 55, bmi is 30.5"
    s = ImbLLM(**FAST, prompt="label", max_continuations=0, on_shortfall="record")
    s.fit_resample(X, y)
    t = s.telemetry()
    assert (t["n_valid"], t["n_completions"], t["n_continuations"]) == (0, 120, 0)
    assert t["rejected_missing_value"] == 120
    assert all(g["prompts"][0] == "charges is high," for g in calls(fake, "generate"))


@pytest.mark.parametrize(
    "max_continuations, patience, valid, completions, continuations",
    [(3, 2.0, 24, 48, 72), (2, 2.0, 0, 48, 48), (3, 1.5, 12, 36, 36)],
)
def test_continued_rows_count_once_against_patience(
    fake, max_continuations, patience, valid, completions, continuations
):
    X, y = table()
    steps = {
        "is high,": " age is 55",
        "bmi is": " 30.5, age is 99",
        "smoker is": " yes",
        "region is": " south",
    }
    fake.script = lambda prompt, rng, lm: steps[" ".join(prompt.split(" ")[-2:])]
    s = ImbLLM(
        **FAST,
        prompt="label",
        patience=patience,
        on_shortfall="record",
        max_continuations=max_continuations,
    )
    X_res, _ = s.fit_resample(X, y)
    t = s.telemetry()
    # Each row lacks bmi, smoker and region: three rounds complete it, two leave region out.
    assert (t["n_valid"], t["n_completions"], t["n_continuations"]) == (
        valid,
        completions,
        continuations,
    )
    assert t["n_completions"] <= patience * 24 and t["shortfall"] == 24 - valid
    assert (X_res.iloc[48:].age == 55).all()  # the age a continuation repeated is dropped


def test_continuing_rows_of_a_model_that_learnt_partial_rows(fake):
    """The fake completes from any remembered sentence, interpolated (numbers only) ones
    included, as the fine-tuned model does: continuing raises the valid rate, same rows for
    the same seed."""
    fake.full_rows_only = False
    X, y = table()
    runs = {}
    for m in (0, 32, 32):
        s = ImbLLM(**FAST, max_continuations=m, patience=2, on_shortfall="record")
        X_res, _ = s.fit_resample(X, y)
        runs.setdefault(m, []).append((X_res, s.telemetry()))
    (_, off), (a, on), (b, _) = runs[0][0], runs[32][0], runs[32][1]
    pd.testing.assert_frame_equal(a, b)
    assert off["n_continuations"] == 0 and on["n_continuations"] > 0
    assert on["n_valid"] > off["n_valid"] and on["n_continued_valid"] > 0


def test_max_continuations_must_be_a_non_negative_integer(fake):
    X, y = table()
    with pytest.raises(ValueError, match=r"'max_continuations' parameter of ImbLLM must be an int in the range \[0, inf\)"):
        ImbLLM(**FAST, max_continuations=-1).fit_resample(X, y)
