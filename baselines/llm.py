"""The LLM baselines of the paper, as configurations of the one engine (method.md §1 table).

GReaT, TapTap and Pred-LLM differ from ImbLLM only in their row of
:data:`imbllm.llm.recipes.RECIPES` (strategy switches and per-method defaults); every other
parameter is :class:`imbllm.llm.engine.LLMOversampler`'s.
"""

from __future__ import annotations

from imbllm.llm.engine import LLMOversampler
from imbllm.llm.recipes import RECIPES

#: TapTap's own pretrained checkpoint (its paper); not available offline.
TAPTAP_CHECKPOINT = "ztphs980/taptap-distill"


class GReaT(LLMOversampler):
    """GReaT: fine-tuned on the whole imbalanced table, every column (target included) in a
    random order; prompted with ``"<target> is <minority>,"``; labelled by the prompt."""

    _recipe = RECIPES["great"]


class TapTap(LLMOversampler):
    """TapTap: fine-tuned on the whole table with the features shuffled and the target left
    out, numbers written digit by digit; prompted with ``"<target> is <minority>,"``; each
    generated row labelled by XGBoost fitted on the imbalanced table (so some rows may carry
    a majority label, as published). When patience runs out, the rows made are kept and the
    gap recorded (``on_shortfall="record"`` by default).

    TapTap's paper starts from its own pretrained checkpoint (``ztphs980/taptap-distill``);
    where that is not the configured ``llm`` the run is tagged
    ``taptap_checkpoint="not used"`` and runs the TapTap strategy on the configured backbone.
    """

    _recipe = RECIPES["taptap"]

    def _method_tags(self) -> dict:
        backbone = self.llm_config_.name_or_path
        used = backbone == TAPTAP_CHECKPOINT
        return {
            "taptap_checkpoint": "used" if used else "not used",
            "taptap_note": "" if used else (
                f"{TAPTAP_CHECKPOINT} was not used; the TapTap strategy ran on backbone "
                f"{backbone!r}."
            ),
        }


class PredLLM(LLMOversampler):
    """Pred-LLM: fine-tuned on the whole table twice (features shuffled with the target last,
    then in table order); prompted with one feature-value pair from the whole table, rotating
    over features; the fine-tuned model labels each full generated row, and only rows it
    labels minority are kept. As published, one pass of ``n`` candidates (``patience=1.0``),
    the gap recorded (``on_shortfall="record"``); ``patience=20`` refills."""

    _recipe = RECIPES["pred_llm"]
