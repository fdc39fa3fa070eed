"""The language-model engine (method.md §1): one oversampler, four configurations.

Text side: :mod:`~imbllm.llm.serialize` (rows as sentences and back),
:mod:`~imbllm.llm.strategies` (permutation, training rows, prompts), :mod:`~imbllm.llm.labels`,
:mod:`~imbllm.llm.repair` (strict and published policies), :mod:`~imbllm.llm.decoding`
(constrained or free; the grammar in :mod:`~imbllm.llm.constrain`), :mod:`~imbllm.llm.rounds`
(sample until enough valid rows). The engine is three objects: the plan built at fit
(:mod:`~imbllm.llm.plan`: settings, codec, training texts, prompts, labeller), the drawer that
samples rows (:mod:`~imbllm.llm.drawer`) and the thin estimator :class:`LLMOversampler`
(:mod:`~imbllm.llm.engine`), whose methods are rows of :mod:`~imbllm.llm.recipes`; model
fitting in :mod:`~imbllm.llm.fitting`, saving in :mod:`~imbllm.llm.saving`. Model side, imports running one way:
:mod:`~imbllm.llm.config` (settings, no torch), :mod:`~imbllm.llm.tokenizer` (the compact
backbone's tokenizer), :mod:`~imbllm.llm.backbone` (build, save, load; fine-tune and generate
delegate to :mod:`~imbllm.llm.train` and :mod:`~imbllm.llm.sampling`, which know the model only
through :mod:`~imbllm.llm.causal`),
:mod:`~imbllm.llm.pretrain` (the backbone trained on the whole table first) and
:mod:`~imbllm.llm.cache` (trained models by content).

Names below are imported on first use, so importing this package does not import torch.
"""

__all__ = ["ImbLLM", "LLMOversampler", "ShortfallError"]


def __getattr__(name: str):
    if name == "ImbLLM":
        from imbllm.llm.methods import ImbLLM

        return ImbLLM
    if name in ("LLMOversampler", "ShortfallError"):
        from imbllm.llm import engine

        return getattr(engine, name)
    raise AttributeError(f"module 'imbllm.llm' has no attribute {name!r}")
