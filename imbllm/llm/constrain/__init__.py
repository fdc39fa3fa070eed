"""What a generated row may be: the row grammar of a fitted table (:mod:`.grammar`, numbers in
:mod:`.numbers`, names and categories as byte tries of :mod:`.trie`), its token masks over a
tokenizer's vocabulary (:mod:`.tokens`) and the per-batch states and row lengths that sampling
steps through (:mod:`.guide`).

Masks are plain float arrays over the vocabulary; the model applies them to its logits
(:mod:`imbllm.llm.model.masking`). No torch here, not even inside functions
(``tests/test_llm_layers.py`` checks it), and the model room never imports this one: the
drawer binds the grammar to the model's tokenizer (:func:`bind`) and hands ``generate`` the
bound constraint.
"""

from imbllm.llm.constrain.grammar import RowGrammar
from imbllm.llm.constrain.guide import BatchGuide, RowLengths
from imbllm.llm.constrain.numbers import NumberSpec
from imbllm.llm.constrain.tokens import TokenConstraint, bind, byte_vocabulary

__all__ = [
    "BatchGuide",
    "NumberSpec",
    "RowGrammar",
    "RowLengths",
    "TokenConstraint",
    "bind",
    "byte_vocabulary",
]
