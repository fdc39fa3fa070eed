"""Settings of the language-model engine (no torch here: the engine reads them before any
model is touched; :mod:`imbllm.llm.device` holds the torch helpers).

The two dataclasses mirror the Hydra groups ``conf/llm/*.yaml`` and ``conf/budget/*.yaml``:
each YAML key is a field name (the group's ``name`` key is ignored by ``from_dict``).
"""

from __future__ import annotations

from dataclasses import dataclass, fields

COMPACT = "compact"


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
    device: str = "auto"
    #: "table": train on the whole training split first (imbllm.llm.pretrain); "none"; None:
    #: "table" for the compact backbone, "none" for hub and folder backbones
    pretrain: str | None = None

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


def check_budget(budget: Budget) -> None:
    """Raise a readable error for a budget that cannot train."""
    for name in ("epochs", "batch_size", "gen_batch_size", "pretrain_epochs"):
        value = getattr(budget, name)
        if not isinstance(value, int) or isinstance(value, bool) or value < 1:
            raise ValueError(f"budget.{name}={value!r} must be a positive integer.")
    for name in ("learning_rate", "pretrain_learning_rate", "scratch_learning_rate"):
        value = getattr(budget, name)
        if not (value is None and name == "scratch_learning_rate") and not (
            isinstance(value, (int, float)) and value > 0
        ):
            raise ValueError(f"budget.{name}={value!r} must be a positive number.")
    for name in ("warmup_ratio", "pretrain_warmup_ratio"):
        value = getattr(budget, name)
        if not 0.0 <= value < 1.0:
            raise ValueError(f"budget.{name}={value!r} must lie in [0, 1).")
    for name in ("max_rows_per_epoch", "pretrain_max_rows_per_epoch"):
        value = getattr(budget, name)
        if value is not None and value < 1:
            raise ValueError(
                f"budget.{name}={value!r} must be a positive integer, or null to train on "
                "every row each epoch."
            )
