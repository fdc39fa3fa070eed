"""The engine with a scripted stand-in model: what it trains on, prompts with, keeps and raises.

These tests pin the text side exactly (training sentences, prompts, parsing, repair, strict
shortfall, labels) without any neural network; tests/test_llm_methods.py runs the real one,
tests/test_llm_continuation.py the rounds that complete rows which end early,
tests/test_llm_engine_settings.py its settings, their errors and save/load.
"""

from __future__ import annotations

import re

import numpy as np
import pandas as pd
import pytest
from llm_fake import FAST, calls, labelling_script, pieces, table

from baselines.llm import GReaT, PredLLM, TapTap
from imbllm.llm.engine import ShortfallError
from imbllm.llm.methods import ImbLLM
from imbllm.testing import check_oversampler


def test_imbllm_trains_on_minority_plus_interpolated_rows_label_first(fake):
    X, y = table()
    ImbLLM(**FAST, interpolation_ratio=0.5).fit_resample(X, y)
    epochs = calls(fake, "finetune")[-1]["epochs"]
    for texts in epochs:  # 12 real rows + 0.5 * n_gen (24) interpolated ones
        assert len(texts) == 24
        assert all(t.startswith("charges is high, ") for t in texts)
        real = [t for t in texts if "smoker is" in t]
        interp = [t for t in texts if "smoker is" not in t]
        assert len(real) == 12 and len(interp) == 12
        for t in interp:  # continuous features only, 2 decimals, inside the minority's range
            p = pieces(t)
            assert set(p) == {"charges", "age", "bmi"}
            assert 50 <= float(p["age"]) <= 59 and re.fullmatch(r"-?\d+(\.\d{1,2})?", p["bmi"])
    # A fresh feature order every epoch.
    assert sorted(epochs[0]) != sorted(epochs[1])


def test_interpolated_rows_come_from_the_minority_class_only(fake):
    X, y = table(n_min=10, n_maj=40, three_classes=True)
    ImbLLM(**FAST).fit_resample(X, y)
    texts = calls(fake, "finetune")[-1]["epochs"][0]
    interp = [pieces(t) for t in texts if "smoker is" not in t]
    assert len(interp) == 20 - 10  # n_gen = largest class (20) - minority (10)
    assert all(p["charges"] == "high" and 50 <= float(p["age"]) <= 59 for p in interp)


def test_few_minority_rows_fall_back_to_duplicates_and_say_so(fake):
    X, y = table(n_min=4, n_maj=20)
    s = ImbLLM(**FAST)
    s.fit_resample(X, y)
    assert "more than 5 minority rows, got 4" in s.fallback_
    texts = calls(fake, "finetune")[-1]["epochs"][0]
    minority = {(a, b) for a, b in zip(X.age[:4], X.bmi[:4], strict=True)}
    interp = [pieces(t) for t in texts if "smoker is" not in t]
    assert len(interp) == 16
    assert all((int(p["age"]), float(p["bmi"])) in minority for p in interp)


def test_prompts_rotate_over_features_with_minority_values(fake):
    X, y = table()
    ImbLLM(**FAST).fit_resample(X, y)
    prompts = calls(fake, "generate")[0]["prompts"]
    assert len(prompts) == 24
    conditioned = [p[len("charges is high, ") : -1] for p in prompts]
    assert all(p.startswith("charges is high, ") and p.endswith(",") for p in prompts)
    per_feature = pd.Series([c.split(" is ")[0] for c in conditioned]).value_counts()
    assert per_feature.to_dict() == {"age": 6, "bmi": 6, "smoker": 6, "region": 6}
    smoker = {c.split(" is ")[1] for c in conditioned if c.startswith("smoker")}
    assert smoker == {"yes"}  # the minority's only category, never the majority's "no"
    # Pooled real and interpolated minority values: interpolated ages keep 2 decimals (57.96).
    ages = {float(c.split(" is ")[1]) for c in conditioned if c.startswith("age")}
    assert all(50 <= a <= 59 for a in ages)
    assert all(round(a, 2) == a for a in ages)


def test_label_only_prompt_and_random_permutation_ablations(fake):
    X, y = table()
    ImbLLM(**FAST, prompt="label", permutation="shuffle_all").fit_resample(X, y)
    assert set(calls(fake, "generate")[0]["prompts"]) == {"charges is high,"}
    texts = calls(fake, "finetune")[-1]["epochs"][0]
    first = {t.split(" is ")[0] for t in texts}
    assert "charges" in first and len(first) > 1  # the target is no longer always first


def test_great_taptap_predllm_training_sentences(fake):
    X, y = table()
    GReaT(**FAST).fit_resample(X, y)
    texts = calls(fake, "finetune")[-1]["epochs"][0]
    assert len(texts) == 48 and {t.split(" is ")[0] for t in texts} >= {"charges", "age"}
    assert set(calls(fake, "generate")[-1]["prompts"]) == {"charges is high,"}

    TapTap(**FAST).fit_resample(X, y)
    texts = calls(fake, "finetune")[-1]["epochs"][0]
    assert len(texts) == 48 and not any("charges" in t for t in texts)
    assert all(re.fullmatch(r"(\d )+\d", pieces(t)["age"]) for t in texts)  # "5 3"

    fake.script = labelling_script(X)
    PredLLM(**FAST, patience=10).fit_resample(X, y)
    texts = calls(fake, "finetune")[-1]["epochs"][0]
    assert len(texts) == 96 and all(t.split(", ")[-1].startswith("charges is") for t in texts)
    in_order = [t for t in texts if t.startswith("age is") and ", bmi is" in t.split(", smoker")[0]]
    assert len(in_order) >= 48  # the table-order copy of every row


def test_strict_shortfall_raises_with_counts_per_reason(fake):
    X, y = table()
    fake.script = lambda prompt, rng, lm: " bmi is heavy, smoker is yes"
    with pytest.raises(ShortfallError) as err:
        GReaT(**FAST, patience=2).fit_resample(X, y)
    msg = str(err.value)
    assert "produced 0 of 24 valid rows after 48 completions" in msg
    assert "missing_value:age 48" in msg and "on_shortfall='record'" in msg
    assert "decoding='constrained'" in msg  # free decoding names the fix


def test_recorded_shortfall_returns_what_exists_and_logs_the_gap(fake):
    X, y = table()
    answers = iter([" age is 55, bmi is 30.5, smoker is yes, region is south"] * 5)
    fake.script = lambda prompt, rng, lm: next(answers, " age is old")
    s = GReaT(**FAST, patience=2, on_shortfall="record")
    X_res, y_res = s.fit_resample(X, y)
    t = s.telemetry()
    assert (s.n_requested_, s.n_generated_, len(X_res)) == (24, 5, 53)
    assert t["shortfall"] == 19 and t["n_valid"] == 5 and t["n_rejected"] == 43
    assert t["rejected_unparsable_number"] == 43 and t["n_completions"] == 48


def test_fewer_rows_only_with_the_gap_recorded_under_the_battery(fake):
    X, y = table()
    valid = " age is 55, bmi is 30.5, smoker is yes, region is south"
    # About one completion in four is a valid row; the draws follow the round's seed.
    fake.script = lambda prompt, rng, lm: valid if rng.random() < 0.25 else " age is old"
    s = GReaT(**FAST, patience=2, on_shortfall="record")
    check_oversampler(s, X, y)
    t = s.telemetry()
    assert 0 < t["n_valid"] < 24 and t["shortfall"] == 24 - t["n_valid"]
    # Every completion is kept, rejected with its reason, or a spare valid row for a slot
    # already filled.
    assert t["n_completions"] == 48 == t["n_valid"] + t["n_rejected"] + t["n_unused"]
    assert t["rejected_unparsable_number"] == t["n_rejected"] > 0
    with pytest.raises(ShortfallError, match=f"produced {int(t['n_valid'])} of 24 valid rows"):
        GReaT(**FAST, patience=2).fit_resample(X, y)


def test_strict_and_published_repair_of_the_same_completions(fake):
    X, y = table()
    script = [
        " age is 55, bmi is 30.5, smoker is yes, region is south",  # valid
        " bmi is 30.5, smoker is yes, region is south",  # age missing
        " age is 55, bmi is inf, smoker is yes, region is south",  # not finite
        " age is 55, bmi is fat, smoker is yes, region is south",  # unparsable: dropped
        " age is 55, bmi is 30.5, smoker is maybe, region is south",  # unknown category
        " age is 99, bmi is 30.5, smoker is yes, region is south",  # outside the range
    ] * 4
    seq = iter(script)
    fake.script = lambda prompt, rng, lm: next(seq, " nothing")
    strict = GReaT(**FAST, patience=1, on_shortfall="record")
    strict.fit_resample(X, y)
    t = strict.telemetry()
    assert (t["n_valid"], t["n_rejected"], t["n_repaired_cells"]) == (4, 20, 0)
    assert {k: v for k, v in t.items() if k.startswith("rejected_")} == {
        "rejected_missing_value": 4,
        "rejected_non_finite": 4,
        "rejected_unparsable_number": 4,
        "rejected_unknown_category": 4,
        "rejected_out_of_range": 4,
    }

    seq = iter(script)
    published = GReaT(**FAST, patience=1, on_shortfall="record", repair="published")
    X_res, _ = published.fit_resample(X, y)
    t = published.telemetry()
    assert (t["n_valid"], t["n_rejected"], t["n_repaired_cells"]) == (20, 4, 12)
    new = X_res.iloc[48:]
    mean_age, mean_bmi = round(X.age.mean(), 2), round(X.bmi.mean(), 2)
    assert (new.age == round(mean_age)).sum() == 4  # filled with the table mean (GReaT's rows)
    assert (new.bmi == mean_bmi).sum() == 4
    assert set(new.smoker) == {"yes"} and 99 in set(new.age)


def test_published_repair_fills_from_the_minority_rows_for_imbllm(fake):
    X, y = table()
    fake.script = lambda prompt, rng, lm: " smoker is maybe, region is south"
    s = ImbLLM(**FAST, repair="published", prompt="label")
    X_res, _ = s.fit_resample(X, y)
    new = X_res.iloc[48:]
    assert (new.age == round(round(X.age[:12].mean(), 2))).all()
    assert (new.bmi == round(X.bmi[:12].mean(), 2)).all() and (new.smoker == "yes").all()
    assert s.n_repaired_cells_ == 24 * 3


def test_same_seed_same_rows_and_other_seed_other_rows(fake):
    X, y = table()
    a = check_oversampler(ImbLLM(**FAST), X, y)[0]  # same seed, same rows among its checks
    c = ImbLLM(**{**FAST, "random_state": 1}).fit_resample(X, y)[0]
    assert not a.iloc[48:].equals(c.iloc[48:])


def test_taptap_labels_come_from_a_classifier_and_predllm_keeps_minority(fake):
    X, y = table()
    s = TapTap(**FAST)
    X_res, y_res = check_oversampler(s, X, y, minority_only=False)
    new_age, new_y = X_res.age.iloc[48:], y_res.iloc[48:]
    # age separates the classes perfectly, so XGBoost's label follows it.
    assert ((new_age >= 50) == (new_y == "high")).all() and set(new_y) == {"high", "low"}
    tags = s.telemetry()["tags"]
    assert tags["taptap_checkpoint"] == "not used" and "compact" in tags["taptap_note"]

    fake.script = labelling_script(X)
    p = PredLLM(**FAST, patience=10)
    X_res, y_res = check_oversampler(p, X, y)
    t = p.telemetry()
    assert (y_res.iloc[48:] == "high").all() and (X_res.age.iloc[48:] >= 50).all()
    assert t["rejected_label_not_minority"] > 0 and t["n_valid"] == 24


def test_label_codes_in_text_and_names_in_output(fake):
    X, y = table()
    s = ImbLLM(**FAST, label_format="code")
    _, y_res = s.fit_resample(X, y)
    texts = calls(fake, "finetune")[-1]["epochs"][0]
    assert all(t.startswith("charges is 0, ") for t in texts)  # "high" sorts first
    assert set(y_res.iloc[48:]) == {"high"}


def test_already_balanced_input_trains_nothing(fake):
    X, y = table(n_min=24, n_maj=24)
    X_res, y_res = ImbLLM(**FAST).fit_resample(X, y)
    assert len(X_res) == 48 and fake.calls == []


def test_integer_column_names_unnamed_target_and_dtypes(fake):
    X, y = table()
    X.columns = [0, 1, 2, 3]
    y = pd.Series(pd.Categorical(y.to_numpy()))
    X[1] = X[1].astype(np.float32)
    X_res, y_res = ImbLLM(**FAST).fit_resample(X, y)
    assert list(X_res.columns) == [0, 1, 2, 3] and X_res.dtypes.tolist() == X.dtypes.tolist()
    assert y_res.dtype == y.dtype and set(y_res.iloc[48:]) == {"high"}
    assert calls(fake, "finetune")[-1]["epochs"][0][0].startswith("target is high, ")


@pytest.mark.parametrize("keep", [["age", "bmi"], ["smoker", "region"]])
def test_numeric_only_and_categorical_only_tables(fake, keep):
    X, y = table()
    X = X[keep]
    s = ImbLLM(**FAST)
    X_res, y_res = s.fit_resample(X, y)
    assert len(X_res) == 72 and set(y_res.iloc[48:]) == {"high"}
    # Interpolation needs continuous features (SMOTE without categorical ones).
    assert s.telemetry()["n_interpolated"] == (24 if keep == ["age", "bmi"] else 0)
    assert X_res.dtypes.tolist() == X.dtypes.tolist()


def test_a_single_minority_row_still_works(fake):
    X, y = table(n_min=1, n_maj=10)
    s = ImbLLM(**FAST)
    X_res, _ = s.fit_resample(X, y)
    assert len(X_res) == 20 and "got 1" in s.fallback_
    assert (X_res.age.iloc[11:] == X.age[0]).all()  # everything it saw was that one row
