"""The contract battery (imbllm/testing.py) on every method config of ``conf/method``.

Each config is composed as ``imbllm-bench method=<name>`` composes it, with a tiny budget, and
its sampler is held to :func:`imbllm.testing.check_oversampler`; a new config is covered by
being there. An LLM method that decodes under the schema constraint (the corrected protocol's
default) runs a real 1-layer model built in the test, the constraint needing its byte-level
tokenizer; one that decodes freely runs the scripted stand-in (tests/llm_fake.py), so that the
battery tests the engine's bookkeeping, not how well two epochs train a model.
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from hydra import compose, initialize_config_dir
from hydra.utils import instantiate

from baselines.classical import ADASYN
from imbllm.base import BaseOversampler, Generated
from imbllm.llm.engine import LLMOversampler
from imbllm.testing import check_oversampler, toy_table

CONF = Path(__file__).resolve().parents[1] / "conf"
# be_great's fine-tuning and 14 sampling rounds take about a minute on two busy cores even at
# the tiny budget: great_ref's battery runs in CI's slow pass, its fast sibling in
# tests/test_great_ref.py.
SLOW = {"great_ref"}
METHODS = [pytest.param(m, marks=pytest.mark.slow) if m in SLOW else m
           for m in sorted(p.stem for p in (CONF / "method").glob("*.yaml"))]
# The backbone and budget groups: a model that trains in well under a second (the compact
# backbone's byte-level BPE, pretrained one epoch on the table, fine-tuned two).
TINY_LLM = ["llm.n_layer=1", "llm.n_head=2", "llm.n_embd=32", "llm.vocab_size=300",
            "budget=smoke", "budget.epochs=2", "budget.pretrain_epochs=1"]
# Constructor arguments per family, or per method where its family's are not its own, that keep
# a fit to a second and leave no files behind.
TINY_ARGS = {"deep": {"epochs": 2, "batch_size": 20},
             "llm": {"progress": False, "cache_dir": None},
             "forestflow": {"n_t": 3, "duplicate_K": 2, "n_estimators": 5},
             "arf": {"num_trees": 5, "max_iters": 1},
             "great_ref": {"k": 16, "max_length": 48}}
# Methods whose library is an optional extra: skipped, not failed, where it is not installed.
OPTIONAL = {"forestflow": "ForestDiffusion", "arf": "arfpy", "great_ref": "be_great"}


def compose_method(method: str, *overrides: str):
    """``(sampler, family)`` of ``method=<method>`` with the tiny budget."""
    if method in OPTIONAL:
        pytest.importorskip(OPTIONAL[method], reason=f"{method} needs the modern extra")
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=[f"method={method}", *TINY_LLM, *overrides])
    sampler = instantiate(cfg.method.sampler)
    family = cfg.method.get("family", "")
    return sampler.set_params(**TINY_ARGS.get(family, {}), **TINY_ARGS.get(method, {})), family


def battery(sampler, request):
    """:func:`check_oversampler` on the toy table, with what the method promises; returns
    ``sampler`` (fitted by the battery) and its output."""
    exact, minority_only = not isinstance(sampler, ADASYN), True  # ADASYN rounds per seed
    if isinstance(sampler, LLMOversampler):
        settings = sampler._settings()
        # TapTap labels its rows with a classifier: some may be majority rows, as published.
        minority_only = settings.switches["label"] != "classifier"
        if settings.decoding == "free":
            request.getfixturevalue("fake")
    X, y = toy_table()
    X_res, y_res = check_oversampler(sampler, X, y, exact_count=exact, minority_only=minority_only)
    return sampler, X_res, y_res


def check_llm_rows(sampler, X_res, y_res) -> None:
    """What the LLM engine adds to the contract: the labels its switch promises, and rows
    lost only where the method says they may be."""
    t, settings = sampler.telemetry(), sampler._settings()
    label = settings.switches["label"]
    n_input = len(X_res) - sampler.n_generated_
    new_X, new_y = X_res.iloc[n_input:], y_res.iloc[n_input:]
    if label == "classifier":
        assert (new_y.to_numpy() == sampler.plan_.labeler.predict(new_X).to_numpy()).all()
    if settings.decoding == "constrained":
        # Every row is written inside the schema: the strict check rejects none. Only
        # Pred-LLM's own labeller drops rows, and its one pass records exactly that gap.
        assert t["tags"]["decoding"] == "constrained" and "masked_mass" in t
        rejected = t.get("rejected_label_not_minority", 0.0) if label == "lm" else 0.0
        assert t["n_rejected"] == t["shortfall"] == rejected, t
    if t["shortfall"]:
        assert settings.on_shortfall == "record"
        assert t["n_valid"] + t["shortfall"] == t["n_requested"]


@pytest.mark.parametrize("protocol", ["corrected", "published"])
@pytest.mark.parametrize("method", METHODS)
def test_every_method_config_keeps_the_contract(method, protocol, request):
    sampler, family = compose_method(method, f"protocol={protocol}")
    engine = isinstance(sampler, LLMOversampler)  # great_ref is be_great's, not the engine
    if engine and protocol == "published":
        # The authors' repair, label codes and free decoding (on the scripted model).
        params = sampler.get_params()
        assert (params["repair"], params["label_format"], params["max_continuations"]) == (
            "published", "code", 0)
        assert sampler._settings().decoding == "free"
    fitted, X_res, y_res = battery(sampler, request)
    if engine:
        check_llm_rows(fitted, X_res, y_res)


@pytest.mark.parametrize("decoding", ["constrained", "free"])
def test_the_bare_engine_keeps_the_contract_with_its_own_switches(decoding, request):
    # Label first, the whole table, label-and-feature prompts, digit-by-digit numbers: a row
    # of switches none of the four methods is, on the engine without a recipe.
    switches = {"permutation": "fixed_y", "training_rows": "table", "prompt": "label_feature",
                "label": "prompt", "number_format": "digits"}
    with initialize_config_dir(config_dir=str(CONF), version_base="1.3"):
        cfg = compose("config", overrides=TINY_LLM)
    sampler = LLMOversampler(llm=dict(cfg.llm), budget=dict(cfg.budget), decoding=decoding,
                             random_state=0, **switches, **TINY_ARGS["llm"])
    fitted, X_res, y_res = battery(sampler, request)
    check_llm_rows(fitted, X_res, y_res)
    assert {k: fitted.tags_[k] for k in switches} == switches
    assert fitted.n_generated_ == fitted.n_requested_ == 48


# -- the battery itself: each defect of a sampler is caught ------------------------------------


class Defective(BaseOversampler):
    """Copies random minority rows, with one defect the battery must catch."""

    def __init__(self, defect: str = "none", random_state=None):
        self.defect = defect
        self.random_state = random_state

    def fit_resample(self, X, y):
        out = super().fit_resample(X, y)
        if self.defect == "mutates_input":
            X.loc[0, "age"] += 1  # what a sampler working in place would do
        return out

    def _generate(self, X, y, n):
        seed = None if self.defect == "unseeded" else self.random_state
        rng = np.random.default_rng(seed)
        minority = X[y == self.minority_class_]
        made = n - 1 if "shortfall" in self.defect else n
        new = minority.iloc[rng.integers(len(minority), size=made)].reset_index(drop=True)
        labels = pd.Series([self.minority_class_] * made)
        extra = {}
        if self.defect == "recorded_shortfall":
            extra["shortfall"] = 1
        elif self.defect == "misrecorded_shortfall":
            extra["shortfall"] = 2
        elif self.defect == "unseen_category":
            new.loc[0, "region"] = "west"
        elif self.defect == "infinite":
            new.loc[0, "bmi"] = np.inf
        elif self.defect == "majority_label":
            labels.iloc[0] = "no"
        n_rejected = 3 if self.defect == "unexplained_rejections" else 0
        return Generated(X=new, y=labels, n_rejected=n_rejected, extra=extra)


@pytest.mark.parametrize("defect, message", [
    ("silent_shortfall", "made 47 of 48 rows and recorded a shortfall of 0"),
    ("misrecorded_shortfall", "made 47 of 48 rows and recorded a shortfall of 2"),
    ("unseeded", "DataFrame.iloc"),
    ("unseen_category", r"column region: synthetic categories \{'west'\} never seen"),
    ("infinite", "column bmi: synthetic values not finite"),
    ("majority_label", "1 synthetic rows carry a class other than the minority 'yes'"),
    ("mutates_input", "DataFrame.iloc\\[:, 0\\] \\(column name=\"age\"\\) values are different"),
    ("unexplained_rejections", r"3 rows rejected, explained by \{\}"),
])
def test_the_battery_catches_each_defect(defect, message):
    X, y = toy_table()
    with pytest.raises(AssertionError, match=message):
        check_oversampler(lambda: Defective(defect, random_state=0), X, y)


def test_the_battery_accepts_fewer_rows_only_with_the_gap_recorded():
    X, y = toy_table()
    _, y_res = check_oversampler(lambda: Defective("recorded_shortfall", random_state=0), X, y)
    assert len(y_res) == 72 + 47
    check_oversampler(lambda: Defective(random_state=0), X, y)  # the sampler without defects
