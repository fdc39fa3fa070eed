"""Settings of the language-model engine (no torch here: the engine reads them before any
model is touched; :mod:`imbllm.llm.model.device` holds the torch helpers).

The two dataclasses mirror the Hydra groups ``conf/llm/*.yaml`` and ``conf/budget/*.yaml``:
each YAML key is a field name (the group's ``name`` key is ignored by ``from_dict``). Each
declares its fields' constraints in one table (scikit-learn's form, as the samplers do), checked
when it is made: a bad value raises :class:`imbllm.base.ParameterError` naming ``llm.<field>``
or ``budget.<field>``, the value and the fix.
"""

from __future__ import annotations

from dataclasses import dataclass, fields
from numbers import Integral, Real

from sklearn.utils._param_validation import Interval, StrOptions

from imbllm.base import ParameterError, check_declared
from imbllm.llm.model.tokenizer import SPLITS

COMPACT = "compact"

_POSITIVE_INT = Interval(Integral, 1, None, closed="left")
_POSITIVE = Interval(Real, 0, None, closed="neither")
_SHARE = Interval(Real, 0, 1, closed="left")

LLM_CONSTRAINTS = {
    "name_or_path": [str],
    "n_layer": [_POSITIVE_INT],
    "n_head": [_POSITIVE_INT],
    "n_embd": [_POSITIVE_INT],
    "vocab_size": [_POSITIVE_INT],
    "tokenizer_split": [StrOptions(set(SPLITS))],
    "n_positions": [None, _POSITIVE_INT],
    "lora": ["boolean"],
    "lora_r": [_POSITIVE_INT],
    "lora_alpha": [_POSITIVE],
    "lora_dropout": [_SHARE],
    "dropout": [_SHARE],
    "device": [str],
    "pretrain": [None, StrOptions({"table", "none"})],  # imbllm.llm.pretrain.PRETRAIN_MODES
    "precision": [StrOptions({"auto", "bf16", "fp32"})],
}

BUDGET_CONSTRAINTS = {
    "epochs": [_POSITIVE_INT],
    "batch_size": [_POSITIVE_INT],
    "learning_rate": [_POSITIVE],
    "warmup_ratio": [_SHARE],
    "weight_decay": [Interval(Real, 0, None, closed="left")],
    "gen_batch_size": [_POSITIVE_INT],
    "max_new_tokens": [None, _POSITIVE_INT],
    "max_rows_per_epoch": [None, _POSITIVE_INT],
    "scratch_learning_rate": [None, _POSITIVE],
    "pretrain_epochs": [_POSITIVE_INT],
    "pretrain_learning_rate": [_POSITIVE],
    "pretrain_warmup_ratio": [_SHARE],
    "pretrain_max_rows_per_epoch": [None, _POSITIVE_INT],
    "max_train_tokens": [None, _POSITIVE_INT],
    "pretrain_max_train_tokens": [None, _POSITIVE_INT],
}


def bf16_autocast(precision: str, kind: str, training: bool = True) -> bool:
    """Whether a model on a ``kind`` device ("cpu", "cuda") computes under bf16 autocast
    (``llm.precision``): on CUDA unless "fp32"; on the CPU with "bf16", and there only while
    training: decoding in bf16 on this project's CPU (AMX) was no faster at 82M (1,151 against
    1,096 tok/s) and slower on the compact backbone (1,250 against 1,449 valid rows/s)."""
    if kind == "cuda":
        return precision != "fp32"
    return precision == "bf16" and training


@dataclass
class LLMConfig:
    """The backbone: which model, its size when built from scratch, LoRA, device."""

    name_or_path: str = COMPACT
    n_layer: int = 4
    n_head: int = 4
    n_embd: int = 128
    vocab_size: int = 1200
    #: compact tokenizer pre-split: "fields", "pieces" or "words" (see train_tokenizer)
    tokenizer_split: str = "fields"
    #: context length of the compact backbone; ``None`` sizes it from the training sentences
    #: (twice the longest, plus room: a continuation prompt holds a row and asks for more)
    n_positions: int | None = None
    lora: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    #: the compact backbone's attention, residual and embedding dropout (hub and folder
    #: backbones keep their own): 0 because GPT-2's 0.1 cost a fifth of each training step
    #: (8,373 against 10,107 tokens/s on one thread); with it and compact's token caps, adult's
    #: seed-0 cells moved mean F1 0.586 -> 0.580 and `dum` 0.054 -> 0.053 (README)
    dropout: float = 0.0
    device: str = "auto"
    #: "table": train on the whole training split first (imbllm.llm.pretrain); "none"; None:
    #: "table" for the compact backbone, "none" for hub and folder backbones
    pretrain: str | None = None
    #: "auto": bf16 autocast on CUDA, fp32 on the CPU; "bf16": on the CPU too, for training
    #: (fp32 weights; on insurance with AMX, ImbLLM's training took 52.5 s against 69.0 s; a
    #: CPU without bf16 units emulates it, 10x slower on an AVX2 EPYC); "fp32": no autocast
    precision: str = "auto"

    def __post_init__(self):
        check_declared(LLM_CONSTRAINTS, vars(self), "llm.")
        if self.name_or_path == COMPACT and self.n_embd % self.n_head:
            raise ParameterError(
                "llm.n_head", self.n_head, f"llm.n_embd={self.n_embd} is not a multiple of "
                f"llm.n_head={self.n_head}; pick a head count that divides it (n_embd=128, n_head=4)")

    @classmethod
    def from_dict(cls, d: dict) -> LLMConfig:
        """Build from a config mapping, ignoring keys that are not fields (e.g. ``name``)."""
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


@dataclass
class Budget:
    """How long to pretrain and fine-tune, and how to batch generation.

    ``max_rows_per_epoch`` caps the training sentences seen per epoch (a fresh seeded subset
    each epoch) so that large tables stay within a CPU budget; ``None`` uses them all.
    ``learning_rate`` fine-tunes a backbone that already knows something (pretrained on the
    table, or a hub model); ``scratch_learning_rate`` (``None``: the same) fine-tunes the
    compact backbone from random weights (``llm.pretrain="none"``). The ``pretrain_*`` fields
    drive :mod:`imbllm.llm.pretrain` (batch size and weight decay are shared).
    ``max_train_tokens`` (``None``: no cap) bounds the real tokens one training run sees in all,
    whatever the table's size: rows per epoch are cut first, then epochs
    (:func:`fit_to_tokens`).
    """

    epochs: int = 50
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    gen_batch_size: int = 100
    max_new_tokens: int | None = None
    max_rows_per_epoch: int | None = None
    scratch_learning_rate: float | None = None
    pretrain_epochs: int = 30
    pretrain_learning_rate: float = 3e-3
    pretrain_warmup_ratio: float = 0.05
    pretrain_max_rows_per_epoch: int | None = 1536
    max_train_tokens: int | None = None
    pretrain_max_train_tokens: int | None = None

    def __post_init__(self):
        check_budget(self)

    @classmethod
    def from_dict(cls, d: dict) -> Budget:
        """Build from a config mapping, ignoring keys that are not fields (e.g. ``name``)."""
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


#: Budget fields that change what a training loop produces (a cache key holds these).
TRAINING_KEYS = (
    "epochs",
    "batch_size",
    "learning_rate",
    "warmup_ratio",
    "weight_decay",
    "max_rows_per_epoch",
)


#: What ``ImbLLM()`` trains with when given no budget: the dataclass defaults with the training
#: tokens capped, so that a table of any width or length ends in minutes on a CPU (README,
#: "Defaults that fit the table"). The paper's presets (conf/budget/*.yaml) set no cap.
TABLE_FITTED = {"max_train_tokens": 1_000_000, "pretrain_max_train_tokens": 2_000_000}
#: Rows per epoch a token cap keeps before it cuts epochs (16 batches of the default size).
MIN_CAPPED_ROWS = 512


def fit_to_tokens(epochs: int, rows: int, tokens_per_row: float, cap: int | None) -> tuple[int, int]:
    """``(epochs, rows per epoch)`` within ``cap`` real tokens in all: unchanged when they fit;
    else fewer rows per epoch down to :data:`MIN_CAPPED_ROWS` (a fresh seeded subset each epoch
    still sees the whole table over the epochs), then fewer epochs, one at least."""
    if cap is None or epochs * rows * tokens_per_row <= cap:
        return epochs, rows
    floor = min(rows, MIN_CAPPED_ROWS)
    rows = max(floor, int(cap // (epochs * tokens_per_row)))
    if epochs * rows * tokens_per_row > cap:
        epochs = max(1, int(cap // (rows * tokens_per_row)))
    return epochs, rows


def training_keys(budget: dict) -> dict:
    """The fields of ``budget`` (as a dict) that decide what training produces, for a cache
    key: :data:`TRAINING_KEYS`, and the token cap where one is set (a key made without a cap
    stays the key it was)."""
    out = {k: budget[k] for k in TRAINING_KEYS}
    if budget.get("max_train_tokens") is not None:
        out["max_train_tokens"] = budget["max_train_tokens"]
    return out


def check_budget(budget: Budget) -> None:
    """A :class:`ParameterError` naming ``budget.<field>`` for a budget that cannot train
    (:data:`BUDGET_CONSTRAINTS`; a budget is checked when it is made)."""
    check_declared(BUDGET_CONSTRAINTS, vars(budget), "budget.")
