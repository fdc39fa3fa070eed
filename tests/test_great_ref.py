"""great_ref (baselines/great_ref.py): what it keeps of be_great's rows, and what it records.

The whole method (a compact backbone saved as a folder, fine-tuned and sampled by be_great)
runs in the battery's slow pass (tests/test_battery.py); here a stand-in for be_great's fitted
model returns chosen rows, so that the bookkeeping is tested in a fraction of a second.
"""

import pandas as pd
import pytest

from baselines.great_ref import GReaTRef, _serialise
from imbllm.testing import check_oversampler, toy_table


class Scripted:
    """What ``be_great.GReaT`` returns after fitting: ``sample`` gives scripted rows as text."""

    def __init__(self, batches):
        self.batches, self.asked = list(batches), []

    def sample(self, n, **kw):
        """At most ``n`` rows of the next scripted batch (none once they run out)."""
        self.asked.append((n, kw["start_col"], kw["start_col_dist"]))
        return self.batches.pop(0).head(n) if self.batches else self.empty

    empty = pd.DataFrame(columns=["age", "bmi", "sex", "region", "label"])


def scripted_ref(monkeypatch, *batches):
    """Each fit gets its own stand-in over ``batches``; returns them all (what each was asked)."""
    fakes = []

    def fit(self, table, work, seed):
        fakes.append(Scripted(batches))
        return fakes[-1], 0.0

    monkeypatch.setattr(GReaTRef, "_fit", fit)
    monkeypatch.setattr(GReaTRef, "_sample", lambda self, great, target, n, seed: great.sample(
        n, start_col=target, start_col_dist={str(self.minority_class_): 1.0}))
    return fakes


def text_rows(X, y, n, changes=()):
    """``n`` minority rows of the table as be_great returns them (every cell text)."""
    rows = X[y == "yes"].assign(label="yes").astype(str).sample(n, replace=True, random_state=0)
    rows = rows.reset_index(drop=True)
    for col, i, value in changes:
        rows.loc[i, col] = value
    return rows


def test_rows_be_great_makes_are_kept_with_their_types(monkeypatch):
    X, y = toy_table()
    fakes = scripted_ref(monkeypatch, text_rows(X, y, 48))
    s = GReaTRef(random_state=0)
    X_res, y_res = check_oversampler(s, X, y)
    assert s.n_generated_ == 48 and s.telemetry()["shortfall"] == 0
    assert fakes[0].asked == [(48, "label", {"yes": 1.0})]
    assert X_res.iloc[72:]["age"].dtype == X["age"].dtype


def test_rejected_rows_are_asked_for_again_then_the_gap_recorded(monkeypatch):
    X, y = toy_table()
    rows = text_rows(X, y, 50, [("label", 0, "no"), ("region", 1, "west"), ("bmi", 2, "abc")])
    again = pd.concat([rows.iloc[:3], rows.iloc[40:41]], ignore_index=True)  # 3 bad, 1 good
    fakes = scripted_ref(monkeypatch, rows.head(40), again)
    s = GReaTRef(random_state=0)
    check_oversampler(s, X, y)
    t = s.telemetry()
    assert (t["rejected_label_not_minority"], t["rejected_unseen_value"]) == (2.0, 4.0)
    # 48 asked: 37 valid of 40; 11 asked again: 1 valid of the 4 left; then none come.
    assert [a[0] for a in fakes[0].asked] == [48, 11, 10]
    assert s.n_rejected_ == 6 and s.n_generated_ == 38 and t["shortfall"] == 10


def test_no_row_from_be_great_is_a_recorded_shortfall(monkeypatch):
    X, y = toy_table()
    scripted_ref(monkeypatch)
    s = GReaTRef(random_state=0)
    check_oversampler(s, X, y)
    assert s.n_generated_ == 0 and s.telemetry()["shortfall"] == 48


def test_tokenizer_corpus_is_be_greats_serialisation():
    X, y = toy_table(n_major=1, n_minor=1)
    texts = _serialise(X.assign(label=y).iloc[:1])
    row = X.iloc[0]
    assert texts == [f"age is {row.age}, bmi is {row.bmi}, sex is {row.sex}, "
                     f"region is {row.region}, label is no"]


def test_without_be_great_the_message_names_the_extra(monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "be_great", None)
    X, y = toy_table()
    with pytest.raises(ImportError, match=r"pip install 'imbllm\[modern\]'"):
        GReaTRef(llm={"n_layer": 1, "n_head": 2, "n_embd": 32, "vocab_size": 300},
                 random_state=0).fit_resample(X, y)
