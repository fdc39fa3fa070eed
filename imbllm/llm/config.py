"""Settings of the language-model engine and the device and seeding helpers it shares.

The two dataclasses mirror the Hydra groups ``conf/llm/*.yaml`` and ``conf/budget/*.yaml``:
each YAML key is a field name (the group's ``name`` key is ignored by ``from_dict``).
"""

from __future__ import annotations

from contextlib import contextmanager
from dataclasses import dataclass, fields

import torch

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
    n_positions: int = 512
    lora: bool = False
    lora_r: int = 8
    lora_alpha: int = 16
    lora_dropout: float = 0.05
    device: str = "auto"

    @classmethod
    def from_dict(cls, d: dict) -> LLMConfig:
        """Build from a config mapping, ignoring keys that are not fields (e.g. ``name``)."""
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


@dataclass
class Budget:
    """How long to fine-tune and how to batch generation.

    ``max_rows_per_epoch`` caps the training sentences seen per epoch (a fresh seeded subset
    each epoch) so that large tables stay within a CPU budget; ``None`` uses them all.
    """

    epochs: int = 50
    batch_size: int = 32
    learning_rate: float = 5e-5
    warmup_ratio: float = 0.0
    weight_decay: float = 0.0
    gen_batch_size: int = 100
    max_new_tokens: int | None = None
    max_rows_per_epoch: int | None = None

    @classmethod
    def from_dict(cls, d: dict) -> Budget:
        """Build from a config mapping, ignoring keys that are not fields (e.g. ``name``)."""
        return cls(**{f.name: d[f.name] for f in fields(cls) if f.name in d})


def resolve_device(device: str) -> torch.device:
    """``"auto"`` picks CUDA when present, else the CPU; any torch device string is accepted."""
    if device == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    try:
        dev = torch.device(device)
    except RuntimeError as err:
        raise ValueError(
            f"llm.device={device!r} is not a torch device; use 'auto', 'cpu' or 'cuda[:i]'."
        ) from err
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise ValueError(f"llm.device={device!r} but CUDA is not available; use llm.device=auto.")
    return dev


@contextmanager
def scoped_seed(seed: int, device: torch.device):
    """Seed torch inside a block and restore the caller's random state afterwards."""
    with torch.random.fork_rng(devices=[device] if device.type == "cuda" else []):
        torch.manual_seed(seed)
        yield


def check_budget(budget: Budget) -> None:
    """Raise a readable error for a budget that cannot train."""
    for name in ("epochs", "batch_size", "gen_batch_size"):
        value = getattr(budget, name)
        if not isinstance(value, int) or value < 1:
            raise ValueError(f"budget.{name}={value!r} must be a positive integer.")
    if not budget.learning_rate > 0:
        raise ValueError(f"budget.learning_rate={budget.learning_rate!r} must be positive.")
    if not 0.0 <= budget.warmup_ratio < 1.0:
        raise ValueError(f"budget.warmup_ratio={budget.warmup_ratio!r} must lie in [0, 1).")
    if budget.max_rows_per_epoch is not None and budget.max_rows_per_epoch < 1:
        raise ValueError(
            f"budget.max_rows_per_epoch={budget.max_rows_per_epoch!r} must be a positive "
            "integer, or null to train on every row each epoch."
        )
