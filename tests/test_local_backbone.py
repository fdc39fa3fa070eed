"""The paper's backbone size end to end (slow): scripts/make_local_backbone.py's 82M folder
through the engine as ``llm.name_or_path``, with a tiny budget.

Constrained decoding makes every requested row valid, with full fine-tuning and with LoRA;
free decoding runs and counts its rejections; a fitted sampler saved and loaded draws the
same rows. About ten minutes on two CPU cores. The fast sibling, a tiny model over a
50k-token vocabulary, is tests/test_llm_large_vocab.py.
"""

from __future__ import annotations

import hashlib
import importlib.util
from pathlib import Path

import pandas as pd
import pytest

pytest.importorskip("torch")

from imbllm.llm.methods import ImbLLM  # noqa: E402

ROOT = Path(__file__).resolve().parents[1]
BUDGET = {"epochs": 1, "batch_size": 8, "learning_rate": 5e-5, "gen_batch_size": 32,
          "max_rows_per_epoch": 16}


def _make_module():
    spec = importlib.util.spec_from_file_location("make_local_backbone",
                                                  ROOT / "scripts" / "make_local_backbone.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def digest(X: pd.DataFrame, y: pd.Series) -> str:
    return hashlib.sha256((X.to_csv() + y.to_csv()).encode()).hexdigest()[:16]


def small_fuel(n_per_class: int = 40) -> tuple[pd.DataFrame, pd.Series]:
    """The fuel table's first rows of each class, the minority kept a minority."""
    from imbllm.data import load_dataset

    ds = load_dataset("fuel")
    y = ds.y.reset_index(drop=True)
    counts = y.value_counts()
    keep = sorted(y.index[y == counts.index[0]][:n_per_class].tolist()
                  + y.index[y == counts.index[-1]][: n_per_class // 3].tolist())
    return ds.X.iloc[keep].reset_index(drop=True), y.iloc[keep].reset_index(drop=True)


@pytest.fixture(scope="module")
def folder(tmp_path_factory):
    out = tmp_path_factory.mktemp("distilgpt2-local")
    made = _make_module().make(out, seed=0, max_mb=24.0)
    assert made["parameters"] > 80e6 and made["embedding_rows"] == 50257
    return out


def engine(folder, **kw):
    llm = {"name_or_path": str(folder), "lora": kw.pop("lora", False), "device": "cpu"}
    return ImbLLM(llm=llm, budget=BUDGET, progress=False, random_state=0, **kw)


@pytest.mark.slow
def test_folder_loads_as_a_hugging_face_model(folder):
    from transformers import AutoModelForCausalLM, AutoTokenizer

    tok = AutoTokenizer.from_pretrained(folder)
    model = AutoModelForCausalLM.from_pretrained(folder)
    assert model.config.n_layer == 6 and model.config.n_embd == 768
    assert model.get_input_embeddings().weight.shape[0] == 50257 >= len(tok)
    assert (folder / "model.safetensors").is_file()


@pytest.mark.slow
@pytest.mark.parametrize("lora", [False, True])
def test_constrained_rows_are_all_valid_and_survive_save_and_load(folder, tmp_path, lora):
    X, y = small_fuel()
    sampler = engine(folder, lora=lora, decoding="constrained", repair="strict")
    X_res, _ = sampler.fit_resample(X, y)
    n = sampler.sampling_strategy_[sampler.minority_class_]
    assert n > 0 and sampler.n_generated_ == n and len(X_res) == len(X) + n
    before = digest(*sampler.sample(12, random_state=1))
    sampler.save(tmp_path / "sampler")
    assert digest(*type(sampler).load(tmp_path / "sampler").sample(12, random_state=1)) == before


@pytest.mark.slow
def test_free_decoding_counts_its_rejections(folder):
    X, y = small_fuel()
    sampler = engine(folder, decoding="free", repair="strict", on_shortfall="record",
                     patience=2.0)
    sampler.fit_resample(X, y)
    n = sampler.sampling_strategy_[sampler.minority_class_]
    # Random weights write few rows the strict check keeps: the rest are counted, not hidden.
    assert sampler.n_rejected_ > 0 and sampler.n_generated_ <= n
