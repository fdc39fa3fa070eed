"""The model half of the engine's fit: resolve the backbone and the budget, pretrain, fine-tune.

:class:`EngineModelMixin` turns the constructor's ``llm``/``llm_config`` and ``budget`` (plus
the single budget arguments, which win) into an :class:`imbllm.llm.config.LLMConfig` and a
:class:`imbllm.llm.config.Budget`, then obtains the fine-tuned model: from the model cache, or
by pretraining the backbone on the whole training split (:mod:`imbllm.llm.pretrain`, itself
cached) and fine-tuning it on the method's sentences.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import asdict, fields, is_dataclass
from pathlib import Path

import pandas as pd

from imbllm.llm import labels as lab
from imbllm.llm.config import TRAINING_KEYS
from imbllm.llm.decoding import check_binds

COMPACT = "compact"
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


class EngineModelMixin:
    """Backbone, budget and fine-tuning steps of :class:`imbllm.llm.engine.LLMOversampler`."""

    def _llm_config(self, LLMConfig):
        from imbllm.llm.pretrain import pretrain_mode

        llm = self.llm
        base = {"name_or_path": llm} if isinstance(llm, str) else _as_dict(llm, LLMConfig, "llm")
        cfg = _as_dict(self.llm_config, LLMConfig, "llm_config")
        name = base.get("name_or_path", COMPACT)
        if cfg.get("name_or_path", name) != name:
            raise ValueError(
                f"llm={name!r} but llm_config names name_or_path="
                f"{cfg['name_or_path']!r}; give the backbone once, through llm."
            )
        cfg = {**base, **cfg}
        # An explicit device argument wins over the config's.
        if self.device != "auto" or "device" not in cfg:
            cfg["device"] = self.device
        config = LLMConfig(**cfg)
        config.pretrain = pretrain_mode(config)
        return config

    def _budget(self, Budget, config):
        from imbllm.llm.config import check_budget

        values = _as_dict(self.budget, Budget, "budget")
        values.update({k: getattr(self, k) for k in BUDGET_ARGS if getattr(self, k) is not None})
        if "learning_rate" not in values:
            compact = config.name_or_path == COMPACT
            values["learning_rate"] = COMPACT_LEARNING_RATE if compact else PAPER_LEARNING_RATE
        budget = Budget(**values)
        check_budget(budget)
        return budget

    def _fit_language_model(self, X: pd.DataFrame, y: pd.Series) -> tuple[dict, bool]:
        """Pretrain (when configured) and fine-tune the model, or take it from the cache."""
        from imbllm.llm import engine as eng
        from imbllm.llm import pretrain as pre

        LanguageModel, _, Budget = eng.backbone_api()
        config = self.llm_config_
        budget = self._budget(Budget, config)
        tune = pre.finetune_budget(budget, config)
        texts = self.training_texts_
        stats: dict = {}
        start = "random" if config.name_or_path == COMPACT else "hub"
        if config.pretrain == "table":
            table = pre.table_texts(self.codec_, X.rename(columns=str), y, self.seed_)
            start = pre.pretrain_key(config, table, budget, self.seed_)
            stats.update(pretrain_seconds=0.0, pretrain_cache_hit=1.0)

        def build_and_train():
            if config.pretrain == "table":
                lm, pre_stats = pre.pretrained_backbone(
                    LanguageModel, config, table, budget, self.seed_, start,
                    self.cache_dir, self.progress,
                )
                stats.update(pre_stats)
            else:
                lm = LanguageModel.build(config, texts(0), seed=self.seed_)
            stats.update(lm.finetune(texts, tune, seed=self.seed_, progress=self.progress))
            return lm

        if self.cache_dir is None:
            self.lm_, hit = build_and_train(), False
        else:
            model_cache_key, cached_finetune = eng.cache_api()
            key = model_cache_key(**self._cache_key_parts(config, tune, start))
            self.lm_, hit = cached_finetune(
                Path(self.cache_dir), key, build_and_train, load=LanguageModel.load
            )
        check_binds(self.grammar_, self.lm_)
        self.budget_ = tune
        self.max_new_tokens_ = self._completion_length()
        self.value_tokens_ = self._value_length()
        self.name_columns_, self.name_open_value_ = self._column_naming()
        if self.switches_["label"] == "lm":
            answer = lab.longest_label_completion(self.codec_)
            self.label_tokens_ = len(self.lm_.tokenizer(answer)["input_ids"]) + 4
        keep = ("train_tokens", "fit_seconds", "train_tokens_per_second", "final_loss")
        out = {("lm_" + k if k == "fit_seconds" else k): stats[k] for k in keep if k in stats}
        out.update({k: v for k, v in stats.items() if k.startswith("pretrain_")})
        return out, hit

    def _cache_key_parts(self, config, budget, start: str) -> dict:
        """What decides the fine-tuned model. The prompt and label switches act after
        fine-tuning, so methods differing only there (e.g. ``imbllm_no_feature_prompt``)
        share a model; ``start`` is the pretrained backbone's key (or how it starts)."""
        from imbllm.llm.pretrain import texts_digest

        texts = self.training_texts_(0)
        train = asdict(budget)
        return {
            "stage": "finetune",
            "training_texts": texts_digest(texts),
            "n_texts": len(texts),
            "switches": {
                k: v for k, v in self.switches_.items() if k not in ("prompt", "label")
            },
            "backbone": {k: v for k, v in asdict(config).items() if k != "device"},
            "budget": {k: train[k] for k in TRAINING_KEYS},
            "start": start,
            "seed": self.seed_,
        }

    def _completion_length(self) -> int:
        """``max_new_tokens``, else the token count of the longest training sentences."""
        limit = max(8, int(self.lm_.max_length) - 16)
        if self.budget_.max_new_tokens is not None:
            return min(int(self.budget_.max_new_tokens), limit)
        texts = sorted(self.training_texts_(0), key=len)[-64:]
        longest = max(len(self.lm_.tokenizer(t)["input_ids"]) for t in texts)
        # A completion is never longer than a whole row; the margin covers tokenisation
        # differences between a prompt's end and a training sentence.
        return min(longest + 8, limit)
