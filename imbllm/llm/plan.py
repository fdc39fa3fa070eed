"""The plan: everything the engine builds from the table at fit, before any model is touched.

:func:`resolve_settings` resolves each unset constructor argument from the method's recipe,
then the engine's defaults (the arguments are checked before, against the estimator's declared
``_parameter_constraints``: :mod:`imbllm.llm.contract`).
:meth:`Plan.build` turns those settings and the table into the codec, the grammar of
constrained decoding, the training sentences (with ImbLLM's interpolated rows), the prompts,
the labeller and the reference rows of the published repair. The plan is pickled with a saved
sampler; the model (:mod:`imbllm.llm.fitting`) and the drawer (:mod:`imbllm.llm.drawer`) are
built from it.
"""

from __future__ import annotations

import numbers
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd
from sklearn.utils import check_random_state

from imbllm.llm.constrain.grammar import RowGrammar
from imbllm.llm.decoding import build_grammar, resolve_decoding
from imbllm.llm.recipes import ENGINE_DEFAULTS, Recipe
from imbllm.llm.text.labels import ClassifierLabeler
from imbllm.llm.text.repair import Reference
from imbllm.llm.text.serialize import NUMBER_FORMATS, RowCodec, quote_series
from imbllm.llm.text.strategies import (
    LABELS,
    PERMUTATIONS,
    PROMPTS,
    TABLE_ORDER,
    TRAINING_ROWS,
    Block,
    Prompter,
    TrainingTexts,
    feature_pools,
    interpolate_minority,
)
from imbllm.schema import TableSchema

#: The strategy switches and their choices (the engine's constraints declare the same).
SWITCHES = {
    "permutation": PERMUTATIONS,
    "training_rows": TRAINING_ROWS,
    "prompt": PROMPTS,
    "label": LABELS,
    "number_format": NUMBER_FORMATS,
}


#: The constructor arguments :func:`resolve_settings` reads.
SETTING_NAMES = (
    "repair", "decoding", "on_shortfall", "patience", "label_format", "temperature", "top_k",
    "interpolation_ratio", "max_continuations", "categorical_features", *SWITCHES,
)


@dataclass(frozen=True)
class Settings:
    """The constructor's arguments checked, unset ones taken from the recipe."""

    #: the strategy switches: permutation, training_rows, prompt, label, number_format
    switches: dict[str, str]
    decoding: str
    repair: str
    label_format: str
    patience: float | int
    on_shortfall: str
    temperature: float
    top_k: int
    interpolation_ratio: float
    max_continuations: int
    categorical_features: Any

    def tags(self, **model: str) -> dict[str, str]:
        """The text settings a run is tagged with; ``model`` (the backbone's) go after the
        switches, as runs logged before the plan existed have them."""
        return {
            **self.switches,
            **model,
            "repair": self.repair,
            "decoding": self.decoding,
            "label_format": self.label_format,
        }


def resolve_settings(params: Mapping[str, Any], recipe: Recipe | None, owner: str) -> Settings:
    """``params`` (the constructor's arguments, already checked against the estimator's
    declared constraints) with each ``None`` taken from ``recipe``, then from
    :data:`imbllm.llm.recipes.ENGINE_DEFAULTS`. ``owner`` names the class in errors."""

    def setting(name: str):
        value = params[name]
        if value is None and recipe is not None:
            value = getattr(recipe, name)
        return ENGINE_DEFAULTS.get(name) if value is None else value

    switches = {}
    for name in SWITCHES:
        switches[name] = setting(name)
        if switches[name] is None:
            raise ValueError(
                f"{owner}: {name}=None and this class has no default for it; pass one of "
                f"{SWITCHES[name]}, or use ImbLLM, GReaT, TapTap or PredLLM."
            )
    return Settings(
        switches=switches,
        decoding=resolve_decoding(params["decoding"], params["repair"]),
        repair=params["repair"],
        label_format=params["label_format"],
        patience=setting("patience"),
        on_shortfall=setting("on_shortfall"),
        temperature=params["temperature"],
        top_k=params["top_k"],
        interpolation_ratio=float(params["interpolation_ratio"]),
        max_continuations=int(params["max_continuations"]),
        categorical_features=params["categorical_features"],
    )


def seed_from(random_state) -> int:
    """One integer seed from a ``random_state`` (an int is used as is)."""
    if isinstance(random_state, numbers.Integral):
        return int(random_state)
    if isinstance(random_state, np.random.Generator):
        return int(random_state.integers(2**31 - 1))
    return int(check_random_state(random_state).randint(2**31 - 1))


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


def target_name(y: pd.Series, columns: list[str]) -> str:
    """The target's name in sentences: ``y.name``, else a word no column uses."""
    if y.name is not None:
        if str(y.name) in columns:
            raise ValueError(f"The target name {y.name!r} collides with a column of X; rename y.")
        return str(y.name)
    return next(c for c in ("target", "label", "class", "y", "_target") if c not in columns)


@dataclass(frozen=True, eq=False)  # frames inside: compared by identity
class Plan:
    """What one fit decided from the table; read by model fitting and by the drawer."""

    owner: str  #: the estimator's class name, for messages
    settings: Settings
    seed: int
    columns: list  #: X's column labels as given (sentences use them as strings)
    X_ref: pd.DataFrame  #: X's first zero rows: the columns and dtypes to return
    y_dtype: Any
    minority_class: Any
    classes: list
    schema: TableSchema  #: inferred on X with string column names
    codec: RowCodec
    grammar: RowGrammar | None  #: constrained decoding's grammar; None decodes freely
    training_texts: TrainingTexts
    n_interpolated: int
    fallback: str | None  #: why interpolation fell back, if it did
    value_texts: dict[str, list[str]]  #: longest written values, per feature
    reference: Reference  #: real rows the published repair draws from
    prompter: Prompter
    labeler: ClassifierLabeler | None  #: TapTap's classifier

    @property
    def switches(self) -> dict[str, str]:
        return self.settings.switches

    @classmethod
    def build(
        cls, settings: Settings, owner: str, seed: int, X: pd.DataFrame, y: pd.Series, n: int,
        classes: list, minority,
    ) -> Plan:
        """The plan for generating ``n`` rows of class ``minority`` from ``(X, y)``."""
        sw = settings.switches
        columns = list(X.columns)
        Xs = X.rename(columns=str)
        if not Xs.columns.is_unique:
            raise ValueError(
                f"X has columns {columns} whose names collide as strings; rename them."
            )
        cats = settings.categorical_features
        cats = cats if isinstance(cats, str) else [str(c) for c in cats]
        schema = TableSchema.infer(Xs, cats)
        target = target_name(y, list(Xs.columns))
        codec = RowCodec(
            Xs.columns,
            schema.numeric,
            schema.categories,
            target,
            list(classes),
            label_format=settings.label_format,
            number_format=sw["number_format"],
        )
        grammar = build_grammar(settings.decoding, codec, schema, Xs)
        is_min = (y == minority).to_numpy()
        fallback = None
        interp = pd.DataFrame(columns=schema.numeric, dtype=float)
        if sw["training_rows"] == "minority_interpolated":
            real = Xs[is_min]
            n_interp = int(round(settings.interpolation_ratio * n))
            interp, fallback = interpolate_minority(
                Xs, y, minority, n_interp, schema.numeric, schema.categorical, seed
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
        pools = {}
        if sw["prompt"] == "label_feature":
            pools = feature_pools(codec, Xs[is_min], interp)
        elif sw["prompt"] == "feature":
            pools = feature_pools(codec, Xs)
        labeler = None
        if sw["label"] == "classifier" and n > 0:
            labeler = ClassifierLabeler(schema, list(classes), seed).fit(Xs, y)
        return cls(
            owner=owner,
            settings=settings,
            seed=seed,
            columns=columns,
            X_ref=X.iloc[:0].copy(),
            y_dtype=y.dtype,
            minority_class=minority,
            classes=list(classes),
            schema=schema,
            codec=codec,
            grammar=grammar,
            training_texts=TrainingTexts(blocks, seed),
            n_interpolated=len(interp),
            fallback=fallback,
            value_texts=longest_values(codec, real, interp),
            reference=Reference.from_rows(real, schema),
            prompter=Prompter(sw["prompt"], codec.piece(target, minority), codec.features, pools),
            labeler=labeler,
        )
