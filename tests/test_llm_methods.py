"""The LLM method configs on a real tiny backbone built in the test: the model cache, seeds,
configs against their Python classes, and the imbalanced-learn sampler checks that apply to a
DataFrame-only sampler.

Every method config is held to the contract battery in tests/test_battery.py (rows valid,
counts exact or the gap recorded, same seed same rows); the engine's behaviour on harder
output is pinned with a scripted model in tests/test_llm_engine.py.
"""

from __future__ import annotations

import doctest
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
import torch
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate
from sklearn.base import clone
from sklearn.utils import estimator_checks as sk_checks

import imbllm.llm.methods
from baselines.llm import GReaT, PredLLM, TapTap
from imbllm.llm.methods import ImbLLM

CONF = str(Path(__file__).resolve().parents[1] / "conf")
METHODS = ["imbllm", "great", "taptap", "pred_llm", "imbllm_no_feature_prompt",
           "imbllm_random_perm", "imbllm_no_interp", "imbllm_no_pretrain"]
TINY = {"n_layer": 1, "n_embd": 32, "n_head": 2}
# One epoch of pretraining on the table and two of fine-tuning: rows of poor quality, which
# constrained decoding still writes inside the schema (tests/test_battery.py holds every
# method config to the contract on this budget).
BUDGET = {"epochs": 2, "pretrain_epochs": 1}


def tiny_table(n_min=12, n_maj=36, seed=0):
    rng = np.random.default_rng(seed)
    X = pd.DataFrame({"age": rng.integers(20, 60, n_min + n_maj),
                      "smoker": rng.choice(["yes", "no"], n_min + n_maj)})
    return X, pd.Series(["high"] * n_min + ["low"] * n_maj, name="charges")


def method_sampler(method, cache_dir):
    overrides = [
        f"method={method}", "budget=smoke", *(f"llm.{k}={v}" for k, v in TINY.items()),
        *(f"budget.{k}={v}" for k, v in BUDGET.items()),
        f"method.sampler.cache_dir={cache_dir}", "method.sampler.progress=false",
    ]
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        return instantiate(compose("config", overrides=overrides).method.sampler)


@pytest.mark.parametrize("method", ["imbllm", "imbllm_no_pretrain"])
def test_a_cached_model_gives_the_same_rows_and_reports_how_it_was_trained(method, tmp_path):
    X, y = tiny_table()
    sampler = method_sampler(method, tmp_path)
    X_res, y_res = sampler.fit_resample(X, y)
    t = sampler.telemetry()
    assert t["cache_hit"] == 0.0 and t["n_generated"] == t["n_requested"] == 24
    # The compact backbone is first trained on the whole table, except in the named ablation.
    pretrained = method != "imbllm_no_pretrain"
    assert t["tags"]["pretrain"] == ("table" if pretrained else "none")
    assert ("pretrain_seconds" in t) == pretrained
    assert t["tokens_per_second"] > 0 and t["generated_tokens"] > 0
    # Same seed, same rows: the second run reuses the cached model and samples the same.
    again = method_sampler(method, tmp_path)
    X_again, y_again = again.fit_resample(X, y)
    assert again.telemetry()["cache_hit"] == 1.0
    # The cached model reports the threads it was fine-tuned on, as the first run did.
    assert again.telemetry()["tags"]["train_threads"] == t["tags"]["train_threads"] == str(
        torch.get_num_threads())
    pd.testing.assert_frame_equal(X_again, X_res)
    pd.testing.assert_series_equal(y_again, y_res)


@pytest.mark.parametrize("method", METHODS)
def test_every_llm_method_config_composes_with_both_decodings(method):
    def decoding(*overrides):
        with initialize_config_dir(config_dir=CONF, version_base="1.3"):
            cfg = compose("config", overrides=[f"method={method}", *overrides])
            return instantiate(cfg.method.sampler).decoding

    # The protocol decides; one run overrides it.
    assert decoding() == decoding("protocol=corrected") == "constrained"
    assert decoding("protocol=published") == "free"
    assert decoding("method.sampler.decoding=free") == "free"
    assert decoding("protocol=published", "method.sampler.decoding=constrained") == "constrained"


@pytest.mark.parametrize("method, cls", [("imbllm", ImbLLM), ("great", GReaT),
                                         ("taptap", TapTap), ("pred_llm", PredLLM)])
def test_python_classes_behave_as_their_method_configs(method, cls):
    with initialize_config_dir(config_dir=CONF, version_base="1.3"):
        from_config = instantiate(compose("config", overrides=[f"method={method}"]).method.sampler)

    def resolved(sampler) -> dict:
        s = sampler._settings()
        return {**s.switches, "patience": s.patience, "on_shortfall": s.on_shortfall}

    settings = resolved(cls())
    assert settings == resolved(from_config) and len(settings) == 7
    expected = {"pred_llm": (1.0, "record"), "taptap": (5.0, "record")}
    assert (settings["patience"], settings["on_shortfall"]) == expected.get(method, (5.0, "raise"))


def test_same_seed_trains_the_same_model_and_other_seeds_differ():
    X, y = tiny_table()
    runs = [ImbLLM(llm_config=TINY, budget=BUDGET, progress=False, random_state=s)
            .fit_resample(X, y)[0] for s in (7, 7, 8)]
    pd.testing.assert_frame_equal(runs[0], runs[1])
    assert not runs[0].iloc[48:].reset_index(drop=True).equals(
        runs[2].iloc[48:].reset_index(drop=True))


@pytest.mark.slow
def test_docstring_example_runs():
    result = doctest.testmod(imbllm.llm.methods, optionflags=doctest.ELLIPSIS)
    assert result.attempted >= 10 and result.failed == 0


def test_docstring_example_runs_on_two_epochs():
    # The example as written trains 200 epochs twice (-m slow runs it); its code and printed
    # results do not depend on how well the model trained: constrained decoding writes every
    # row inside the schema.
    tests = doctest.DocTestFinder().find(imbllm.llm.methods)
    edited = 0
    for example in (e for t in tests for e in t.examples):
        edited += "epochs=200" in example.source
        example.source = example.source.replace("epochs=200", "epochs=2")
    assert edited == 1, "the example no longer says epochs=200: edit this test to match"
    runner = doctest.DocTestRunner(optionflags=doctest.ELLIPSIS)
    for test in tests:
        runner.run(test)
    result = runner.summarize(verbose=False)
    assert result.attempted >= 10 and result.failed == 0


# -- imbalanced-learn's sampler checks, as they apply to a DataFrame-only sampler --------------
# Not applicable: numpy and list input (the contract is DataFrame in, DataFrame out), NaN in X
# (rejected, as the paper drops such rows), sparse input, one-hot multiclass targets, and
# sampling_strategy (the protocol always brings the minority up to the largest class).


@pytest.fixture(scope="module")
def checked(tmp_path_factory):
    """A sampler configured like the benchmark, its model cached across the checks."""
    return ImbLLM(llm_config=TINY, budget=BUDGET, progress=False, random_state=0,
                  cache_dir=str(tmp_path_factory.mktemp("models")))


def test_check_target_type_and_one_label(checked):
    X, y = tiny_table()
    with pytest.raises(ValueError, match="Unknown label type"):
        clone(checked).fit_resample(X, np.linspace(0, 1, len(X)))
    with pytest.raises(ValueError, match="Multilabel and multioutput targets"):
        clone(checked).fit_resample(X, np.random.default_rng(0).integers(0, 2, (len(X), 3)))
    with pytest.raises(ValueError, match="class"):
        clone(checked).fit_resample(X, np.zeros(len(X)))


def test_check_fit_resample_balances_and_exposes_sampling_strategy(checked):
    X, y = tiny_table()
    sampler = clone(checked)
    X_res, y_res = sampler.fit_resample(X, y)
    assert sampler.sampling_strategy_ == {"high": 24}
    assert y_res.value_counts().to_dict() == {"high": 36, "low": 36}


def test_check_pandas_names_dtypes_and_2d_target(checked):
    X, y = tiny_table()
    X = X.assign(age=X.age.astype(np.float32))
    y_codes = pd.Series(np.where(y == "high", 1, 0).astype(np.int32), name="class")
    sampler = clone(checked)
    X_res, y_res = sampler.fit_resample(X, y_codes)
    assert list(X_res.columns) == ["age", "smoker"] and y_res.name == "class"
    assert X_res.age.dtype == np.float32 and y_res.dtype == np.int32
    X_2d, y_2d = clone(checked).fit_resample(X, y_codes.to_frame())
    assert len(X_2d) == len(y_2d) == 72


def test_check_string_categories_are_kept(checked):
    X, y = tiny_table()
    X_res, _ = clone(checked).fit_resample(X, y)
    assert X_res.smoker.dtype == object and set(X_res.smoker) == {"yes", "no"}


@pytest.mark.parametrize("check", [
    sk_checks.check_no_attributes_set_in_init,
    sk_checks.check_get_params_invariance,
    sk_checks.check_set_params,
    sk_checks.check_parameters_default_constructible,
    sk_checks.check_do_not_raise_errors_in_init_or_set_params,
])
def test_sklearn_parameter_checks(check):
    check("ImbLLM", ImbLLM())


def test_drops_into_an_imblearn_pipeline(checked):
    from imblearn.pipeline import make_pipeline
    from sklearn.linear_model import LogisticRegression
    from sklearn.preprocessing import OneHotEncoder

    X, y = tiny_table()
    model = make_pipeline(clone(checked), OneHotEncoder(handle_unknown="ignore"),
                          LogisticRegression())
    model.fit(X, y)
    assert model.predict(X).shape == (48,)
    assert model.steps[0][1].n_generated_ == 24  # the sampler ran during fit only
