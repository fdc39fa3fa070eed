"""A content-keyed disk cache of trained models (pretrained backbones and fine-tuned ones).

Training dominates an LLM run; the classifier, the protocol mode and the metrics do not
change the generator. The engine keys a model by everything that does (training texts,
strategies, backbone, budget, seed) and :func:`cached_finetune` trains it once::

    key = model_cache_key(texts_sha256=..., llm=asdict(cfg), budget=asdict(b), seed=0, device="cpu")
    lm, hit = cached_finetune("results/cache/models", key, train_my_model, device="cpu")

Every key also holds a digest of the source of the modules that decide what training
produces (:data:`TRAINING_MODULES`), so a change to that code misses instead of reusing a
model it would no longer make, and the setup of :func:`imbllm.provenance.model_setup`
(library versions, device kind and number type, CPU threads and BLAS kernel): a model
trained under another setup is a miss, never a hit. A hit loads onto the run's device,
whatever device saved it. Only an entry that cannot be read (a torn or missing file) is a
miss; it is moved aside (``.<key>.unreadable``) and trained again. Any other error while
loading stops the run and leaves the entry where it is.

A model is written to a temporary folder beside its final place and renamed into place in
one step, so a run killed while saving leaves no half-written model behind; a file lock per
key makes concurrent workers that need the same entry wait for the one that trains it.

A fine-tuned model of distilgpt2's size takes 316 MB, so a grid on it would fill a disk (600
runs: ~190 GB). :func:`prune` keeps a cache within a byte budget, dropping the models used
least recently (a hit marks its entry used); ``paths.cache_max_gb`` has every run prune the
cache after it ends, and ``scripts/prune_cache.py`` prunes by hand.
"""

from __future__ import annotations

import dataclasses
import hashlib
import importlib.util
import json
import logging
import os
import re
import shutil
import tempfile
from collections.abc import Callable
from pathlib import Path
from typing import Any

from safetensors import SafetensorError

from imbllm.provenance import model_setup

log = logging.getLogger(__name__)

#: What loading a torn, truncated or missing file raises (OSError for a missing file and for
#: transformers' unreadable config.json; the JSON, text and safetensors decode errors): an
#: unreadable entry, trained again. Nothing broader: an entry that fails to load for another
#: reason (a device this host lacks, a bug) is kept and the error stops the run.
READ_ERRORS = (OSError, json.JSONDecodeError, UnicodeDecodeError, SafetensorError)

#: Modules whose source decides the model a key produces: the tokenizer and architecture
#: (backbone), the settings, the training loop, the text form and orders, the pretraining.
#: Names, not imports: the model room reads their source, it never imports the text room.
TRAINING_MODULES = (
    "imbllm.llm.model.backbone",
    "imbllm.llm.model.tokenizer",
    "imbllm.llm.model.config",
    "imbllm.llm.model.device",
    "imbllm.llm.model.train",
    "imbllm.llm.text.serialize",
    "imbllm.llm.text.strategies",
    "imbllm.llm.pretrain",
)
#: A trained model as the cache sees it (:class:`imbllm.llm.model.backbone.LanguageModel`):
#: anything with ``save(path)``.
Model = Any


def training_code_digest(modules: tuple[str, ...] = TRAINING_MODULES) -> str:
    """sha256 over the source files of ``modules``, in order."""
    h = hashlib.sha256()
    for name in modules:
        spec = importlib.util.find_spec(name)
        if spec is None or spec.origin is None:
            raise ValueError(f"training module {name!r} has no source file to digest.")
        h.update(name.encode() + b"\0" + Path(spec.origin).read_bytes() + b"\0")
    return h.hexdigest()


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


def model_cache_key(*, device: str = "auto", lora: bool = False, precision: str = "auto",
                    **parts) -> str:
    """sha256 of a canonical JSON of ``parts`` (key order and dataclass/dict form do not
    matter), the training code's digest and the setup of a run on ``device`` (with peft's
    version when ``lora``: :func:`imbllm.provenance.model_setup`)."""
    doc = json.dumps(
        {
            "training_code": training_code_digest(),
            "setup": model_setup(device, bool(lora), precision),
            **_canonical(parts),
        },
        sort_keys=True,
        separators=(",", ":"),
        ensure_ascii=True,
        allow_nan=True,
    )
    return hashlib.sha256(doc.encode()).hexdigest()


def _cached(final: Path, load: Callable[[Path], Model], *, set_aside: bool) -> Model | None:
    """The entry at ``final``, or None when there is none or it cannot be read. Only under the
    key's lock (``set_aside``) is an unreadable entry moved aside: a worker outside it could
    otherwise move the good entry another worker has just stored in its place."""
    if not final.is_dir():
        return None
    try:
        lm = load(final)
    except READ_ERRORS as err:
        if not set_aside:
            return None
        aside = final.with_name(f".{final.name}.unreadable")
        shutil.rmtree(aside, ignore_errors=True)
        os.rename(final, aside)
        log.warning(
            "Cached model %s could not be read (%s: %s); moved it to %s and training it again.",
            final, type(err).__name__, str(err).splitlines()[0] if str(err) else "", aside,
        )
        return None
    log.info("Reusing the model cached at %s.", final)
    try:
        os.utime(final)  # its last use, for prune
    except OSError:  # pruned meanwhile: the model is loaded already
        pass
    return lm


def cached_finetune(
    cache_dir: str | Path,
    key: str,
    build_and_train: Callable[..., Model],
    load: Callable[..., Model] | None = None,
    device: str | None = None,
) -> tuple[Model, bool]:
    """The model stored under ``key``, or ``build_and_train(checkpoint)`` saved there first.

    Returns ``(model, hit)``; ``hit`` is True when the model came from the cache. ``load``
    reads an entry as ``load(path, device=device)`` (default: :meth:`LanguageModel.load`,
    looked up only then): pass the run's device, so that a hit lands where the run computes, not where the entry
    was trained. Workers asking for the same missing key at once train it once: the others
    wait on the key's lock file and then load it.
    ``checkpoint`` is the key's training state beside the entry (``.<key>.partial``, a
    :class:`imbllm.llm.model.checkpoint.TrainingCheckpoint`): pass
    it to the training loop, and a worker killed mid-training leaves its last epoch there for
    the next one; it is removed once the model is stored.
    """
    from filelock import FileLock

    from imbllm.llm.model.checkpoint import TrainingCheckpoint

    if not key or any(c in key for c in "/\\."):
        raise ValueError(f"key={key!r} is not a cache key; build one with model_cache_key(...).")
    if load is None:
        from imbllm.llm.model import language_model

        load = language_model().load

    def read(path: Path) -> Model:
        return load(path, device=device)

    root = Path(cache_dir)
    final = root / key
    lm = _cached(final, read, set_aside=False)
    if lm is not None:
        return lm, True
    root.mkdir(parents=True, exist_ok=True)
    with FileLock(str(root / f".{key}.lock")):
        # Another worker may have stored it while this one waited for the lock.
        lm = _cached(final, read, set_aside=True)
        if lm is not None:
            return lm, True
        checkpoint = TrainingCheckpoint(root / f".{key}.partial")
        lm = build_and_train(checkpoint)
        _store(lm, root, key)
        checkpoint.clear()
    return lm, False


def _store(lm: Model, root: Path, key: str) -> None:
    final = root / key
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


#: A stored model's folder name: its key (a sha256).
_KEY = re.compile(r"[0-9a-f]{64}")


def _bytes(path: Path) -> int:
    return sum(f.stat().st_size for f in path.rglob("*") if f.is_file())


def _entries(root: Path) -> list[Path]:
    """Stored models under ``root`` (folders named by a key, at its top or one folder down,
    where the pretrained backbones are) and entries set aside as unreadable."""
    found = []
    for parent in [root, *(p for p in root.iterdir() if p.is_dir() and not p.name.startswith("."))]:
        for p in parent.iterdir():
            name = p.name.removeprefix(".").removesuffix(".unreadable")
            if p.is_dir() and _KEY.fullmatch(name):
                found.append(p)
    return found


def prune(cache_dir: str | Path, max_bytes: int) -> dict:
    """Remove stored models, least recently used first (entries set aside as unreadable
    before any), until those left hold at most ``max_bytes``; what it did, in counts and bytes.

    Safe beside running workers: an entry is removed only under its key's lock (an entry being
    trained or stored is skipped and counted ``busy``), renamed aside before it is deleted, so
    a worker loading it without the lock finds it whole or not at all and then trains it again.
    Training checkpoints (``.<key>.partial``) are never removed.
    """
    from filelock import FileLock, Timeout

    root = Path(cache_dir)
    if max_bytes < 0:
        raise ValueError(f"max_bytes={max_bytes!r} must be at least 0.")
    sizes, used = {}, {}
    for path in _entries(root) if root.is_dir() else []:
        try:
            sizes[path], used[path] = _bytes(path), path.stat().st_mtime
        except OSError:  # removed meanwhile
            continue
    before = total = sum(sizes.values())
    removed = busy = 0
    order = sorted(sizes, key=lambda p: (not p.name.endswith(".unreadable"), used[p]))
    for path in order:
        if total <= max_bytes:
            break
        key = path.name.removeprefix(".").removesuffix(".unreadable")
        lock = FileLock(str(path.parent / f".{key}.lock"))
        try:
            lock.acquire(timeout=0)
        except Timeout:
            busy += 1
            continue
        try:
            if not path.is_dir():  # another prune took it
                total -= sizes[path]
                continue
            aside = path.with_name(f".{key}.pruned-{os.getpid()}")
            os.rename(path, aside)
            shutil.rmtree(aside, ignore_errors=True)
            total -= sizes[path]
            removed += 1
        finally:
            lock.release()
    if removed:
        log.info("Pruned %d cached models (%.0f MB -> %.0f MB, budget %.0f MB).", removed,
                 before / 1e6, total / 1e6, max_bytes / 1e6)
    return {"bytes_before": before, "bytes_after": total, "removed": removed,
            "kept": len(sizes) - removed, "busy": busy}
