"""The model half of a fit: resolve the backbone and the budget, pretrain, fine-tune.

:func:`resolve_llm_config` and :func:`resolve_budget` turn the constructor's ``llm``/
``llm_config`` and ``budget`` (plus the single budget arguments, which win) into an
:class:`imbllm.llm.model.config.LLMConfig` and a :class:`imbllm.llm.model.config.Budget`.
:func:`fit_model` then obtains the fine-tuned model for a :class:`imbllm.llm.plan.Plan`: from
the model cache, or by pretraining the backbone on the whole training split
(:mod:`imbllm.llm.pretrain`, itself cached) and fine-tuning it on the plan's sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path

import pandas as pd

from imbllm.llm import model
from imbllm.llm.model.config import (
    COMPACT,
    TABLE_FITTED,
    TRAINING_KEYS,
    Budget,
    LLMConfig,
    check_budget,
    training_keys,
)
from imbllm.llm.plan import Plan
from imbllm.llm.text.serialize import RowCodec

#: Learning rate of the compact backbone when none is given (method.md §5: it is trained from
#: scratch, and the paper's 5e-5 leaves it unable to write plausible rows).
COMPACT_LEARNING_RATE = 1e-3
PAPER_LEARNING_RATE = 5e-5
#: Constructor arguments that override the matching field of ``budget`` when not None.
BUDGET_ARGS = (*TRAINING_KEYS, "max_new_tokens", "gen_batch_size")


def _as_dict(value, cls, name: str) -> dict:
    """``value`` (None, a ``cls`` instance or a mapping) as a dict of ``cls`` fields."""
    if value is None:
        return {}
    if is_dataclass(value) and isinstance(value, cls):
        return asdict(value)
    if not isinstance(value, Mapping):
        raise ValueError(
            f"{name}={value!r} cannot be read as settings: pass an instance of "
            f"{cls.__name__}, a dict of its fields, or None."
        )
    out = {str(k): v for k, v in value.items() if k != "name"}  # the Hydra group's label
    known = {f.name for f in fields(cls)}
    unknown = sorted(set(out) - known)
    if unknown:
        raise ValueError(
            f"{name} has keys {unknown} that {cls.__name__} does not know; valid keys: "
            f"{sorted(known)}."
        )
    return out


def resolve_llm_config(llm, llm_config, device: str) -> LLMConfig:
    """The backbone's :class:`LLMConfig` from the constructor's ``llm``, ``llm_config`` and
    ``device`` (an explicit device wins over the config's)."""
    from imbllm.llm.pretrain import pretrain_mode

    base = {"name_or_path": llm} if isinstance(llm, str) else _as_dict(llm, LLMConfig, "llm")
    cfg = _as_dict(llm_config, LLMConfig, "llm_config")
    name = base.get("name_or_path", COMPACT)
    if cfg.get("name_or_path", name) != name:
        raise ValueError(
            f"llm={name!r} but llm_config names name_or_path="
            f"{cfg['name_or_path']!r}; give the backbone once, through llm."
        )
    cfg = {**base, **cfg}
    if device != "auto" or "device" not in cfg:
        cfg["device"] = device
    config = LLMConfig(**cfg)
    config.pretrain = pretrain_mode(config)
    return config


def resolve_budget(budget, overrides: Mapping, config: LLMConfig) -> tuple[Budget, Budget]:
    """``(budget, tune)``: the :class:`Budget` from the constructor's ``budget`` (``None``: the
    defaults with :data:`TABLE_FITTED`'s token caps) and the single budget arguments
    (``overrides``, those not None win; the learning rate defaults by backbone), and its
    fine-tuning part (:func:`imbllm.llm.pretrain.finetune_budget`)."""
    from imbllm.llm.pretrain import finetune_budget

    values = dict(TABLE_FITTED) if budget is None else _as_dict(budget, Budget, "budget")
    values.update({k: v for k, v in overrides.items() if v is not None})
    if "learning_rate" not in values:
        compact = config.name_or_path == COMPACT
        values["learning_rate"] = COMPACT_LEARNING_RATE if compact else PAPER_LEARNING_RATE
    out = Budget(**values)
    check_budget(out)
    return out, finetune_budget(out, config)


def fit_model(
    plan: Plan, X: pd.DataFrame, y: pd.Series, config, budget, tune, *,
    cache_dir: str | None, progress: bool,
):
    """Pretrain (when configured) and fine-tune the model by ``tune`` (the fine-tuning part
    of ``budget``), or take it from the cache. Returns ``(lm, stats, cache_hit)``."""
    from imbllm.llm import pretrain as pre

    LanguageModel = model.language_model()
    texts = plan.training_texts
    stats: dict = {}
    start = "random" if config.name_or_path == COMPACT else "hub"
    if config.pretrain == "table":
        table = pre.table_texts(_names_codec(plan.codec), X.rename(columns=str), y, plan.seed)
        start = pre.pretrain_key(config, table, budget, plan.seed)
        stats.update(pretrain_seconds=0.0, pretrain_cache_hit=1.0)

    def build_and_train(checkpoint=None):
        if config.pretrain == "table":
            lm, pre_stats = pre.pretrained_backbone(
                config, table, budget, plan.seed, start, cache_dir, progress
            )
            stats.update(pre_stats)
        else:
            lm = LanguageModel.build(config, texts(0), seed=plan.seed)
        stats.update(lm.finetune(texts, tune, plan.seed, progress, checkpoint))
        return lm

    if cache_dir is None:
        lm, hit = build_and_train(), False
    else:
        from imbllm.llm.model.cache import cached_finetune, model_cache_key

        key = model_cache_key(**cache_key_parts(plan, config, tune, start))
        lm, hit = cached_finetune(Path(cache_dir), key, build_and_train, load=LanguageModel.load,
                                  device=config.device)
    keep = ("train_tokens", "fit_seconds", "train_tokens_per_second", "final_loss", "epochs",
            "rows_per_epoch")
    prefixed = ("fit_seconds", "epochs", "rows_per_epoch")
    out = {("lm_" + k if k in prefixed else k): stats[k] for k in keep if k in stats}
    out.update({k: v for k, v in stats.items() if k.startswith("pretrain_")})
    return lm, out, hit


def _names_codec(codec: RowCodec) -> RowCodec:
    """``codec`` writing class labels as names. The pretraining text always does, so the
    published mode (class codes in the method's own text) fine-tunes from the same backbone
    as the corrected mode: one pretraining per (split, seed, number form) instead of two,
    and no second backbone behind the published-vs-corrected comparison. Done here, not in
    :mod:`imbllm.llm.pretrain`, whose source is part of every cache key: editing it would
    retrain every cached backbone, the corrected grid's included."""
    return RowCodec(codec.features, codec.numeric, codec.category_text, codec.target,
                    codec.classes, label_format="name", number_format=codec.number_format)


def cache_key_parts(plan: Plan, config, tune, start: str) -> dict:
    """What decides the fine-tuned model. The prompt and label switches act after
    fine-tuning, so methods differing only there (e.g. ``imbllm_no_feature_prompt``) share a
    model; ``start`` is the pretrained backbone's key (or how it starts). ``device`` and
    ``lora`` select the setup :func:`imbllm.llm.model.cache.model_cache_key` adds (device kind,
    threads, library versions), whether or not the backbone was pretrained."""
    from imbllm.llm.pretrain import texts_digest

    texts = plan.training_texts(0)
    train = asdict(tune)
    return {
        "stage": "finetune",
        "training_texts": texts_digest(texts),
        "n_texts": len(texts),
        "switches": {k: v for k, v in plan.switches.items() if k not in ("prompt", "label")},
        "backbone": {k: v for k, v in asdict(config).items() if k != "device"},
        "budget": training_keys(train),
        "start": start,
        "seed": plan.seed,
        "device": config.device,
        "lora": bool(config.lora),
        "precision": config.precision,
    }
