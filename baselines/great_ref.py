"""GReaT as its authors' package runs it (``be_great``), on the harness's compact backbone.

A peer check of the harness's ``great`` recipe, not a method of the comparison: the same
backbone (the compact GPT-2 built by :meth:`imbllm.llm.model.backbone.LanguageModel.build`,
its byte-level BPE trained on the rows as be_great writes them, "<column> is <value>, ..."),
saved as a Hugging Face folder, fine-tuned and sampled by ``be_great.GReaT`` offline. It runs
from random weights, so it is the peer of ``great`` without the pretraining stage
(``llm.pretrain=none``, the ``paper_llm`` experiment): the same optimiser steps (``budget.epochs``
epochs of at most ``budget.max_rows_per_epoch`` rows, capped by ``max_steps``), learning rate
(``budget.scratch_learning_rate``), batch, warm-up and weight decay; be_great's own
sampling (legacy: prompted with "<target> is <minority>,", every column in random order).

be_great samples until it has the rows asked for, dropping rows that leave a column out
(``drop_nan=True``), and stops when 14 batches give no row, returning fewer. It does not know
which values are valid: rows whose label is not the minority, or whose value was never seen
(fuel's MODEL column takes a new model name in 163 of 241 rows, seed 0) or is no number, are
rejected here and asked for again, up to ``patience`` times the rows to make. The rows
made are kept and the gap is recorded (``shortfall``), as the harness's TapTap does.
Needs the ``modern`` extra (``be-great``) and the ``llm`` one.
"""

from __future__ import annotations

import contextlib
import logging
import math
import random
import tempfile
import time
from numbers import Integral, Real
from pathlib import Path

import numpy as np
import pandas as pd
from sklearn.utils._param_validation import Interval

from baselines.forests import _int_seed
from imbllm.base import BaseOversampler, Generated
from imbllm.optional import require

log = logging.getLogger(__name__)


def _serialise(table: pd.DataFrame) -> list[str]:
    """The rows as be_great's dataset writes them (its tokenizer corpus here)."""
    cols = list(table.columns)
    return [", ".join(f"{c} is {str(v).strip()}" for c, v in zip(cols, row, strict=True))
            for row in table.itertuples(index=False)]


@contextlib.contextmanager
def _python_seed(seed: int):
    """Python's global ``random`` (be_great draws its start words from it) seeded inside,
    the caller's state restored after."""
    state = random.getstate()
    random.seed(seed)
    try:
        yield
    finally:
        random.setstate(state)


class GReaTRef(BaseOversampler):
    """be_great's GReaT on the compact backbone (see the module docstring).

    Parameters
    ----------
    llm, budget : dict
        The run's ``llm`` and ``budget`` groups (:class:`imbllm.llm.model.config.LLMConfig`
        and ``Budget`` keys), as the harness's LLM methods take them.
    temperature : float
        Sampling temperature (0.7, as ``great``).
    k : int
        Prompts per sampling batch (be_great's ``k``; the harness's ``budget.gen_batch_size``).
    patience : float
        At most ``patience * n`` rows drawn from be_great for ``n`` valid rows (5.0, the
        harness's ``great``).
    max_length : int or None
        Tokens per sampled row, prompt included; None: the backbone's positions.
    cache_dir : str or None
        Folder for the backbone and be_great's trainer files; None: a temporary folder,
        removed after the run.
    progress : bool
        Unused by be_great (it always draws its bars); kept so the LLM methods' settings apply.
    """

    _parameter_constraints = {
        **BaseOversampler._parameter_constraints,
        "llm": [dict, None], "budget": [dict, None],
        "temperature": [Interval(Real, 0, None, closed="neither")],
        "k": [Interval(Integral, 1, None, closed="left")],
        "patience": [Interval(Real, 0, None, closed="neither")],
        "max_length": [Interval(Integral, 8, None, closed="left"), None],
        "cache_dir": [str, None], "progress": ["boolean"],
    }

    def __init__(self, llm=None, budget=None, temperature=0.7, k=100, patience=5.0,
                 max_length=None, cache_dir=None, progress=True, categorical_features="auto",
                 random_state=None):
        self.llm = llm
        self.budget = budget
        self.temperature = temperature
        self.k = k
        self.patience = patience
        self.max_length = max_length
        self.cache_dir = cache_dir
        self.progress = progress
        self.categorical_features = categorical_features
        self.random_state = random_state

    def _generate(self, X, y, n):
        target = str(y.name) if y.name is not None else "target"
        table = X.assign(**{target: y.to_numpy()})
        seed = _int_seed(self.random_state)
        with contextlib.ExitStack() as stack:
            work = Path(self.cache_dir) if self.cache_dir else Path(
                stack.enter_context(tempfile.TemporaryDirectory(prefix="great_ref_")))
            great, fit_seconds = self._fit(table, work, seed)
            t0 = time.perf_counter()
            new, rejected = self._refill(great, X, y, target, n, seed)
            sample_seconds = time.perf_counter() - t0
        extra = {"shortfall": n - len(new), **{f"rejected_{k}": v for k, v in rejected.items()}}
        labels = pd.Series([self.minority_class_] * len(new), name=y.name, dtype=y.dtype)
        return Generated(X=new, y=labels, n_rejected=sum(rejected.values()), extra=extra,
                         fit_seconds=fit_seconds, sample_seconds=sample_seconds,
                         tags={"peer": "be_great " + _version("be-great")})

    def _refill(self, great, X, y, target: str, n: int, seed: int):
        """Valid rows up to ``n``: be_great returns as many rows as asked, valid here or not,
        so the rows still missing are asked for again (a new seed each round) until
        ``patience * n`` rows were drawn or be_great gives up (14 batches without a row), as
        the harness's ``great`` refills. Returns the rows and the rejections by reason."""
        kept, rejected, drawn, rounds = [], {}, 0, 0
        while (need := n - sum(map(len, kept))) > 0 and drawn < self.patience * n:
            raw = self._sample(great, target, need, seed + rounds)
            rounds += 1
            if raw.empty:
                break
            drawn += len(raw)
            new, why = self._valid(raw, X, y, target)
            kept.append(new.head(need))
            rejected = {k: rejected.get(k, 0) + v for k, v in why.items()}
        new = pd.concat(kept, ignore_index=True) if kept else X.iloc[:0]
        return new, rejected

    def _fit(self, table: pd.DataFrame, work: Path, seed: int):
        require("transformers", "llm", "great_ref")
        be_great = require("be_great", "modern", "great_ref")
        from imbllm.llm.model.backbone import Budget, LanguageModel, LLMConfig

        config = LLMConfig.from_dict(self.llm or {})
        budget = Budget.from_dict(self.budget or {})
        t0 = time.perf_counter()
        LanguageModel.build(config, _serialise(table), seed=seed).save(work / "backbone")
        # The harness's optimiser steps: epochs of at most max_rows_per_epoch rows.
        rows = min(len(table), budget.max_rows_per_epoch or len(table))
        steps = budget.epochs * math.ceil(rows / budget.batch_size)
        great = be_great.GReaT(
            llm=str(work / "backbone"), experiment_dir=str(work / "trainer"),
            epochs=budget.epochs, batch_size=budget.batch_size, max_steps=steps,
            learning_rate=budget.scratch_learning_rate or budget.learning_rate, warmup_steps=math.ceil(budget.warmup_ratio * steps),
            weight_decay=budget.weight_decay, save_strategy="no", seed=seed, data_seed=seed,
            use_cpu=config.device == "cpu")
        great.fit(table, conditional_col=table.columns[-1])
        return great, time.perf_counter() - t0

    def _sample(self, great, target: str, n: int, seed: int) -> pd.DataFrame:
        if n <= 0:
            return pd.DataFrame(columns=great.columns)
        from imbllm.llm.model.device import scoped_seed

        device = next(great.model.parameters()).device
        length = self.max_length or int(great.model.config.n_positions)
        with _python_seed(seed), scoped_seed(seed, device):
            return great.sample(n, start_col=target,
                                start_col_dist={str(self.minority_class_): 1.0},
                                temperature=self.temperature, k=self.k, max_length=length,
                                drop_nan=True, device=str(device))

    def _valid(self, raw: pd.DataFrame, X, y, target):
        """Rows of the minority with every category seen and every number parsed, and the
        count of each reason a row was rejected."""
        rejected = {}
        labels = raw[target].astype(str).str.strip() if len(raw) else raw.get(target)
        keep = (labels == str(self.minority_class_)).to_numpy() if len(raw) else np.zeros(0, bool)
        rejected["label_not_minority"] = int((~keep).sum())
        out = raw[keep].drop(columns=[target]).reset_index(drop=True)
        ok = np.ones(len(out), dtype=bool)
        for c in X.columns:
            if c in self.schema_.categorical:
                seen = {str(v): v for v in self.schema_.categories[c]}
                text = out[c].astype(str).str.strip()
                ok &= text.isin(list(seen)).to_numpy()
                out[c] = text.map(seen)
            else:
                out[c] = pd.to_numeric(out[c], errors="coerce")
                ok &= np.isfinite(out[c].to_numpy(dtype=float))
        rejected["unseen_value"] = int((~ok).sum())
        return out[ok].reset_index(drop=True)[list(X.columns)], rejected


def _version(distribution: str) -> str:
    from imbllm.provenance import version

    return version(distribution)
