"""A fitted LLM oversampler in a folder: the model as safetensors, everything else pickled.

:meth:`imbllm.llm.engine.LLMOversampler.save` and ``load`` call these; the folder holds
``model/`` (:meth:`imbllm.llm.model.backbone.LanguageModel.save`) and ``sampler.joblib`` (the
sampler's class and fitted state: the plan with schema, prompts and labeller).

A pickle names the modules of the classes it holds. Samplers saved before the engine moved
into its rooms (``text/``, ``constrain/``, ``model/``) name the old flat modules; they still
load: while reading, each old module name stands for a module holding the classes it held
(:data:`OLD_NAMES`).
"""

from __future__ import annotations

import importlib
import sys
import types
from contextlib import contextmanager
from pathlib import Path

from imbllm.llm import model

__all__ = ["load_sampler", "save_sampler"]

#: Where the classes a saved sampler pickles lived before the move: old module -> {name:
#: "new.module:Name"}. ``_Trie`` is the name of ``ByteTrie`` in samplers saved before the tries
#: had a module of their own.
OLD_NAMES = {
    "imbllm.llm.config": {n: "imbllm.llm.model.config:" + n for n in ("LLMConfig", "Budget")},
    "imbllm.llm.constrain_grammar": {
        "RowGrammar": "imbllm.llm.constrain.grammar:RowGrammar",
        "_Trie": "imbllm.llm.constrain.trie:ByteTrie",
    },
    "imbllm.llm.constrain_numbers": {"NumberSpec": "imbllm.llm.constrain.numbers:NumberSpec"},
    "imbllm.llm.constrain_trie": {"ByteTrie": "imbllm.llm.constrain.trie:ByteTrie"},
    "imbllm.llm.labels": {"ClassifierLabeler": "imbllm.llm.text.labels:ClassifierLabeler"},
    "imbllm.llm.repair": {"Reference": "imbllm.llm.text.repair:Reference"},
    "imbllm.llm.serialize": {"RowCodec": "imbllm.llm.text.serialize:RowCodec"},
    "imbllm.llm.strategies": {
        n: "imbllm.llm.text.strategies:" + n for n in ("Block", "Prompter", "TrainingTexts")
    },
}


@contextmanager
def _old_module_names():
    """The old module names of :data:`OLD_NAMES` in ``sys.modules`` while a pickle is read."""
    added = []
    try:
        for old, names in OLD_NAMES.items():
            if old in sys.modules:
                continue
            stand_in = types.ModuleType(old, f"Classes pickled under {old}, now moved.")
            for name, target in names.items():
                module, attr = target.split(":")
                setattr(stand_in, name, getattr(importlib.import_module(module), attr))
            sys.modules[old] = stand_in
            added.append(old)
        yield
    finally:
        for old in added:
            sys.modules.pop(old, None)


def save_sampler(sampler, path: str | Path) -> None:
    """Write the fitted ``sampler`` to the folder ``path``."""
    import joblib

    if getattr(sampler, "lm_", None) is None:
        raise RuntimeError(
            f"{type(sampler).__name__}.save needs a fitted model; call fit_resample first."
        )
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    sampler.lm_.save(path / "model")
    # The drawer holds the model; it is made again from the plan at load.
    state = {k: v for k, v in sampler.__dict__.items() if k not in ("lm_", "drawer_")}
    joblib.dump({"class": type(sampler), "state": state}, path / "sampler.joblib")


def load_sampler(path: str | Path, device: str | None = None):
    """The sampler written by :func:`save_sampler`, its model loaded (on ``device`` if given)
    but its drawer not yet made (pickle: load only folders you trust)."""
    import joblib

    path = Path(path)
    if not (path / "sampler.joblib").is_file():
        raise FileNotFoundError(
            f"{path} holds no saved sampler (sampler.joblib missing); "
            "write one with save(path) after fit_resample."
        )
    with _old_module_names():
        saved = joblib.load(path / "sampler.joblib")
    if "plan_" not in saved["state"]:
        raise ValueError(
            f"{path} holds a sampler saved by an older version of imbllm (no plan_ in "
            "sampler.joblib); fit it again with fit_resample and save it anew."
        )
    obj = saved["class"].__new__(saved["class"])
    obj.__dict__.update(saved["state"])
    obj.lm_ = model.language_model().load(path / "model", device=device)
    return obj
