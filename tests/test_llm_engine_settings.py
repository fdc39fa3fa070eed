"""The engine's settings with a scripted stand-in model: bad parameters named in the error,
the LLM config and budget as objects or dicts reaching the backbone, and a fitted sampler
saved, loaded and asked for more rows (tests/test_llm_engine.py holds what it trains on,
prompts with and keeps)."""

from __future__ import annotations

from dataclasses import replace

import pandas as pd
import pytest
from llm_fake import FAST, FakeLanguageModel, calls, table

from imbllm.llm.engine import LLMOversampler
from imbllm.llm.methods import ImbLLM
from imbllm.llm.model.config import TABLE_FITTED, Budget, LLMConfig


@pytest.mark.parametrize(
    "params, message",
    [
        # The declared constraints (LLMOversampler._parameter_constraints), scikit-learn's words.
        ({"repair": "lenient"}, "The 'repair' parameter of ImbLLM must be a str among"),
        ({"label_format": "int"}, "The 'label_format' parameter of ImbLLM must be a str among"),
        ({"patience": 0.5}, "'patience' parameter of ImbLLM must be None or a float in the range [1.0, inf)"),
        ({"on_shortfall": "ignore"}, "The 'on_shortfall' parameter of ImbLLM must be None or a str among"),
        ({"prompt": "feature_label"}, "The 'prompt' parameter of ImbLLM must be None or a str among"),
        ({"temperature": 0}, "The 'temperature' parameter of ImbLLM must be a float in the range (0.0, inf)"),
        ({"epochs": 0}, "The 'epochs' parameter of ImbLLM must be None or an int in the range [1, inf)"),
        # The backbone and budget they resolve to, and what this host offers.
        ({"llm_config": {"n_layers": 2}}, "llm_config has keys ['n_layers']"),
        ({"llm_config": {"name_or_path": "gpt2"}}, "give the backbone once, through llm"),
        ({"llm_config": {"n_head": 3}}, "llm.n_head=3 is not valid: llm.n_embd=128 is not a multiple"),
        ({"budget": {"batch_size": 0}}, "budget.batch_size=0 is not valid: must be an int in the range [1, inf)"),
        ({"device": "cuda:9"}, "device='cuda:9' is not valid: this host has"),
        # What the data decide.
        ({"categorical_features": ["colour"]}, "categorical_features=['colour'] is not valid: it names"),
    ],
)
def test_bad_parameters_are_named_in_the_error(fake, params, message):
    X, y = table()
    with pytest.raises(ValueError) as err:
        ImbLLM(**{**FAST, **params}).fit_resample(X, y)
    assert message in str(err.value)


def test_bare_engine_needs_its_switches(fake):
    X, y = table()
    with pytest.raises(ValueError, match="permutation=None and this class has no default"):
        LLMOversampler(**FAST).fit_resample(X, y)
    out = LLMOversampler(
        **FAST, permutation="fixed_y", training_rows="table", prompt="label", label="prompt"
    ).fit_resample(X, y)
    assert len(out[0]) == 72


def test_config_and_budget_reach_the_backbone(fake):
    X, y = table()
    ImbLLM(
        epochs=3,
        batch_size=8,
        llm_config={"name": "compact", "n_layer": 1, "n_embd": 32, "device": "cpu"},
        gen_batch_size=7,
        top_k=5,
        temperature=0.9,
        progress=False,
        random_state=3,
        decoding="free",
    ).fit_resample(X, y)
    build, gen = calls(fake, "build")[0], calls(fake, "generate")[0]
    pre, tune = calls(fake, "finetune")
    config = LLMConfig(n_layer=1, n_embd=32, device="cpu", pretrain="table")
    assert build["config"] == config and build["seed"] == 3
    # No budget given: the defaults with the token caps that fit them to the table.
    budget = Budget(epochs=3, batch_size=8, learning_rate=1e-3, gen_batch_size=7, **TABLE_FITTED)
    assert tune["budget"] == budget
    # Pretraining first (the compact default), with the pretrain_* fields of the same budget.
    assert pre["budget"] == replace(
        budget, epochs=30, learning_rate=3e-3, warmup_ratio=0.05, max_rows_per_epoch=1536,
        max_train_tokens=TABLE_FITTED["pretrain_max_train_tokens"],
    )
    assert (gen["batch_size"], gen["top_k"], gen["temperature"]) == (7, 5, 0.9)
    # No max_new_tokens given: the longest training sentence, in tokens, plus a margin.
    longest = max(len(FakeLanguageModel().tokenizer(t)["input_ids"]) for t in tune["epochs"][0])
    assert gen["max_new_tokens"] == longest + 8


def test_llm_and_budget_as_objects_or_dicts_with_single_arguments_winning(fake):
    X, y = table()
    config = LLMConfig(n_layer=1, n_embd=32, device="cpu", pretrain="none")
    budget = Budget(epochs=4, batch_size=8, learning_rate=2e-3, gen_batch_size=9)
    for llm, b in ((config, budget), (vars(config), {"name": "group label", **vars(budget)})):
        fake.calls = []
        ImbLLM(llm=llm, budget=b, epochs=6, progress=False, random_state=0,
               decoding="free").fit_resample(X, y)
        (build,), (tune,) = calls(fake, "build"), calls(fake, "finetune")
        assert build["config"] == config
        assert tune["budget"] == Budget(epochs=6, batch_size=8, learning_rate=2e-3,
                                        gen_batch_size=9)
        assert calls(fake, "generate")[0]["batch_size"] == 9
    with pytest.raises(ValueError, match=r"budget has keys \['epoch'\]"):
        ImbLLM(budget={"epoch": 3}, progress=False).fit_resample(X, y)
    with pytest.raises(ValueError, match="The 'llm' parameter of ImbLLM must be an instance of 'str'"):
        ImbLLM(llm=3, progress=False).fit_resample(X, y)


def test_save_load_and_sample_more(fake, tmp_path):
    X, y = table()
    s = ImbLLM(**FAST)
    s.fit_resample(X, y)
    s.save(tmp_path / "sampler")
    loaded = ImbLLM.load(tmp_path / "sampler")
    a, ya = loaded.sample(10, random_state=5)
    b, _ = s.sample(10, random_state=5)
    pd.testing.assert_frame_equal(a, b)
    assert list(a.columns) == list(X.columns) and a.dtypes.tolist() == X.dtypes.tolist()
    assert set(ya) == {"high"} and loaded.get_params() == s.get_params()
    with pytest.raises(RuntimeError, match="call fit_resample first"):
        ImbLLM().sample(3)
    # The fitted state is the plan, the model and the drawer made from them at load.
    assert {"plan_", "lm_", "drawer_"} <= set(vars(loaded)) and loaded.drawer_.lm is loaded.lm_


def test_a_folder_saved_before_the_plan_asks_to_refit(fake, tmp_path):
    import joblib

    X, y = table()
    s = ImbLLM(**FAST)
    s.fit_resample(X, y)
    s.save(tmp_path)
    saved = joblib.load(tmp_path / "sampler.joblib")
    # The old layout kept codec_, prompter_, ... on the sampler itself, and no plan_.
    saved["state"] = {k: v for k, v in saved["state"].items() if k != "plan_"}
    joblib.dump(saved, tmp_path / "sampler.joblib")
    with pytest.raises(ValueError, match="saved by an older version.*fit it again"):
        ImbLLM.load(tmp_path)
