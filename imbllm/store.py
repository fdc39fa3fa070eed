"""One content-addressed store for what a run can reuse: oversampled training sets.

An entry's address hashes everything that decides it: the sampler's configuration (without
cache folders or progress bars), the categorical columns it was told about, the seed, the
content of its input frames, a digest of the oversamplers' source code, so editing a
sampler never serves rows made by the old code, and the setup of the method's family
(:func:`imbllm.provenance.sampler_setup`: scikit-learn's and imbalanced-learn's versions,
threads and BLAS kernel for SMOTE and its kin, the torch side for the deep and LLM methods),
so a set made under other library versions or on another device is never served either. A
CTGAN or LLM run is then paid once per (data, sampler, seed), not once per classifier or
protocol that shares it. (Fine-tuned language models are the engine's to cache, under
``<paths.cache>/models``.)

Writes go to a unique temporary file in the same folder, then an atomic rename: two workers
writing one entry, or a worker killed mid-write, never leave a half entry behind.
"""

from __future__ import annotations

import hashlib
import json
import os
import tempfile
from functools import lru_cache
from pathlib import Path

import joblib
import pandas as pd

from imbllm.provenance import sampler_setup

#: Code whose change must invalidate stored sets (the samplers and what they use).
_CODE_PATHS = ("imbllm/base.py", "imbllm/schema.py", "imbllm/llm", "baselines")


def frame_digest(*frames: pd.DataFrame | pd.Series) -> str:
    """Content hash of frames (values, columns, dtypes): part of an address."""
    h = hashlib.sha256()
    for f in frames:
        h.update(pd.util.hash_pandas_object(f, index=False).to_numpy().tobytes())
        if isinstance(f, pd.DataFrame):
            meta = (list(f.columns), [str(t) for t in f.dtypes])
        else:
            meta = ([f.name], [str(f.dtype)])
        h.update(repr(meta).encode())
    return h.hexdigest()


@lru_cache(maxsize=1)
def code_digest() -> str:
    """Hash of the oversamplers' source: a set made by older code is never reused."""
    root = Path(__file__).resolve().parents[1]
    h = hashlib.sha256()
    for rel in _CODE_PATHS:
        p = root / rel
        for f in sorted(p.rglob("*.py")) if p.is_dir() else [p]:
            h.update(str(f.relative_to(root)).encode())
            h.update(f.read_bytes())
    return h.hexdigest()[:16]


class ResampleStore:
    """Oversampled training sets on disk under ``<root>/resample``, by content address."""

    def __init__(self, root: str | Path):
        self.root = Path(root)

    @staticmethod
    def address(
        sampler_config: str, categorical: list[str], seed: int, X, y, family: str | None = None
    ) -> str:
        """The address of the set a sampler of method family ``family`` makes from ``(X, y)``
        (``None``: every family's libraries, a stricter key)."""
        setup = json.dumps(sampler_setup(family), sort_keys=True)
        text = f"{sampler_config}|{categorical}|{seed}|{frame_digest(X, y)}|{code_digest()}|{setup}"
        return hashlib.sha256(text.encode()).hexdigest()[:32]

    def _path(self, key: str) -> Path:
        return self.root / "resample" / f"{key}.joblib"

    def get(self, key: str):
        p = self._path(key)
        return joblib.load(p) if p.exists() else None

    def put(self, key: str, value) -> None:
        p = self._path(key)
        p.parent.mkdir(parents=True, exist_ok=True)
        fd, tmp = tempfile.mkstemp(dir=p.parent, prefix=f".{key}.", suffix=".tmp")
        try:
            with os.fdopen(fd, "wb") as fh:
                joblib.dump(value, fh)
            os.replace(tmp, p)
        except BaseException:
            Path(tmp).unlink(missing_ok=True)
            raise
