"""Sampling half of the engine: prompt, complete, parse, check, label, until ``n`` rows.

:class:`EngineSampleMixin` turns the fitted state that :mod:`imbllm.llm.engine_setup` prepared
and the fine-tuned model into rows, through :func:`imbllm.llm.rounds.sample_rounds`; it serves
both ``fit_resample`` and ``sample`` after fit.
"""

from __future__ import annotations

import logging

import pandas as pd

from imbllm.llm import labels as lab
from imbllm.llm.decoding import DecodeStats, completion_budget
from imbllm.llm.repair import check_rows, incomplete_rows
from imbllm.llm.rounds import Accepted, continuation_prompt, sample_rounds

log = logging.getLogger(__name__)


class ShortfallError(RuntimeError):
    """The strict policy could not produce the requested rows within its patience."""


class EngineSampleMixin:
    """Sampling steps of :class:`imbllm.llm.engine.LLMOversampler`."""

    def _complete(self, prompts: list[str], seed: int, max_new_tokens: int) -> list[str]:
        # A sampler saved before decoding was a choice has no grammar_: it decodes freely.
        grammar = getattr(self, "grammar_", None)
        out = self.lm_.generate(
            prompts,
            temperature=self.temperature,
            top_k=self.top_k,
            batch_size=self.budget_.gen_batch_size,
            max_new_tokens=completion_budget(grammar, self.lm_, prompts, max_new_tokens),
            seed=seed,
            progress=self.progress,
            constraint=grammar,
        )
        self._decode_stats.add(out.stats)
        return out.texts

    def _accept(self, prompts: list[str], completions: list[str], seed: int) -> Accepted:
        texts = [p + c for p, c in zip(prompts, completions, strict=True)]
        cells = self.codec_.parse(texts)
        checked = check_rows(cells, self.codec_, self.text_schema_, self.repair, self.reference_)
        reason = checked.reason.copy()
        X_ok = checked.X
        if self.switches_["label"] == "prompt":
            y_ok = pd.Series([self.minority_class_] * len(X_ok), index=X_ok.index, dtype=object)
        elif self.switches_["label"] == "classifier":
            y_ok = self.labeler_.predict(X_ok)
        else:
            y_ok = self._ask_labels(X_ok, cells, seed)
            wrong = y_ok.isna().to_numpy() | (y_ok != self.minority_class_).to_numpy()
            unread = y_ok.isna().to_numpy()
            reason[X_ok.index[unread]] = lab.LABEL_UNREADABLE + ":" + self.codec_.target
            reason[X_ok.index[wrong & ~unread]] = lab.LABEL_NOT_MINORITY + ":" + self.codec_.target
            X_ok, y_ok = X_ok[~wrong], y_ok[~wrong]
        return Accepted(X=X_ok, y=y_ok, reason=reason, repaired=checked.repaired)

    def _incomplete(self, prompts: list[str], completions: list[str]) -> list[list[str]]:
        """Per row, the features it lacks when it is otherwise valid (the sampler names
        them one by one); empty for complete or invalid rows."""
        texts = [p + c for p, c in zip(prompts, completions, strict=True)]
        cells = self.codec_.parse(texts)
        ok = incomplete_rows(cells, self.codec_, self.text_schema_, self.repair, self.reference_)
        features = self.codec_.features
        lacking = cells[features].isna().to_numpy()
        return [
            [f for f, gap in zip(features, row, strict=True) if gap] if keep else []
            for keep, row in zip(ok, lacking, strict=True)
        ]

    def _value_tokens(self) -> int:
        # A sampler saved before continuations wrote single values has no value_tokens_.
        return getattr(self, "value_tokens_", self.max_new_tokens_)

    def _value_length(self) -> int:
        """Tokens a continuation may write: the longest value of the training rows (and
        the separator after it), with a margin; never more than a whole completion."""
        tokens = self.lm_.tokenizer
        values = [v for vs in self.value_texts_.values() for v in vs] or [""]
        longest = max(len(tokens(" " + v + ",")["input_ids"]) for v in values)
        return min(longest + 4, self.max_new_tokens_)

    def _column_naming(self) -> tuple[bool, bool]:
        """How continuations may name a missing column: ``(name_columns, open_value)``.

        A prompt must end on a token boundary of the text the model learnt: the tokens of
        ``"..., <c> is"`` (or, with ``open_value``, ``"..., <c> is "``) must begin those of
        ``"..., <c> is <v>"`` for every feature and value tried. GPT-2's tokenizer leaves
        the blank to the value (``" is"``, ``" no"``); the compact backbone's ``"fields"``
        split keeps it with the name (``" smoker is "``, ``"no"``), so its prompts must end
        with the blank; the ``"pieces"`` split merges a name and a frequent value into one
        token, so no prompt can end between them and rows are continued without naming."""
        tokens = self.lm_.tokenizer
        start = self.prompter_.label_piece + ","

        def boundary(open_value: bool) -> bool:
            for c, values in self.value_texts_.items():
                head = tokens(continuation_prompt(start, "", c, open_value))["input_ids"]
                full_texts = (continuation_prompt(start, "", c) + " " + v for v in values)
                if any(tokens(t)["input_ids"][: len(head)] != head for t in full_texts):
                    return False
            return True

        for open_value in (False, True):
            if boundary(open_value):
                return True, open_value
        log.info(
            "The tokenizer writes a column name and its value in one token: incomplete rows "
            "are continued without naming the missing column."
        )
        return False, False

    def _ask_labels(self, X_ok: pd.DataFrame, cells: pd.DataFrame, seed: int) -> pd.Series:
        """Pred-LLM: the model completes the label of each full row."""
        if len(X_ok) == 0:
            return pd.Series([], dtype=object, index=X_ok.index)
        queries = lab.label_queries(self.codec_, X_ok)
        answers = self._complete(queries, seed ^ 0x5EED, self.label_tokens_)
        y = lab.read_labels(self.codec_, queries, answers)
        y.index = X_ok.index
        if self.repair == "published":
            # The authors fall back to the label the row itself carried, else the minority.
            own = cells.loc[X_ok.index, self.codec_.target].map(self.codec_.text_label)
            y = y.where(y.notna(), own).where(lambda s: s.notna(), self.minority_class_)
        return y.astype(object)

    def _draw(self, n: int, seed: int) -> tuple[pd.DataFrame, pd.Series, dict]:
        """``n`` rows (columns and dtypes of the input) with their labels and statistics."""
        self._decode_stats = DecodeStats()
        constrained = getattr(self, "grammar_", None) is not None
        rounds = sample_rounds(
            n,
            self.prompter_,
            complete=lambda p, s: self._complete(p, s, self.max_new_tokens_),
            accept=lambda p, c: self._accept(p, c, seed),
            patience=float(self.patience_),
            seed=seed,
            incomplete=self._incomplete,
            # The published repair fills missing cells the authors' way instead; a
            # constrained row is always complete.
            max_continuations=(
                int(self.max_continuations) if self.repair == "strict" and not constrained else 0
            ),
            # A continuation writes one value: a short generation suffices.
            complete_value=lambda p, s: self._complete(p, s, self._value_tokens()),
            # Samplers saved before continuations named columns continue the old way.
            name_columns=getattr(self, "name_columns_", False),
            open_value=getattr(self, "name_open_value_", False),
        )
        stats = {
            "n_valid": rounds.n_valid,
            "n_rejected": rounds.n_rejected,
            "n_repaired_cells": rounds.n_repaired_cells,
            "n_completions": rounds.n_completions,
            "n_rounds": rounds.n_rounds,
            "n_unused": rounds.n_unused,
            "n_continuations": rounds.n_continuations,
            "n_continued": rounds.n_continued,
            "continuations_name_columns": int(getattr(self, "name_columns_", False)),
            "continuations_open_value": int(getattr(self, "name_open_value_", False)),
            "n_continued_valid": rounds.n_continued_valid,
            "shortfall": rounds.shortfall,
            "max_new_tokens": self.max_new_tokens_,
            **self._decode_stats.summary(rounds.n_valid),
        }
        for reason, count in rounds.reasons.items():
            key = "rejected_" + reason.split(":", 1)[0]
            stats[key] = stats.get(key, 0) + count
        if rounds.shortfall:
            msg = (
                f"{type(self).__name__} produced {rounds.n_valid} of {n} valid rows after "
                f"{rounds.n_completions} completions (patience={self.patience_}, repair="
                f"{self.repair!r}); rejected rows by first failed check: "
                f"{rounds.reason_summary()}."
            )
            if self.on_shortfall_ == "raise":
                raise ShortfallError(
                    msg + " Fine-tune longer (epochs=...), raise patience, use "
                    + ("decoding='constrained', " if not constrained else "")
                    + "repair='published', or pass on_shortfall='record' to keep the rows made."
                )
            log.warning("%s The gap is recorded as shortfall=%d.", msg, rounds.shortfall)
        X_new = rounds.X.reindex(columns=self.codec_.features).reset_index(drop=True)
        X_new.columns = self.columns_
        return X_new, rounds.y.reset_index(drop=True).astype(self.y_dtype_), stats
