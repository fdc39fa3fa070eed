"""Everything the engine prepares from the table before any model is touched.

Checks the constructor arguments, resolves the strategy switches, and builds the codec, the
training sentences (with ImbLLM's interpolated rows), the prompt pools, the reference rows of
the published repair and TapTap's classifier. Split from :mod:`imbllm.llm.engine` so that the
engine file reads as the pipeline of method.md §1.
"""

from __future__ import annotations

import numbers

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from imbllm.llm.decoding import build_grammar, resolve_decoding
from imbllm.llm.labels import ClassifierLabeler
from imbllm.llm.recipes import ENGINE_DEFAULTS
from imbllm.llm.repair import Reference, check_repair
from imbllm.llm.serialize import NUMBER_FORMATS, RowCodec, quote_series
from imbllm.llm.strategies import (
    LABELS,
    PERMUTATIONS,
    PROMPTS,
    TABLE_ORDER,
    TRAINING_ROWS,
    Block,
    Prompter,
    TrainingTexts,
    check_choice,
    feature_pools,
    interpolate_minority,
)
from imbllm.schema import TableSchema

_CHOICES = {
    "permutation": PERMUTATIONS,
    "training_rows": TRAINING_ROWS,
    "prompt": PROMPTS,
    "label": LABELS,
    "number_format": NUMBER_FORMATS,
}


def longest_values(
    codec: RowCodec, *frames: pd.DataFrame, per_column: int = 8
) -> dict[str, list[str]]:
    """The ``per_column`` longest written values of every feature over ``frames`` (values as
    they appear in a sentence, quoted where needed): what sizes a continuation."""
    out: dict[str, list[str]] = {}
    for c in codec.features:
        parts = [f[c] for f in frames if c in f and len(f)]
        if not parts:
            continue
        values = pd.concat(parts, ignore_index=True).drop_duplicates()
        written = quote_series(codec.value_texts(c, values))
        out[c] = written[written.str.len().nlargest(per_column, keep="first").index].tolist()
    return out


class EngineSetupMixin:
    """Preparation steps of :class:`imbllm.llm.engine.LLMOversampler`."""

    def _setting(self, name: str):
        """The argument ``name``; when None, the class recipe's value, then the engine's."""
        value = getattr(self, name)
        if value is None and self._recipe is not None:
            value = getattr(self._recipe, name)
        return ENGINE_DEFAULTS.get(name) if value is None else value

    def _resolve_switches(self) -> dict:
        out = {}
        for name, choices in _CHOICES.items():
            value = self._setting(name)
            if value is None:
                raise ValueError(
                    f"{type(self).__name__}: {name}=None and this class has no default for it; "
                    f"pass one of {choices}, or use ImbLLM, GReaT, TapTap or PredLLM."
                )
            out[name] = check_choice(name, value, choices)
        return out

    def _check_params(self) -> None:
        """Check the arguments, and set ``patience_`` and ``on_shortfall_`` (recipe-resolved)."""
        check_repair(self.repair)
        self.decoding_ = resolve_decoding(self.decoding, self.repair)
        self.on_shortfall_ = self._setting("on_shortfall")
        self.patience_ = self._setting("patience")
        check_choice("on_shortfall", self.on_shortfall_, ("raise", "record"))
        check_choice("label_format", self.label_format, ("name", "code"))
        for name, low in (("patience", 1.0), ("temperature", 0.0), ("interpolation_ratio", 0.0)):
            value = self._setting(name)
            ok = isinstance(value, numbers.Real) and (
                value >= low if name != "temperature" else value > low
            )
            if not ok:
                bound = f"> {low}" if name == "temperature" else f">= {low}"
                raise ValueError(f"{name}={value!r} must be a number {bound}.")
        for name in ("epochs", "batch_size", "top_k", "gen_batch_size"):
            value = getattr(self, name)
            if name != "top_k" and value is None:
                continue  # taken from the budget, checked there
            if not isinstance(value, numbers.Integral) or value < 1:
                raise ValueError(f"{name}={value!r} must be a positive integer.")
        m = self.max_continuations
        if not isinstance(m, numbers.Integral) or isinstance(m, bool) or m < 0:
            raise ValueError(
                f"max_continuations={m!r} must be a non-negative integer (0 disables "
                "continuing incomplete rows)."
            )

    @staticmethod
    def _seed_from(random_state) -> int:
        if isinstance(random_state, numbers.Integral):
            return int(random_state)
        if isinstance(random_state, np.random.Generator):
            return int(random_state.integers(2**31 - 1))
        return int(check_random_state(random_state).randint(2**31 - 1))

    def _setup(self, X: pd.DataFrame, y: pd.Series, n: int) -> None:
        self._check_params()
        self.switches_ = sw = self._resolve_switches()
        self.seed_ = self._seed_from(self.random_state)
        self.columns_ = list(X.columns)
        self.X_ref_ = X.iloc[:0].copy()
        self.y_dtype_ = y.dtype
        Xs = X.rename(columns=str)
        if not Xs.columns.is_unique:
            raise ValueError(
                f"X has columns {self.columns_} whose names collide as strings; rename them."
            )
        cats = self.categorical_features
        cats = cats if isinstance(cats, str) else [str(c) for c in cats]
        self.text_schema_ = schema = TableSchema.infer(Xs, cats)
        target = self._target_name(y, list(Xs.columns))
        self.codec_ = codec = RowCodec(
            Xs.columns,
            schema.numeric,
            schema.categories,
            target,
            list(self.classes_),
            label_format=self.label_format,
            number_format=sw["number_format"],
        )
        self.grammar_ = build_grammar(self.decoding_, codec, schema, Xs)
        minority = self.minority_class_
        is_min = (y == minority).to_numpy()
        self.fallback_ = None
        interp = pd.DataFrame(columns=schema.numeric, dtype=float)
        if sw["training_rows"] == "minority_interpolated":
            real = Xs[is_min]
            n_interp = int(round(float(self.interpolation_ratio) * n))
            interp, self.fallback_ = interpolate_minority(
                Xs, y, minority, n_interp, schema.numeric, schema.categorical, self.seed_
            )
            blocks = [Block(codec.pieces(real, y[is_min]), sw["permutation"])]
            if len(interp):
                labels = pd.Series([minority] * len(interp), dtype=object)
                blocks.append(Block(codec.pieces(interp, labels), sw["permutation"]))
        else:
            real = Xs
            blocks = [Block(codec.pieces(Xs, y), sw["permutation"])]
            if sw["training_rows"] == "table_twice":
                blocks.append(Block(blocks[0].pieces, TABLE_ORDER))
        self.n_interpolated_ = len(interp)
        self.value_texts_ = longest_values(codec, real, interp)
        self.training_texts_ = TrainingTexts(blocks, self.seed_)
        self.reference_ = Reference.from_rows(real, schema)
        pools = {}
        if sw["prompt"] == "label_feature":
            pools = feature_pools(codec, Xs[is_min], interp)
        elif sw["prompt"] == "feature":
            pools = feature_pools(codec, Xs)
        self.prompter_ = Prompter(
            sw["prompt"], codec.piece(target, minority), codec.features, pools
        )
        self.labeler_ = None
        if sw["label"] == "classifier" and n > 0:
            self.labeler_ = ClassifierLabeler(schema, list(self.classes_), self.seed_).fit(Xs, y)

    @staticmethod
    def _target_name(y: pd.Series, columns: list[str]) -> str:
        if y.name is not None:
            if str(y.name) in columns:
                raise ValueError(
                    f"The target name {y.name!r} collides with a column of X; rename y."
                )
            return str(y.name)
        return next(c for c in ("target", "label", "class", "y", "_target") if c not in columns)
