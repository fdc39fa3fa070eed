"""ImbLLM (arXiv 2510.09783): the engine with the fixed-Y permutation, interpolated minority
training rows and feature-conditioned prompts (method.md §2)."""

from __future__ import annotations

from imbllm.llm.engine import LLMOversampler
from imbllm.llm.recipes import RECIPES


class ImbLLM(LLMOversampler):
    """ImbLLM: oversample the minority class with a language model fine-tuned on it.

    The model is fine-tuned on the real minority rows, label first and features in a fresh
    order each epoch (``permutation="fixed_y"``), plus SMOTE-NC minority rows written with
    their continuous features only (``training_rows="minority_interpolated"``,
    ``interpolation_ratio`` of them per row to generate). Each generated row is prompted with
    the label and one feature-value pair, rotating over all features
    (``prompt="label_feature"``); its label is the prompt's. Every parameter of
    :class:`imbllm.llm.engine.LLMOversampler` applies; the strategy switches default to the
    above, and the ablations of method.md §2.6 change one of them.

    Examples
    --------
    A tiny model on a tiny table (seconds on a CPU; real use keeps the default size and
    ``epochs=50``):

    >>> import numpy as np, pandas as pd
    >>> from imbllm import ImbLLM
    >>> rng = np.random.default_rng(0)
    >>> X = pd.DataFrame({"age": rng.integers(20, 60, 48),
    ...                   "smoker": rng.choice(["yes", "no"], 48)})
    >>> y = pd.Series(["high"] * 12 + ["low"] * 36, name="charges")
    >>> sampler = ImbLLM(llm_config={"n_layer": 1, "n_embd": 32, "n_head": 2},
    ...                  epochs=200, learning_rate=3e-3, progress=False, random_state=0)
    >>> X_res, y_res = sampler.fit_resample(X, y)
    >>> y_res.value_counts().to_dict()
    {'high': 36, 'low': 36}
    >>> sampler.n_generated_, X_res.dtypes["age"]
    (24, dtype('int64'))

    It drops into an imbalanced-learn pipeline, and a fitted sampler can be saved, loaded and
    asked for more rows:

    >>> from imblearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import OneHotEncoder
    >>> from sklearn.linear_model import LogisticRegression
    >>> model = make_pipeline(sampler, OneHotEncoder(handle_unknown="ignore"),
    ...                       LogisticRegression()).fit(X, y)
    >>> import tempfile
    >>> with tempfile.TemporaryDirectory() as folder:
    ...     sampler.save(folder)
    ...     X_more, y_more = ImbLLM.load(folder).sample(5, random_state=1)
    >>> len(X_more), set(y_more)
    (5, {'high'})
    """

    _recipe = RECIPES["imbllm"]
