"""The drawer: prompt, complete, parse, check, label, until ``n`` rows (method.md §1 steps 5-7).

A :class:`Drawer` is made from a :class:`imbllm.llm.plan.Plan` and the fitted model; it works
out once how long completions may be and how incomplete rows are continued, then each
:meth:`Drawer.draw` runs the sampling rounds of :func:`imbllm.llm.rounds.sample_rounds` and
returns the rows, their labels and the draw's statistics. It serves both ``fit_resample`` and
``sample`` after fit.
"""

from __future__ import annotations

import logging

import numpy as np
import pandas as pd

from imbllm.llm.decoding import DecodeStats, completion_budget, for_model
from imbllm.llm.plan import Plan
from imbllm.llm.rounds import Accepted, continuation_prompt, sample_rounds
from imbllm.llm.text import labels as lab
from imbllm.llm.text.repair import check_rows, incomplete_rows

log = logging.getLogger(__name__)


class ShortfallError(RuntimeError):
    """The strict policy could not produce the requested rows within its patience."""


def label_seed(seed: int, round_: int) -> int:
    """The seed of Pred-LLM's label queries in sampling round ``round_`` of a draw seeded
    ``seed``. Round 0 keeps the seed that every round used before (``seed ^ 0x5EED``), so the
    rows of committed runs, most of which come from round 0, stay as they were; each refill
    round draws its own from the seed and the round, so the same seed still gives the same
    rows."""
    if round_ == 0:
        return seed ^ 0x5EED
    return int(np.random.SeedSequence([seed, 6, round_]).generate_state(1)[0])


class Drawer:
    """Draws rows from ``lm`` as ``plan`` says; ``gen_batch_size`` and ``max_new_tokens``
    come from the fine-tuning budget."""

    def __init__(
        self, plan: Plan, lm, *, gen_batch_size: int, max_new_tokens: int | None, progress: bool
    ):
        # Bound now, so that a tokenizer it cannot work with fails here, at fit, with the
        # error naming decoding='free', not mid-sampling.
        self.constraint = for_model(plan.grammar, lm)
        self.plan, self.lm = plan, lm
        self.gen_batch_size, self.progress = gen_batch_size, progress
        self.max_new_tokens = self._completion_length(max_new_tokens)
        self.value_tokens = self._value_length()
        self.name_columns, self.open_value = self._column_naming()
        self.label_tokens = None
        if plan.switches["label"] == "lm":
            answer = lab.longest_label_completion(plan.codec)
            self.label_tokens = len(lm.tokenizer(answer)["input_ids"]) + 4

    # -- lengths, worked out once ------------------------------------------------------------
    def _completion_length(self, asked: int | None) -> int:
        """``asked``, else the token count of the longest training sentences."""
        limit = max(8, int(self.lm.max_length) - 16)
        if asked is not None:
            return min(int(asked), limit)
        texts = sorted(self.plan.training_texts(0), key=len)[-64:]
        longest = max(len(self.lm.tokenizer(t)["input_ids"]) for t in texts)
        # A completion is never longer than a whole row; the margin covers tokenisation
        # differences between a prompt's end and a training sentence.
        return min(longest + 8, limit)

    def _value_length(self) -> int:
        """Tokens a continuation may write: the longest value of the training rows (and
        the separator after it), with a margin; never more than a whole completion."""
        tokens = self.lm.tokenizer
        values = [v for vs in self.plan.value_texts.values() for v in vs] or [""]
        longest = max(len(tokens(" " + v + ",")["input_ids"]) for v in values)
        return min(longest + 4, self.max_new_tokens)

    def _column_naming(self) -> tuple[bool, bool]:
        """How continuations may name a missing column: ``(name_columns, open_value)``.

        A prompt must end on a token boundary of the text the model learnt: the tokens of
        ``"..., <c> is"`` (or, with ``open_value``, ``"..., <c> is "``) must begin those of
        ``"..., <c> is <v>"`` for every feature and value tried. GPT-2's tokenizer leaves
        the blank to the value (``" is"``, ``" no"``); the compact backbone's ``"fields"``
        split keeps it with the name (``" smoker is "``, ``"no"``), so its prompts must end
        with the blank; the ``"pieces"`` split merges a name and a frequent value into one
        token, so no prompt can end between them and rows are continued without naming."""
        tokens = self.lm.tokenizer
        start = self.plan.prompter.label_piece + ","

        def boundary(open_value: bool) -> bool:
            for c, values in self.plan.value_texts.items():
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

    # -- one draw ----------------------------------------------------------------------------
    def _complete(
        self, prompts: list[str], seed: int, max_new_tokens: int, decoded: DecodeStats
    ) -> list[str]:
        settings = self.plan.settings
        out = self.lm.generate(
            prompts,
            temperature=settings.temperature,
            top_k=settings.top_k,
            batch_size=self.gen_batch_size,
            max_new_tokens=completion_budget(self.constraint, prompts, max_new_tokens),
            seed=seed,
            progress=self.progress,
            constraint=self.constraint,
        )
        decoded.add(out.stats)
        return out.texts

    def _accept(
        self, prompts: list[str], completions: list[str], labels_seed: int, decoded: DecodeStats
    ) -> Accepted:
        plan = self.plan
        texts = [p + c for p, c in zip(prompts, completions, strict=True)]
        cells = plan.codec.parse(texts)
        checked = check_rows(cells, plan.codec, plan.schema, plan.settings.repair, plan.reference)
        reason = checked.reason.copy()
        X_ok = checked.X
        if plan.switches["label"] == "prompt":
            y_ok = pd.Series([plan.minority_class] * len(X_ok), index=X_ok.index, dtype=object)
        elif plan.switches["label"] == "classifier":
            y_ok = plan.labeler.predict(X_ok)
        else:
            y_ok = self._ask_labels(X_ok, cells, labels_seed, decoded)
            wrong = y_ok.isna().to_numpy() | (y_ok != plan.minority_class).to_numpy()
            unread = y_ok.isna().to_numpy()
            target = plan.codec.target
            reason[X_ok.index[unread]] = lab.LABEL_UNREADABLE + ":" + target
            reason[X_ok.index[wrong & ~unread]] = lab.LABEL_NOT_MINORITY + ":" + target
            X_ok, y_ok = X_ok[~wrong], y_ok[~wrong]
        return Accepted(X=X_ok, y=y_ok, reason=reason, repaired=checked.repaired)

    def _incomplete(self, prompts: list[str], completions: list[str]) -> list[list[str]]:
        """Per row, the features it lacks when it is otherwise valid (the sampler names
        them one by one); empty for complete or invalid rows."""
        plan = self.plan
        texts = [p + c for p, c in zip(prompts, completions, strict=True)]
        cells = plan.codec.parse(texts)
        ok = incomplete_rows(cells, plan.codec, plan.schema, plan.settings.repair, plan.reference)
        features = plan.codec.features
        lacking = cells[features].isna().to_numpy()
        return [
            [f for f, gap in zip(features, row, strict=True) if gap] if keep else []
            for keep, row in zip(ok, lacking, strict=True)
        ]

    def _ask_labels(
        self, X_ok: pd.DataFrame, cells: pd.DataFrame, seed: int, decoded: DecodeStats
    ) -> pd.Series:
        """Pred-LLM: the model completes the label of each full row (drawn with ``seed``:
        see :func:`label_seed`)."""
        codec = self.plan.codec
        if len(X_ok) == 0:
            return pd.Series([], dtype=object, index=X_ok.index)
        queries = lab.label_queries(codec, X_ok)
        answers = self._complete(queries, seed, self.label_tokens, decoded)
        y = lab.read_labels(codec, queries, answers)
        y.index = X_ok.index
        if self.plan.settings.repair == "published":
            # The authors fall back to the label the row itself carried, else the minority.
            own = cells.loc[X_ok.index, codec.target].map(codec.text_label)
            y = y.where(y.notna(), own).where(lambda s: s.notna(), self.plan.minority_class)
        return y.astype(object)

    def draw(self, n: int, seed: int) -> tuple[pd.DataFrame, pd.Series, dict]:
        """``n`` rows (columns and dtypes of the input) with their labels and statistics;
        :class:`ShortfallError` when patience runs out and the plan says to raise."""
        plan, settings = self.plan, self.plan.settings
        decoded = DecodeStats()
        constrained = plan.grammar is not None
        rounds = sample_rounds(
            n,
            plan.prompter,
            complete=lambda p, s: self._complete(p, s, self.max_new_tokens, decoded),
            accept=lambda p, c, r: self._accept(p, c, label_seed(seed, r), decoded),
            patience=float(settings.patience),
            seed=seed,
            incomplete=self._incomplete,
            # The published repair fills missing cells the authors' way instead; a
            # constrained row is always complete.
            max_continuations=(
                settings.max_continuations
                if settings.repair == "strict" and not constrained
                else 0
            ),
            # A continuation writes one value: a short generation suffices.
            complete_value=lambda p, s: self._complete(p, s, self.value_tokens, decoded),
            name_columns=self.name_columns,
            open_value=self.open_value,
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
            "continuations_name_columns": int(self.name_columns),
            "continuations_open_value": int(self.open_value),
            "n_continued_valid": rounds.n_continued_valid,
            "shortfall": rounds.shortfall,
            "max_new_tokens": self.max_new_tokens,
            **decoded.summary(rounds.n_valid),
        }
        for reason, count in rounds.reasons.items():
            key = "rejected_" + reason.split(":", 1)[0]
            stats[key] = stats.get(key, 0) + count
        if rounds.shortfall:
            msg = (
                f"{plan.owner} produced {rounds.n_valid} of {n} valid rows after "
                f"{rounds.n_completions} completions (patience={settings.patience}, repair="
                f"{settings.repair!r}); rejected rows by first failed check: "
                f"{rounds.reason_summary()}."
            )
            if settings.on_shortfall == "raise":
                raise ShortfallError(
                    msg + " Fine-tune longer (epochs=...), raise patience, use "
                    + ("decoding='constrained', " if not constrained else "")
                    + "repair='published', or pass on_shortfall='record' to keep the rows made."
                )
            log.warning("%s The gap is recorded as shortfall=%d.", msg, rounds.shortfall)
        X_new = rounds.X.reindex(columns=plan.codec.features).reset_index(drop=True)
        X_new.columns = plan.columns
        return X_new, rounds.y.reset_index(drop=True).astype(plan.y_dtype), stats
