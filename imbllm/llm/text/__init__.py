"""Rows as strings: serialise and parse (:mod:`.serialize`), the training orders and prompts
(:mod:`.strategies`), the labels of generated rows (:mod:`.labels`) and the strict check or
published repair of parsed cells (:mod:`.repair`).

No torch here, not even inside functions (``tests/test_llm_layers.py`` checks it): this room
works on text and frames, and the model room (:mod:`imbllm.llm.model`) never imports it.
"""
