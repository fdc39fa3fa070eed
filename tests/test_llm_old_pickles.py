"""Samplers saved before the engine moved into its rooms still load (imbllm.llm.saving).

Their pickles name the old flat modules (``imbllm.llm.serialize``, ``imbllm.llm.config``,
``imbllm.llm.constrain_grammar``, ...). The tests write such pickles from today's classes by
giving each the module (and name) it had, then read them back with the old names gone.
"""

from __future__ import annotations

import importlib
import sys
import types
from contextlib import contextmanager

import joblib
import pytest
from llm_fake import FAST, table

from imbllm.llm import saving
from imbllm.llm.constrain import RowGrammar
from imbllm.llm.methods import ImbLLM
from imbllm.llm.text.serialize import RowCodec
from imbllm.schema import TableSchema


@contextmanager
def old_names(trie_name: str = "ByteTrie"):
    """Every moved class under its old module, with stand-ins holding them in
    ``sys.modules``, so that pickling writes the old names; ``trie_name="_Trie"`` writes the
    tries as samplers saved before the tries had a module of their own did."""
    renamed = []
    with pytest.MonkeyPatch.context() as mp:
        try:
            for old, names in saving.OLD_NAMES.items():
                stand_in = types.ModuleType(old)
                for name, target in names.items():
                    module, attr = target.split(":")
                    cls = getattr(importlib.import_module(module), attr)
                    if attr == "ByteTrie" and name != trie_name:
                        continue
                    mp.setattr(cls, "__module__", old)
                    renamed.append((cls, cls.__qualname__))
                    cls.__qualname__ = name
                    setattr(stand_in, name, cls)
                mp.setitem(sys.modules, old, stand_in)
            yield
        finally:
            for cls, qualname in renamed:
                cls.__qualname__ = qualname


def test_a_sampler_saved_under_the_old_module_names_loads_and_draws_the_same_rows(fake, tmp_path):
    X, y = table()
    s = ImbLLM(**FAST)
    s.fit_resample(X, y)
    s.save(tmp_path / "new")
    with old_names():
        s.save(tmp_path / "old")
    old = (tmp_path / "old" / "sampler.joblib").read_bytes()
    assert b"imbllm.llm.serialize" in old and b"imbllm.llm.text" not in old
    assert "imbllm.llm.serialize" not in sys.modules  # the stand-ins are gone
    want = ImbLLM.load(tmp_path / "new").sample(8, random_state=1)
    got = ImbLLM.load(tmp_path / "old").sample(8, random_state=1)
    assert got[0].equals(want[0]) and got[1].equals(want[1])
    assert "imbllm.llm.serialize" not in sys.modules  # loading leaves no alias behind
    # Without the map of old names the same folder cannot be read: the map is what loads it.
    with pytest.MonkeyPatch.context() as mp:
        mp.setattr(saving, "OLD_NAMES", {})
        with pytest.raises(ModuleNotFoundError, match="imbllm.llm"):
            ImbLLM.load(tmp_path / "old")


@pytest.mark.parametrize("trie_name", ["ByteTrie", "_Trie"])
def test_a_grammar_pickled_under_the_old_names_reads_rows_as_before(tmp_path, trie_name):
    X, _ = table()
    row = "charges is high, age is 55, bmi is 20.5, smoker is yes, region is south"
    schema = TableSchema.infer(X, "auto")
    codec = RowCodec(X.columns, schema.numeric, schema.categories, "charges", ["high", "low"])
    grammar = RowGrammar.from_codec(codec, schema, X)
    state = grammar.run(row, (0, grammar.name_root))
    assert state is not None and state[0] == grammar.all
    with old_names(trie_name):
        joblib.dump({"grammar": grammar}, tmp_path / "g.joblib")
    data = (tmp_path / "g.joblib").read_bytes()
    assert b"imbllm.llm.constrain_grammar" in data and trie_name.encode() in data
    with saving._old_module_names():
        loaded = joblib.load(tmp_path / "g.joblib")["grammar"]
    assert type(loaded.names).__name__ == "ByteTrie" and type(loaded) is RowGrammar
    assert loaded.run(row, (0, loaded.name_root)) == state
