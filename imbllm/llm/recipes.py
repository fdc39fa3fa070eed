"""The four LLM oversamplers as rows of one table (method.md §1), switches and per-method
defaults together, so that ``PredLLM()`` from Python behaves as ``method=pred_llm`` does.

A constructor argument left at ``None`` takes its value from the class's recipe, then from
:data:`ENGINE_DEFAULTS`; the Hydra configs set only what a run changes.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Recipe:
    """One method: the strategy switches (:mod:`imbllm.llm.text.strategies`) and the settings it
    runs with unless told otherwise."""

    permutation: str
    training_rows: str
    prompt: str
    label: str
    number_format: str = "plain"
    #: at most ``patience * n`` completions for ``n`` rows
    patience: float | None = None
    #: "raise" or "record" when patience runs out
    on_shortfall: str | None = None


#: What the bare engine (and any recipe that does not say) uses.
ENGINE_DEFAULTS = {"number_format": "plain", "patience": 5.0, "on_shortfall": "raise"}

RECIPES = {
    # The whole imbalanced table, every column shuffled (target included); prompted with
    # "<target> is <minority>,"; labelled by the prompt.
    "great": Recipe("shuffle_all", "table", "label", "prompt"),
    # The whole table, features shuffled and the target left out, numbers digit by digit;
    # labelled by XGBoost fitted on the imbalanced table. As the authors ran it, prompted with
    # the target its fine-tuning never saw: the rows made are kept and the gap recorded.
    "taptap": Recipe(
        "features_target_excluded", "table", "label", "classifier", "digits",
        on_shortfall="record",
    ),
    # The whole table twice (shuffled with the target last, and in table order), prompted with
    # one feature value; the model labels each row and only minority rows stay. As published,
    # one pass of n candidates, the gap recorded, not refilled: with a minority share of a few
    # percent refilling would cost tens of times n completions (patience=20 refills).
    "pred_llm": Recipe(
        "target_last", "table_twice", "feature", "lm", patience=1.0, on_shortfall="record"
    ),
    # Minority rows (target first, features shuffled) plus SMOTE-NC minority rows; prompted
    # with the label and one feature value, rotating over features (method.md §2).
    "imbllm": Recipe("fixed_y", "minority_interpolated", "label_feature", "prompt"),
}
