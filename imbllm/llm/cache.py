"""A content-keyed disk cache of fine-tuned models.

Fine-tuning dominates an LLM run; the classifier, the protocol mode and the metrics do not
change the generator. The engine keys a model by everything that does (training texts,
strategies, backbone, budget, seed) and :func:`cached_finetune` trains it once::

    key = model_cache_key(texts_sha256=..., strategies=..., llm=asdict(cfg), budget=asdict(b), seed=0)
    lm, hit = cached_finetune("results/cache/models", key, lambda: train_my_model())

A model is written to a temporary folder beside its final place and renamed into place in one
step, so a run killed while saving leaves no half-written model behind.
"""

from __future__ import annotations

import dataclasses
import hashlib
import json
import logging
import os
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path

from imbllm.llm.backbone import LanguageModel

log = logging.getLogger(__name__)

#: Bump when the saved format or the training code changes what a key produces.
CACHE_VERSION = 1


def _canonical(value):
    """JSON-ready form with a stable order; refuses values it cannot write faithfully."""
    if dataclasses.is_dataclass(value) and not isinstance(value, type):
        return _canonical(dataclasses.asdict(value))
    if isinstance(value, dict):
        return {str(k): _canonical(v) for k, v in sorted(value.items(), key=lambda kv: str(kv[0]))}
    if isinstance(value, (list, tuple)):
        return [_canonical(v) for v in value]
    if isinstance(value, (str, bool, int, float)) or value is None:
        return value
    if hasattr(value, "item") and callable(value.item):  # numpy scalars
        return _canonical(value.item())
    if isinstance(value, Path):
        return str(value)
    raise TypeError(
        f"model_cache_key cannot encode a {type(value).__name__} ({value!r}); pass strings, "
        "numbers, lists, dicts or dataclasses (hash large data yourself and pass the digest)."
    )


def model_cache_key(**parts) -> str:
    """sha256 of a canonical JSON of ``parts`` (key order and dataclass/dict form do not matter)."""
    doc = json.dumps(
        {"cache_version": CACHE_VERSION, **_canonical(parts)},
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=True,
    )
    return hashlib.sha256(doc.encode()).hexdigest()


def cached_finetune(
    cache_dir: str | Path, key: str, build_and_train: Callable[[], LanguageModel]
) -> tuple[LanguageModel, bool]:
    """The model stored under ``key``, or ``build_and_train()`` saved there first.

    Returns ``(model, hit)``; ``hit`` is True when the model came from the cache.
    """
    if not key or any(c in key for c in "/\\."):
        raise ValueError(f"key={key!r} is not a cache key; build one with model_cache_key(...).")
    root = Path(cache_dir)
    final = root / key
    if final.is_dir():
        try:
            lm = LanguageModel.load(final)
        except Exception as err:  # a corrupt entry is rebuilt, not fatal
            log.warning("Cached model %s could not be read (%s); training it again.", final, err)
            shutil.rmtree(final, ignore_errors=True)
        else:
            log.info("Reusing the fine-tuned model cached at %s.", final)
            return lm, True
    lm = build_and_train()
    root.mkdir(parents=True, exist_ok=True)
    tmp = Path(tempfile.mkdtemp(prefix=f".{key[:16]}-", dir=root))
    try:
        lm.save(tmp)
        try:
            os.rename(tmp, final)
        except OSError:
            # Another run stored the same key meanwhile: same content by construction.
            if not final.is_dir():
                raise
            log.info("Model %s was cached by another run meanwhile; keeping that copy.", key[:16])
    finally:
        if tmp.exists():
            shutil.rmtree(tmp, ignore_errors=True)
    return lm, False
