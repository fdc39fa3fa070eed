"""The language-model engine (method.md §1): one oversampler, four configurations.

Three rooms, imports running one way (``tests/test_llm_layers.py`` checks it):

* :mod:`~imbllm.llm.text`: rows as strings, no torch. :mod:`~imbllm.llm.text.serialize`
  (rows as sentences and back), :mod:`~imbllm.llm.text.strategies` (permutation, training
  rows, prompts), :mod:`~imbllm.llm.text.labels`, :mod:`~imbllm.llm.text.repair` (strict and
  published policies).
* :mod:`~imbllm.llm.constrain`: what a row may be, no torch. The row grammar, its numbers, one
  byte trie, token masks as plain arrays and the per-batch guide.
* :mod:`~imbllm.llm.model`: everything that needs torch, and imports neither room above.
  :mod:`~imbllm.llm.model.config` (settings, no torch), :mod:`~imbllm.llm.model.tokenizer`,
  :mod:`~imbllm.llm.model.backbone` (build, save, load; fine-tune and generate delegate to
  :mod:`~imbllm.llm.model.train` and :mod:`~imbllm.llm.model.sampling`, which know the model
  only through :mod:`~imbllm.llm.model.causal`; masks meet the logits in
  :mod:`~imbllm.llm.model.masking`) and :mod:`~imbllm.llm.model.cache` (trained models by
  content).

Here, the orchestration that joins them. The engine is three objects: the plan built at fit
(:mod:`~imbllm.llm.plan`: settings, codec, grammar, training texts, prompts, labeller), the
drawer that samples rows (:mod:`~imbllm.llm.drawer`, sampling rounds in
:mod:`~imbllm.llm.rounds`; it binds the grammar to the model's tokenizer through
:mod:`~imbllm.llm.decoding`) and the thin estimator :class:`LLMOversampler`
(:mod:`~imbllm.llm.engine`, its arguments declared in :mod:`~imbllm.llm.contract`), whose
methods are rows of :mod:`~imbllm.llm.recipes`; model fitting in :mod:`~imbllm.llm.fitting`
(the backbone first trained on the whole table by :mod:`~imbllm.llm.pretrain`), saving in
:mod:`~imbllm.llm.saving`.

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
