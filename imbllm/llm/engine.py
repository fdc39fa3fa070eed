"""The one LLM oversampler engine: serialise, order, fine-tune, prompt, parse, repair, label.

:class:`LLMOversampler` runs method.md §1 end to end behind imbalanced-learn's
``fit_resample``. GReaT, TapTap, Pred-LLM and ImbLLM are this class with different rows of
:data:`imbllm.llm.recipes.RECIPES`: the defaults of the strategy switches
(:mod:`imbllm.llm.text.strategies`), ``patience`` and ``on_shortfall``. The estimator is thin: a
fit builds the :class:`~imbllm.llm.plan.Plan` from the table (:mod:`imbllm.llm.plan`), obtains
the model (:mod:`imbllm.llm.fitting`: pretraining, fine-tuning, cache) and hands both to a
:class:`~imbllm.llm.drawer.Drawer` that samples the rows (:mod:`imbllm.llm.drawer`); a fitted
sampler is written and read by :mod:`imbllm.llm.saving`.
"""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pandas as pd

from imbllm.base import BaseOversampler, Generated
from imbllm.llm import contract, fitting, model, saving
from imbllm.llm.decoding import resolve_decoding
from imbllm.llm.drawer import Drawer, ShortfallError
from imbllm.llm.model.config import LLMConfig
from imbllm.llm.plan import SETTING_NAMES, Plan, Settings, resolve_settings, seed_from
from imbllm.llm.recipes import Recipe
from imbllm.llm.rounds import MAX_CONTINUATIONS

__all__ = ["LLMOversampler", "ShortfallError"]

class LLMOversampler(BaseOversampler):
    """Oversample the minority class with a fine-tuned causal language model.

    Parameters
    ----------
    llm : str, dict or LLMConfig, default="compact"
        The backbone: ``"compact"`` (a small GPT-2-style model built offline, tokenizer
        trained on the training rows), a Hugging Face hub id such as ``"distilgpt2"``, or a
        local folder; or a whole :class:`imbllm.llm.model.config.LLMConfig` (or dict of its
        fields). ``LLMConfig.pretrain`` says whether the backbone is first trained on the
        whole training split (``"table"``, the compact default; :mod:`imbllm.llm.pretrain`).
    llm_config : dict, optional
        Other keys of :class:`imbllm.llm.model.config.LLMConfig` (``n_layer``, ``n_embd``,
        ``lora``, ``pretrain``, ...). A ``name`` key (the Hydra group's label) is ignored.
    budget : dict or Budget, optional
        The training and generation budget (:class:`imbllm.llm.model.config.Budget` fields,
        ``pretrain_*`` included); unset fields keep the dataclass defaults.
    epochs, batch_size, learning_rate, warmup_ratio, weight_decay, max_rows_per_epoch
        Fine-tuning budget; each, when not None, overrides ``budget``'s field. Without
        either, ``learning_rate`` is 1e-3 for the compact backbone (5e-5 leaves it unable to
        write rows, method.md §5) and the paper's 5e-5 for hub ones; ``epochs`` 50.
    max_new_tokens : int, optional
        Longest completion; ``None`` derives it from the longest training sentence.
    temperature, top_k, gen_batch_size
        Sampling settings (paper: 0.7, 50, 100; ``gen_batch_size`` overrides ``budget``).
    permutation, training_rows, prompt, label, number_format : str, optional
        Strategy switches (:mod:`imbllm.llm.text.strategies`); ``None`` takes the method's recipe
        (:data:`imbllm.llm.recipes.RECIPES`).
        ``number_format`` is ``"plain"`` or ``"digits"`` (TapTap's digit-by-digit numbers).
    interpolation_ratio : float, default=1.0
        Interpolated training rows per row to generate (``training_rows=
        "minority_interpolated"``); 0 disables them.
    label_format : {"name", "code"}, default="name"
        How class labels are written: the class itself, or its index among sorted classes
        (the authors' code).
    repair : {"strict", "published"}, default="strict"
        What happens to invalid generated rows (:mod:`imbllm.llm.text.repair`).
    decoding : {"constrained", "free"}, optional
        ``"constrained"`` masks the logits so every row passes the strict check (needs a
        byte-level BPE tokenizer); ``"free"`` samples as is. ``None``: constrained with
        ``repair="strict"``, free with ``"published"`` (:mod:`imbllm.llm.decoding`).
    patience : float, optional
        Draw at most ``patience * n`` completions to obtain ``n`` valid rows; ``None``: the
        method's recipe (Pred-LLM 1.0, as published), else 5.0.
    max_continuations : int, default=32
        A completion whose row lacks some features but is otherwise valid is continued
        column by column: prompted with its text so far plus ``", <column> is"`` for one
        missing column, keeping only the value the model writes for it; this many rounds at
        most (one column per row and round, so the default completes a row of the widest
        benchmark table). A continued row counts as one more completion drawn against
        ``patience``; :meth:`telemetry` reports ``n_continuations`` (columns named),
        ``n_continued`` (rows) and ``n_continued_valid``. 0 disables it (the authors'
        behaviour); it applies under ``repair="strict"`` only (``"published"`` fills
        missing cells instead). A tokenizer that writes a column name and its value as one
        token (the compact backbone's ``tokenizer_split="pieces"``) cannot be prompted with
        a named column; rows are then continued with ``prompt + completion + ","``, keeping
        the whole completion, at most 2 rounds, each continuation counted as a completion.
    on_shortfall : {"raise", "record"}, optional
        When patience runs out: raise :class:`ShortfallError` saying how many rows were
        made and why the rest failed, or return the rows made and record the gap
        (``shortfall`` in :meth:`telemetry`, ``n_generated_ < n_requested_``). ``None``: the
        method's recipe (``"record"`` for TapTap and Pred-LLM), else ``"raise"``.
    categorical_features : "auto" or list of str, default="auto"
        Which columns are categorical; ``"auto"``: non-numeric and boolean ones.
    cache_dir : str, optional
        Folder of the model cache (fine-tuned models, and pretrained backbones under
        ``pretrained/``); ``None`` trains every time.
    device : str, default="auto"
        ``"auto"`` (CUDA if present, else CPU), ``"cpu"`` or ``"cuda[:i]"``.
    progress : bool, default=True
        Progress bars while fine-tuning and sampling.
    random_state : int, numpy Generator/RandomState or None
        Seed of everything random (same seed, same rows on a CPU).
    """

    #: This configuration's row of :data:`imbllm.llm.recipes.RECIPES`; the bare engine has none.
    _recipe: Recipe | None = None
    _parameter_constraints = {**BaseOversampler._parameter_constraints, **contract.ENGINE_CONSTRAINTS}

    def __init__(
        self,
        llm="compact",
        llm_config: dict | None = None,
        budget=None,
        epochs: int | None = None,
        batch_size: int | None = None,
        learning_rate: float | None = None,
        warmup_ratio: float | None = None,
        weight_decay: float | None = None,
        max_rows_per_epoch: int | None = None,
        max_new_tokens: int | None = None,
        temperature: float = 0.7,
        top_k: int = 50,
        gen_batch_size: int | None = None,
        permutation: str | None = None,
        training_rows: str | None = None,
        prompt: str | None = None,
        label: str | None = None,
        number_format: str | None = None,
        interpolation_ratio: float = 1.0,
        label_format: str = "name",
        repair: str = "strict",
        decoding: str | None = None,
        patience: float | None = None,
        max_continuations: int = MAX_CONTINUATIONS,
        on_shortfall: str | None = None,
        categorical_features="auto",
        cache_dir: str | None = None,
        device: str = "auto",
        progress: bool = True,
        random_state=None,
    ):
        self.llm = llm
        self.llm_config = llm_config
        self.budget = budget
        self.epochs = epochs
        self.batch_size = batch_size
        self.learning_rate = learning_rate
        self.warmup_ratio = warmup_ratio
        self.weight_decay = weight_decay
        self.max_rows_per_epoch = max_rows_per_epoch
        self.max_new_tokens = max_new_tokens
        self.temperature = temperature
        self.top_k = top_k
        self.gen_batch_size = gen_batch_size
        self.permutation = permutation
        self.training_rows = training_rows
        self.prompt = prompt
        self.label = label
        self.number_format = number_format
        self.interpolation_ratio = interpolation_ratio
        self.label_format = label_format
        self.repair = repair
        self.decoding = decoding
        self.patience = patience
        self.max_continuations = max_continuations
        self.on_shortfall = on_shortfall
        self.categorical_features = categorical_features
        self.cache_dir = cache_dir
        self.device = device
        self.progress = progress
        self.random_state = random_state

    def fit_resample(self, X, y):
        """Fit the language model on ``(X, y)`` and return the input rows, then the new ones.

        See :meth:`imbllm.base.BaseOversampler.fit_resample`; the label must be a class label
        (binary or multiclass), as imbalanced-learn requires.
        """
        from sklearn.utils.multiclass import type_of_target

        kind = type_of_target(y)
        if kind not in ("binary", "multiclass"):
            raise ValueError(
                f"Unknown label type: y is {kind!r}; {type(self).__name__} oversamples a "
                "classification target (one column of class labels). Multilabel and "
                "multioutput targets are not supported."
            )
        return super().fit_resample(X, y)

    def check_params(self) -> None:
        """The declared constraints (:data:`contract.ENGINE_CONSTRAINTS`), the ``llm.*`` and
        ``budget.*`` they resolve to, and the backbone's device and files on this host."""
        super().check_params()
        config = self._llm_config()
        overrides = {k: getattr(self, k) for k in fitting.BUDGET_ARGS}
        fitting.resolve_budget(self.budget, overrides, config)
        contract.check_host(config, self.device)

    def check_data(self, X: pd.DataFrame, y: pd.Series) -> None:
        """Also what a hub or folder backbone allows (:func:`contract.check_backbone_data`)."""
        super().check_data(X, y)
        decoding = resolve_decoding(self.decoding, self.repair)
        contract.check_backbone_data(self._llm_config(), decoding, [str(c) for c in X.columns])

    def _llm_config(self) -> LLMConfig:
        return fitting.resolve_llm_config(self.llm, self.llm_config, self.device)

    # -- the hook -------------------------------------------------------------------------
    def _generate(self, X: pd.DataFrame, y: pd.Series, n: int) -> Generated:
        model.language_model()  # imports torch before the clock starts: importing is not fitting
        t0 = time.perf_counter()
        self.llm_config_ = config = self._llm_config()
        settings = self._settings()
        seed = seed_from(self.random_state)
        self.plan_ = plan = Plan.build(
            settings, type(self).__name__, seed, X, y, n, list(self.classes_),
            self.minority_class_,
        )
        self.sampling_strategy_ = {self.minority_class_: n}  # imbalanced-learn's fitted name
        # Text goes under "tags" (the runner logs it as run tags), numbers stay metrics.
        backbone = {"backbone": config.name_or_path, "pretrain": config.pretrain}
        tags = {**settings.tags(**backbone), **self._method_tags()}
        extra = {"n_interpolated": plan.n_interpolated, "tags": tags}
        if n == 0:
            self.lm_ = self.drawer_ = None
            extra.update(n_valid=0, cache_hit=False)
            return Generated(X=X.iloc[:0], y=y.iloc[:0], extra=extra, fallback=plan.fallback)
        overrides = {k: getattr(self, k) for k in fitting.BUDGET_ARGS}
        budget, tune = fitting.resolve_budget(self.budget, overrides, config)
        self.budget_ = tune
        self.lm_, train_stats, hit = fitting.fit_model(
            plan, X, y, config, budget, tune, cache_dir=self.cache_dir, progress=self.progress
        )
        self.drawer_ = self._make_drawer()
        fit_seconds = time.perf_counter() - t0
        extra.update(train_stats)
        extra["cache_hit"] = hit
        tags["train_threads"] = str(self.lm_.train_threads_ or "unknown")
        t1 = time.perf_counter()
        X_new, y_new, stats = self.drawer_.draw(n, plan.seed)
        extra.update(stats)
        return Generated(
            X=X_new,
            y=y_new,
            n_rejected=stats["n_rejected"],
            n_repaired_cells=stats["n_repaired_cells"],
            fallback=plan.fallback,
            fit_seconds=fit_seconds,
            sample_seconds=time.perf_counter() - t1,
            extra=extra,
        )

    def _settings(self) -> Settings:
        """The constructor's arguments checked and resolved from this class's recipe."""
        params = {k: getattr(self, k) for k in SETTING_NAMES}
        return resolve_settings(params, self._recipe, type(self).__name__)

    def _make_drawer(self) -> Drawer:
        b = self.budget_
        return Drawer(self.plan_, self.lm_, gen_batch_size=b.gen_batch_size,
                      max_new_tokens=b.max_new_tokens, progress=self.progress)

    def _method_tags(self) -> dict:
        """Text tags a configuration adds to every run (e.g. TapTap's checkpoint note)."""
        return {}

    # -- after fit ---------------------------------------------------------------------------
    def sample(self, n: int, random_state=None) -> tuple[pd.DataFrame, pd.Series]:
        """``n`` new synthetic rows from the fitted model (same columns and dtypes as ``X``).

        ``random_state=None`` draws a fresh seed; an int gives the same rows every time.
        """
        if getattr(self, "drawer_", None) is None:
            raise RuntimeError(
                f"{type(self).__name__}.sample needs a fitted model: call fit_resample first "
                "(or load a saved one with load(path)); with an already balanced y nothing "
                "was fine-tuned."
            )
        if not isinstance(n, (int, np.integer)) or n < 0:
            raise ValueError(f"n={n!r} must be a non-negative integer number of rows.")
        X_new, y_new, stats = self.drawer_.draw(int(n), seed_from(random_state))
        self.last_sample_stats_ = stats
        return self.schema_.cast_like(X_new, self.plan_.X_ref), y_new

    def save(self, path: str | Path) -> None:
        """Write the fitted sampler to the folder ``path``: the fine-tuned model as
        safetensors (``model/``) and everything else (the plan: schema, prompts, labeller)
        pickled (:mod:`imbllm.llm.saving`)."""
        saving.save_sampler(self, path)

    @classmethod
    def load(cls, path: str | Path, device: str | None = None) -> LLMOversampler:
        """Read a sampler written by :meth:`save` (pickle: load only folders you trust)."""
        obj = saving.load_sampler(path, device)
        obj.drawer_ = obj._make_drawer()
        return obj
