"""Every sampler's arguments, and the ``llm.*`` and ``budget.*`` keys, are checked at one door
before a run opens: one sentence naming the key as the user typed it, the value and the fix,
exit code 2, no run in the store. ``fit_resample`` raises the same sentences from Python.

The battery composes each command's configuration and calls :func:`imbllm.cli.build` (what the
entry point calls first) in this process; ``build_error`` also asserts that the tracking
database was never created.
"""

import numpy as np
import pandas as pd
import pytest
from test_config_errors import bench, build_error

from baselines.classical import ADASYN, SMOTE, SMOTENC
from imbllm.base import ParameterError

FUEL = ["dataset=fuel"]
LLM = ["budget=smoke"]
LIMIT = "is not valid: must be an int in the range [1, inf)"

CASES = [
    # The commands.
    (["method=imbllm", *LLM, "method.sampler.temperature=0"],
     "method.sampler.temperature=0 is not valid: must be a float in the range (0.0, inf)"),
    (["method=imbllm", *LLM, "method.sampler.repair=foo"],
     "method.sampler.repair='foo' is not valid: must be a str among"),
    (["method=imbllm", *LLM, "method.sampler.top_k=-1"], f"method.sampler.top_k=-1 {LIMIT}"),
    (["method=imbllm", *LLM, "method.sampler.decoding=greedy"],
     "method.sampler.decoding='greedy' is not valid: must be None or a str among"),
    (["method=smote", "method.sampler.k_neighbors=5000"],
     "method.sampler.k_neighbors=5000 is not valid: SMOTE interpolates between a row and its "
     "k_neighbors nearest rows of its class, and class 'high' has 45 training rows; use "
     "k_neighbors <= 44 (the default is 5)"),
    # Classical: what the training split decides, and the declared constraints.
    (["method=smote_nc", "method.sampler.k_neighbors=45"],
     "method.sampler.k_neighbors=45 is not valid: SMOTENC interpolates"),
    (["method=adasyn", "method.sampler.n_neighbors=300"],
     "method.sampler.n_neighbors=300 is not valid: ADASYN interpolates"),
    (["method=random", "method.sampler.sampling_strategy=all"],
     "method.sampler.sampling_strategy='all' is not valid: must be a str among"),
    (["method=smote_nc", "method.sampler.random_state=-1"], "method.sampler.random_state=-1 is not valid"),
    # Deep.
    (["method=ctgan", "method.sampler.batch_size=0"], f"method.sampler.batch_size=0 {LIMIT}"),
    (["method=tvae", "method.sampler.epochs=-1"], f"method.sampler.epochs=-1 {LIMIT}"),
    # The LLM methods: sampler arguments, and the top-level keys they are interpolated from.
    (["method=great", *LLM, "method.sampler.patience=0.5"],
     "method.sampler.patience=0.5 is not valid: must be None or a float in the range [1.0, inf)"),
    (["method=taptap", *LLM, "method.sampler.on_shortfall=bad"],
     "method.sampler.on_shortfall='bad' is not valid: must be None or a str among"),
    (["method=pred_llm", *LLM, "llm_on_shortfall=maybe"],
     "llm_on_shortfall='maybe' is not valid: must be None or a str among"),
    (["method=pred_llm", *LLM, "method.sampler.max_continuations=-1"],
     "method.sampler.max_continuations=-1 is not valid: must be an int in the range [0, inf)"),
    (["method=imbllm", *LLM, "method.interpolation_ratio=-1"],
     "method.interpolation_ratio=-1 is not valid: must be a float in the range [0.0, inf)"),
    (["method=great", *LLM, "protocol.llm.repair=lenient"], "protocol.llm.repair='lenient' is not valid"),
    (["method=imbllm", *LLM, "protocol.llm.label_format=int"], "protocol.llm.label_format='int' is not valid"),
    # budget.*
    (["method=imbllm", "budget.epochs=0"], f"budget.epochs=0 {LIMIT}"),
    (["method=great", "budget.batch_size=-4"], f"budget.batch_size=-4 {LIMIT}"),
    (["method=imbllm", "budget.learning_rate=0"],
     "budget.learning_rate=0 is not valid: must be a float in the range (0.0, inf)"),
    (["method=taptap", "budget.warmup_ratio=1.0"],
     "budget.warmup_ratio=1.0 is not valid: must be a float in the range [0.0, 1.0)"),
    (["method=pred_llm", "budget.pretrain_epochs=0"], f"budget.pretrain_epochs=0 {LIMIT}"),
    # llm.*
    (["method=imbllm", "llm.n_head=3"],
     "llm.n_head=3 is not valid: llm.n_embd=128 is not a multiple of llm.n_head=3"),
    (["method=great", "llm.device=cuda:7"], "llm.device='cuda:7' is not valid: this host has"),
    (["method=taptap", "llm.tokenizer_split=bytes"], "llm.tokenizer_split='bytes' is not valid: must be a str among"),
    (["method=imbllm", "llm.lora_dropout=1.5"], "llm.lora_dropout=1.5 is not valid"),
    (["method=great", "llm.dropout=-0.1"], "llm.dropout=-0.1 is not valid"),
    (["method=imbllm", "llm.pretrain=twice"], "llm.pretrain='twice' is not valid: must be None or a str among"),
]


@pytest.mark.parametrize("args, message", CASES, ids=[" ".join(a) for a, _ in CASES])
def test_bad_argument_is_one_sentence_naming_the_key(args, message, tmp_path, mirror_dir):
    assert message in build_error(FUEL + args + [f"data.dir={mirror_dir}"], tmp_path)


def test_a_hub_id_that_cannot_be_read_offline(tmp_path, mirror_dir, monkeypatch):
    from huggingface_hub import constants

    monkeypatch.setattr(constants, "HF_HUB_CACHE", str(tmp_path / "hf"))  # an empty cache
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    err = build_error(FUEL + ["method=imbllm", "llm=distilgpt2", f"data.dir={mirror_dir}"], tmp_path)
    assert err.startswith("llm.name_or_path='distilgpt2' is not valid: it is neither a local folder "
                          "nor in the Hugging Face cache, and the hub cannot be reached (HF_HUB_OFFLINE is set)")
    (tmp_path / "empty").mkdir()
    err = build_error(FUEL + ["method=great", f"llm.name_or_path={tmp_path}/empty", f"data.dir={mirror_dir}"], tmp_path)
    assert f"the folder {tmp_path}/empty holds no config.json" in err


@pytest.mark.parametrize("args", [
    [*FUEL, "method=imbllm", *LLM, "method.sampler.temperature=0"],
    [*FUEL, "method=smote", "method.sampler.k_neighbors=5000"],
    ["-m", *FUEL, "method=standard,imbllm", *LLM, "budget.epochs=0"],  # a sweep: CheckSweep
])
def test_the_entry_point_exits_2_before_a_run_opens(args, tmp_path, capsys, mirror_dir):
    code, err = bench(args + [f"data.dir={mirror_dir}"], tmp_path, capsys)  # asserts: no store
    assert code == 2 and err.count("\n") == 1 and err.startswith("imbllm-bench: ")
    assert "is not valid" in err and "Traceback" not in err


def _table(n_min=10, n_maj=30):
    rng = np.random.default_rng(0)
    n = n_min + n_maj
    X = pd.DataFrame({"age": rng.normal(40, 9, n), "bmi": rng.normal(25, 3, n),
                      "smoker": rng.choice(["yes", "no"], n)})
    return X, pd.Series(["yes"] * n_min + ["no"] * n_maj, name="label")


@pytest.mark.parametrize("cls, arg", [(SMOTE, "k_neighbors"), (SMOTENC, "k_neighbors"), (ADASYN, "n_neighbors")])
def test_fit_resample_raises_the_same_sentence(cls, arg):
    X, y = _table()
    cls(**{arg: 9}, random_state=0).fit_resample(X, y)  # 10 minority rows: 9 neighbours exist
    with pytest.raises(ParameterError) as err:
        cls(**{arg: 10}, random_state=0).fit_resample(X, y)
    assert str(err.value) == (
        f"{arg}=10 is not valid: {cls.__name__} interpolates between a row and its {arg} nearest "
        f"rows of its class, and class 'yes' has 10 training rows; use {arg} <= 9 (the default is 5).")
    # Small enough for the random fallback: no neighbours needed, nothing to refuse.
    cls(**{arg: 10}, random_state=0).fit_resample(*_table(n_min=5))


def test_categorical_features_must_be_columns():
    X, y = _table()
    with pytest.raises(ParameterError, match=r"categorical_features=\['smoker', 'nope'\] is not valid: "
                       r"it names \['nope'\], which X does not have"):
        SMOTENC(categorical_features=["smoker", "nope"]).fit_resample(X, y)


def test_a_folder_backbone_whose_tokenizer_or_positions_cannot_serve(tmp_path):
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, PreTrainedTokenizerFast

    from imbllm.llm.methods import ImbLLM

    words = Tokenizer(models.WordLevel({"[UNK]": 0, "is": 1, ",": 2}, unk_token="[UNK]"))
    words.pre_tokenizer = pre_tokenizers.Whitespace()  # a word-level tokenizer: not byte-level
    PreTrainedTokenizerFast(tokenizer_object=words, unk_token="[UNK]").save_pretrained(tmp_path)
    GPT2Config(n_positions=4, n_layer=1, n_head=1, n_embd=8, vocab_size=3).save_pretrained(tmp_path)
    X, y = _table()
    with pytest.raises(ParameterError, match=r"decoding='constrained' is not valid: the tokenizer of .* "
                       "is not byte-level BPE, which constrained decoding needs; use decoding=free"):
        ImbLLM(llm=str(tmp_path), decoding="constrained", progress=False).fit_resample(X, y)
    with pytest.raises(ParameterError, match=r"its 4 positions cannot hold a row of 3 columns"):
        ImbLLM(llm=str(tmp_path), decoding="free", progress=False).fit_resample(X, y)
