"""How the engine decodes: ``decoding="constrained"`` or ``"free"`` (method.md §1 step 5).

``constrained`` masks the logits so that every completion is a row the strict check accepts
(:mod:`imbllm.llm.constrain`): the grammar is built at fit from the codec, the schema and the
training frame, pickled with the sampler, and bound here to the model's tokenizer
(:func:`for_model`) when the drawer is made; ``generate`` gets the bound constraint. ``free``
samples the model as is and leaves invalid rows to the repair policy. Unset, the choice
follows the repair policy: the corrected protocol's strict check pairs with constrained
decoding, the published repair with free decoding as the authors ran it.

:class:`DecodeStats` sums what each ``generate`` call reports into the run's telemetry.
"""

from __future__ import annotations

from dataclasses import dataclass

import pandas as pd

from imbllm.llm.constrain import RowGrammar, TokenConstraint, bind

DECODINGS = ("constrained", "free")


def resolve_decoding(decoding: str | None, repair: str) -> str:
    """``decoding`` checked, or the default of the ``repair`` policy when None."""
    if decoding is None:
        return "constrained" if repair == "strict" else "free"
    if decoding not in DECODINGS:
        raise ValueError(
            f"decoding={decoding!r} is not one of {DECODINGS}; use 'constrained' (every row "
            "valid by construction) or 'free' (sample, then check or repair)."
        )
    return decoding


def build_grammar(decoding: str, codec, schema, X: pd.DataFrame) -> RowGrammar | None:
    """The row grammar of constrained decoding (None for free decoding); ``X`` is the frame
    the schema was inferred on (columns as strings)."""
    return RowGrammar.from_codec(codec, schema, X) if decoding == "constrained" else None


def for_model(grammar: RowGrammar | None, lm) -> TokenConstraint | None:
    """``grammar`` bound to ``lm``'s tokenizer and logits width (None for free decoding). A
    tokenizer that is not byte-level fails here, at fit, with the error naming
    ``decoding='free'``, not mid-sampling."""
    if grammar is None:
        return None
    width = lm.model.get_output_embeddings().weight.shape[0]
    return bind(grammar, lm.tokenizer, width)


def completion_budget(constraint: TokenConstraint | None, prompts: list[str], usual: int) -> int:
    """``max_new_tokens`` for ``prompts``: ``usual``, raised under constrained decoding to
    the fewest tokens that let every prompt's row end, so that no constrained row is cut."""
    if constraint is None or not prompts:
        return usual
    return max(usual, constraint.min_new_tokens(prompts))


@dataclass
class DecodeStats:
    """Generation telemetry summed over one draw's ``generate`` calls."""

    tokens: int = 0
    seconds: float = 0.0
    masked: float = 0.0  # masked probability mass, weighted by tokens
    masked_tokens: int = 0
    mask_seconds: float = 0.0  # the constraint's work: its masks and its rows' states

    def add(self, stats: dict) -> None:
        tokens = int(stats.get("generated_tokens", 0))
        self.tokens += tokens
        self.seconds += float(stats.get("sample_seconds", 0.0))
        if stats.get("constrained"):
            self.masked += float(stats.get("masked_mass", 0.0)) * tokens
            self.masked_tokens += tokens
            self.mask_seconds += float(stats.get("mask_seconds", 0.0))

    def summary(self, n_valid: int) -> dict:
        """``tokens_per_second``, ``valid_rows_per_second`` (valid rows over the seconds spent
        generating) and, when constrained, ``masked_mass`` (the mean probability mass the
        masks removed per generated token: how far the model strays from the schema) and
        ``mask_us_per_token`` (microseconds of the constraint's work, masks and states, per
        generated token)."""
        out = {
            "generated_tokens": self.tokens,
            "tokens_per_second": self.tokens / self.seconds if self.seconds else 0.0,
            "valid_rows_per_second": n_valid / self.seconds if self.seconds else 0.0,
        }
        if self.masked_tokens:
            out["masked_mass"] = self.masked / self.masked_tokens
            out["mask_us_per_token"] = 1e6 * self.mask_seconds / self.masked_tokens
        return out
