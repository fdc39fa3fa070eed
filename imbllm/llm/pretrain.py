"""Pretraining: teach the backbone the whole table before a method fine-tunes it.

With ``llm.pretrain="table"`` the backbone is first trained with GReaT's recipe on every row of
the run's imbalanced training split: all classes, every column (target included), a fresh
random column order per row and epoch. The method's own fine-tuning then starts from weights
that already write the table's rows (method.md §5: german 0/512 -> 512/512 valid rows).

The pretrained backbone depends on the pretraining text, the backbone config, the pretraining
budget, the seed, the setup (thread count, device, library versions) and the training code,
not on the method: ImbLLM, its ablations, GReaT and Pred-LLM share one entry per (dataset
split, seed, text form), and a second method is a cache hit. The engine calls, in order::

    texts = table_texts(codec, X, y, seed)            # at fit, from the training split only
    key = pretrain_key(config, texts, budget, seed)   # part of the fine-tuned model's key
    lm, stats = pretrained_backbone(config, texts, budget, seed, key, cache_dir)
    lm.finetune(method_texts, finetune_budget(budget, config), seed)
"""

from __future__ import annotations

import hashlib
import logging
import time
from dataclasses import asdict, replace
from pathlib import Path

import pandas as pd

from imbllm.llm import model
from imbllm.llm.model.config import COMPACT, Budget, LLMConfig, training_keys
from imbllm.llm.text.serialize import RowCodec
from imbllm.llm.text.strategies import Block, TrainingTexts

log = logging.getLogger(__name__)

PRETRAIN_MODES = ("table", "none")
#: GReaT's permutation: every column, target included, shuffled per row and epoch.
TABLE_PERMUTATION = "shuffle_all"
#: Sub-folder of the model cache holding pretrained backbones.
PRETRAINED_DIR = "pretrained"


def pretrain_mode(config: LLMConfig) -> str:
    """``config.pretrain`` resolved: ``None`` means ``"table"`` for the compact backbone (it
    starts from random weights) and ``"none"`` for a hub or folder backbone."""
    mode = config.pretrain
    if mode is None:
        return "table" if config.name_or_path == COMPACT else "none"
    if mode not in PRETRAIN_MODES:
        raise ValueError(
            f"llm.pretrain={mode!r} is not one of {PRETRAIN_MODES}; use 'table' to train the "
            "backbone on the whole training split first, or 'none' to fine-tune it directly."
        )
    return mode


def table_texts(codec: RowCodec, X: pd.DataFrame, y: pd.Series, seed: int) -> TrainingTexts:
    """Every row of ``(X, y)`` (string column names, as the codec knows them) written with
    every column in a fresh random order per row and epoch."""
    return TrainingTexts([Block(codec.pieces(X, y), TABLE_PERMUTATION)], seed)


def texts_digest(texts: list[str]) -> str:
    """sha256 of the sentences, in order: what a model trained on them depends on."""
    return hashlib.sha256("\n".join(texts).encode("utf-8")).hexdigest()


def pretrain_budget(budget: Budget) -> Budget:
    """The budget the pretraining loop runs with (batching and weight decay shared with
    fine-tuning)."""
    return replace(
        budget,
        epochs=budget.pretrain_epochs,
        learning_rate=budget.pretrain_learning_rate,
        warmup_ratio=budget.pretrain_warmup_ratio,
        max_rows_per_epoch=budget.pretrain_max_rows_per_epoch,
        max_train_tokens=budget.pretrain_max_train_tokens,
    )


def finetune_budget(budget: Budget, config: LLMConfig) -> Budget:
    """The method's fine-tuning budget: ``scratch_learning_rate`` when the compact backbone
    starts from random weights, ``learning_rate`` otherwise."""
    scratch = config.name_or_path == COMPACT and pretrain_mode(config) == "none"
    if scratch and budget.scratch_learning_rate is not None:
        return replace(budget, learning_rate=budget.scratch_learning_rate)
    return budget


def pretrain_key(config: LLMConfig, texts: TrainingTexts, budget: Budget, seed: int) -> str:
    """Cache key of the pretrained backbone (the training code's digest and the setup, thread
    count included, are added by :func:`imbllm.llm.model.cache.model_cache_key`)."""
    from imbllm.llm.model.cache import model_cache_key

    first = texts(0)
    train = asdict(pretrain_budget(budget))
    return model_cache_key(
        stage="pretrain",
        recipe=TABLE_PERMUTATION,
        texts=texts_digest(first),
        n_texts=len(first),
        backbone={k: v for k, v in asdict(config).items() if k not in ("device", "pretrain")},
        budget=training_keys(train),
        seed=int(seed),
        device=config.device,
        lora=bool(config.lora),
        precision=config.precision,
    )


def pretrained_backbone(
    config: LLMConfig,
    texts: TrainingTexts,
    budget: Budget,
    seed: int,
    key: str,
    cache_dir: str | Path | None = None,
    progress: bool = True,
):
    """The backbone trained on ``texts`` by :func:`pretrain_budget`, from the cache when an
    entry ``key`` exists; built and trained once otherwise (a file lock makes concurrent
    workers wait for the one that trains).

    Returns ``(lm, stats)``: ``pretrain_seconds`` (spent here, loading included),
    ``pretrain_cache_hit`` (1.0 or 0.0), ``pretrain_tokens``, ``pretrain_final_loss``,
    ``pretrain_epochs_run``, ``pretrain_rows_per_epoch`` and ``pretrain_tokens_per_second``
    (the training loop's real tokens/s) (NaN on a hit).
    """
    LanguageModel = model.language_model()
    start = time.perf_counter()
    trained: dict = {}

    def build_and_train(checkpoint=None):
        lm = LanguageModel.build(config, texts(0), seed=seed)
        trained.update(lm.finetune(texts, pretrain_budget(budget), seed, progress, checkpoint,
                                   stage="pretrain"))
        return lm

    if cache_dir is None:
        lm, hit = build_and_train(), False
    else:
        from imbllm.llm.model.cache import cached_finetune

        root = Path(cache_dir) / PRETRAINED_DIR
        lm, hit = cached_finetune(root, key, build_and_train, load=LanguageModel.load,
                                  device=config.device)
    stats = {
        "pretrain_seconds": time.perf_counter() - start,
        "pretrain_cache_hit": float(hit),
        "pretrain_tokens": float(trained.get("train_tokens", 0)),
        "pretrain_final_loss": float(trained.get("final_loss", float("nan"))),
        "pretrain_epochs_run": float(trained.get("epochs", float("nan"))),
        "pretrain_rows_per_epoch": float(trained.get("rows_per_epoch", float("nan"))),
        "pretrain_tokens_per_second": float(trained.get("train_tokens_per_second", float("nan"))),
    }
    log.info(
        "Pretrained backbone %s (%s) in %.1f s.",
        key[:16],
        "cache hit" if hit else "trained",
        stats["pretrain_seconds"],
    )
    return lm, stats
