"""Everything that needs torch: the backbone (:mod:`.backbone`: build, fine-tune, generate,
save, load), its settings (:mod:`.config`, no torch), the compact tokenizer (:mod:`.tokenizer`),
the training loop (:mod:`.train`, resumable through :mod:`.checkpoint`), sampling
(:mod:`.sampling`, on the decoders of :mod:`.decoders`, with masks applied to the logits by
:mod:`.masking`) and the cache of trained models (:mod:`.cache`).

Imports run one way: nothing here imports :mod:`imbllm.llm.text` or
:mod:`imbllm.llm.constrain` (``tests/test_llm_layers.py`` checks it). Rows reach the model as
strings, and a constraint as an object the drawer has bound to the tokenizer
(:class:`.masking.RowConstraint`). Importing this package does not import torch;
:func:`language_model` does.
"""


def language_model():
    """The backbone class, :class:`imbllm.llm.model.backbone.LanguageModel` (imports torch):
    the one place the engine's fitting and loading look it up, which the engine's tests
    replace with a stand-in model."""
    from imbllm.llm.model.backbone import LanguageModel

    return LanguageModel
