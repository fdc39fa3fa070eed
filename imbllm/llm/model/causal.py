"""What training and sampling need of a language model, and what sampling returns.

:mod:`imbllm.llm.model.train` and :mod:`imbllm.llm.model.sampling` work on any object with these members,
so they import nothing from :mod:`imbllm.llm.model.backbone`: the imports run one way, from the
model class down to the loops it delegates to. No torch here, so code that only reads a
:class:`Generation` (the engine's tests with a stand-in model) does not import it.
"""

from __future__ import annotations

from contextlib import AbstractContextManager
from dataclasses import dataclass, field
from typing import Any, Protocol


class CausalLM(Protocol):
    """A tokenizer and a causal LM on one device (:class:`imbllm.llm.model.backbone.LanguageModel`
    is one)."""

    tokenizer: Any  # a transformers tokenizer
    model: Any  # a transformers causal LM
    device: Any  # a torch.device

    @property
    def max_length(self) -> int:
        """Longest sequence (prompt plus completion) the model's positions allow."""
        ...

    def autocast(self, training: bool = False) -> AbstractContextManager:
        """The mixed-precision context the model computes in (while ``training``, or decoding)."""
        ...


@dataclass
class Generation:
    """What :func:`imbllm.llm.model.sampling.generate` returns: the completions, in prompt order,
    and the call's telemetry (returned, not written on the model, so that callers sharing a
    model never read each other's figures)."""

    texts: list[str]
    #: ``generated_tokens``, ``sample_seconds``, ``tokens_per_second``, ``n_prompts``,
    #: ``n_truncated``, ``finished`` (per prompt: drew its end token), ``rows_per_second``,
    #: ``constrained``; constrained: ``masked_mass``, ``mask_seconds``, ``n_dead_states``,
    #: ``n_cut``
    stats: dict = field(default_factory=dict)
