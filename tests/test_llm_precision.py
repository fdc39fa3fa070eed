"""``llm.precision``: bf16 autocast on the CPU when asked (imbllm/llm/model/backbone.py).

"auto" keeps today's behaviour (fp32 on the CPU, bf16 autocast on CUDA), "bf16" trains under
bf16 autocast on the CPU too (decoding there stays fp32, measured no faster), "fp32" never
autocasts. The precision is part of a model's
cache key, so a cache never serves a model trained in the other; under bf16 every row is still
valid, the same seed gives the same rows, and the decoder hands fp32 logits to the sampler.
"""

from __future__ import annotations

import hashlib

import numpy as np
import pandas as pd
import pytest

torch = pytest.importorskip("torch")
pytest.importorskip("transformers")

from imbllm.llm.methods import ImbLLM  # noqa: E402
from imbllm.llm.model.backbone import LanguageModel, LLMConfig  # noqa: E402
from imbllm.llm.model.cache import model_cache_key  # noqa: E402
from imbllm.llm.model.config import bf16_autocast  # noqa: E402
from imbllm.llm.model.decoders import GPT2Decoder  # noqa: E402
from imbllm.provenance import model_setup  # noqa: E402

TINY = {"n_layer": 1, "n_embd": 32, "n_head": 2}
ROWS = ["animal is cat, legs is 4", "animal is bird, legs is 2", "animal is snake, legs is 0"]


def test_a_bad_precision_names_its_key():
    with pytest.raises(ValueError, match="llm.precision"):
        LLMConfig(precision="half")


@pytest.mark.parametrize(("precision", "kind", "training", "decoding"), [
    ("auto", "cpu", False, False), ("auto", "cuda", True, True), ("bf16", "cpu", True, False),
    ("bf16", "cuda", True, True), ("fp32", "cpu", False, False), ("fp32", "cuda", False, False),
])
def test_which_runs_autocast(precision, kind, training, decoding):
    assert bf16_autocast(precision, kind, training=True) is training
    assert bf16_autocast(precision, kind, training=False) is decoding
    # The trained model's key names the number type it was trained in.
    dtype = model_setup(kind, False, precision)["dtype"]
    assert dtype == ("bfloat16-autocast" if training else "float32")


def test_the_cpu_trains_under_bf16_only_when_asked_and_keys_differ():
    lm = LanguageModel.build(LLMConfig(**TINY, device="cpu"), ROWS * 4, seed=0)
    for precision, on in (("auto", False), ("fp32", False), ("bf16", True)):
        lm.config = LLMConfig(**TINY, device="cpu", precision=precision)
        with lm.autocast(training=True):
            assert torch.is_autocast_enabled("cpu") is on
            logits = GPT2Decoder(lm.model).start(torch.tensor([[5, 6, 7]]),
                                                 torch.ones(1, 3, dtype=torch.long), 4)
        assert logits.dtype == torch.float32  # the sampler always gets fp32 logits
        with lm.autocast():  # decoding
            assert not torch.is_autocast_enabled("cpu")
    keys = {p: model_cache_key(device="cpu", precision=p, stage="x") for p in ("auto", "bf16")}
    assert keys["auto"] != keys["bf16"]
    assert keys["auto"] == model_cache_key(device="cpu", stage="x")  # "auto" is the default


def test_bf16_on_the_cpu_writes_valid_rows_and_repeats_with_the_seed():
    rng = np.random.default_rng(0)
    n = 240
    X = pd.DataFrame({"age": rng.integers(18, 80, n), "colour": rng.choice(["red", "blue"], n)})
    y = pd.Series(["yes"] * 30 + ["no"] * (n - 30))
    out = []
    for _ in range(2):
        s = ImbLLM(llm_config={**TINY, "precision": "bf16"}, budget={"epochs": 2, "pretrain_epochs": 1},
                   progress=False, random_state=0)
        Xr, _ = s.fit_resample(X, y)
        t = s.telemetry()
        assert t["n_generated"] == t["n_requested"] == 180  # every asked row made, valid
        out.append(hashlib.sha256(Xr.to_csv().encode()).hexdigest())
    assert out[0] == out[1]


@pytest.mark.parametrize("has_units", [False, True])
def test_bf16_on_a_cpu_without_bf16_units_is_warned_of(monkeypatch, caplog, has_units):
    import imbllm.llm.model.backbone as backbone

    monkeypatch.setattr(backbone, "cpu_has_bf16", lambda: has_units)
    with caplog.at_level("WARNING", logger=backbone.log.name):
        LanguageModel.build(LLMConfig(**TINY, device="cpu", precision="bf16"), ROWS * 4, seed=0)
        LanguageModel.build(LLMConfig(**TINY, device="cpu"), ROWS * 4, seed=0)
    warned = [r.getMessage() for r in caplog.records if "without bf16 units" in r.getMessage()]
    assert len(warned) == (0 if has_units else 1)
    if warned:
        assert "use llm.precision=auto" in warned[0]
