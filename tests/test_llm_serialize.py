"""Rows as text and back (imbllm.llm.text.serialize): exact round trips, the parse rule, numbers."""

from __future__ import annotations

import sys
import time

import numpy as np
import pandas as pd
import pytest
from hypothesis import given, settings
from hypothesis import strategies as st

from imbllm.llm.text.repair import check_rows
from imbllm.llm.text.serialize import (
    WHITESPACE,
    RowCodec,
    cell_pieces,
    format_numbers,
    join_pieces,
    needs_quotes,
    parse_texts,
    quote,
    read_numbers,
)
from imbllm.llm.text.strategies import Block, TrainingTexts
from imbllm.schema import TableSchema

DATASETS = [
    "german",
    "fuel",
    "insurance",
    "housing",
    "bank",
    "adult",
    "gem_price",
    "car",
    "sick",
    "credit_card",
]


@settings(max_examples=300, deadline=None)
@given(
    row=st.dictionaries(st.text(max_size=12), st.text(max_size=12), min_size=1, max_size=6),
    data=st.data(),
)
def test_any_strings_round_trip_in_any_order(row, data):
    names = list(row)
    pieces = cell_pieces(names, pd.DataFrame([list(row.values())], columns=range(len(names))))
    order = np.array([data.draw(st.permutations(range(len(names))))])
    text = join_pieces(pieces, order)[0]
    parsed = parse_texts([text], names)
    assert parsed.iloc[0].to_dict() == row


@settings(max_examples=300, deadline=None)
@given(st.floats(allow_nan=False, allow_infinity=False), st.sampled_from(["plain", "digits"]))
def test_floats_read_back_exactly(x, number_format):
    text = format_numbers(pd.Series([x]), number_format)
    assert read_numbers(text, number_format).iloc[0] == x
    assert "e" not in text.iloc[0]  # positional, never scientific


@settings(max_examples=500, deadline=None)
@given(st.lists(st.text(alphabet="0123456789+-.eE _infatyINFATY\t\n", max_size=10), max_size=8))
def test_any_number_like_text_reads_as_pandas_reads_it(texts):
    # What model output can hold: every string pandas reads as a number float() reads too.
    values = read_numbers(pd.Series(texts, dtype=object))
    expected = pd.to_numeric(pd.Series(texts, dtype=object), errors="coerce").astype(float)
    np.testing.assert_allclose(values, expected, rtol=1e-15)


def test_numbers_are_written_in_their_shortest_form():
    floats = pd.Series([1473.0, 0.5329999999999999, 1e-05, 27.9, -122.23])
    assert format_numbers(floats).tolist() == [
        "1473",
        "0.5329999999999999",
        "0.00001",
        "27.9",
        "-122.23",
    ]
    assert format_numbers(pd.Series([39, -3, 0])).tolist() == ["39", "-3", "0"]
    assert format_numbers(pd.Series([27.9, 39]), "digits").tolist() == ["2 7 . 9", "3 9"]
    assert read_numbers(pd.Series(["- 1 2 2 . 2 3"]), "digits").iloc[0] == -122.23
    with pytest.raises(ValueError, match="number_format='words'"):
        format_numbers(floats, "words")


def test_only_ambiguous_tokens_are_quoted():
    assert quote("Less than $40K") == "Less than $40K"
    assert quote("Less than $40K, single") == '"Less than $40K, single"'
    assert quote('say "hi"') == '"say ""hi"""'
    for token in ["", " x", "x ", "a is b", "a is", "a,", "two\nlines", 'q"']:
        assert needs_quotes(token), token
    for token in ["<=50K", "$120K +", "STATION WAGON - MID-SIZE", "is", "x,y", ",a"]:
        assert not needs_quotes(token), token


def test_whitespace_constant_is_what_str_strip_removes():
    every = "".join(ch for ch in map(chr, range(sys.maxunicode + 1)) if ch.isspace())
    assert WHITESPACE == every


def test_parse_rule_first_known_piece_wins_and_unknown_pieces_are_ignored():
    texts = [
        "age is 39, sex is male, age is 40, colour is red",
        'garbage, sex is "female, 2", age is 7',
        'age is "unterminated, sex is m',
        "nothing to read here",
        "",
    ]
    parsed = parse_texts(texts, ["age", "sex"])
    assert parsed.loc[0].tolist() == ["39", "male"]
    assert parsed.loc[1].tolist() == ["7", "female, 2"]
    assert pd.isna(parsed.loc[2, "age"]) and parsed.loc[2, "sex"] == "m"
    assert parsed.loc[3:].isna().all().all()
    assert list(parsed.columns) == ["age", "sex"] and len(parsed) == 5


def test_codec_writes_labels_by_name_or_code():
    codec = RowCodec(["x"], ["x"], {}, "y", ["a", "b", "c"], label_format="code")
    assert codec.piece("y", "c") == "y is 2"
    assert codec.text_label == {"0": "a", "1": "b", "2": "c"}
    named = RowCodec(["x"], ["x"], {}, "y", ["a", "b"], label_format="name")
    assert named.piece("y", "b") == "y is b" and named.piece("x", 2.50) == "x is 2.5"
    with pytest.raises(ValueError, match="label_format='number'"):
        RowCodec(["x"], ["x"], {}, "y", ["a"], label_format="number")


@pytest.mark.parametrize("name", DATASETS)
def test_every_row_of_every_dataset_round_trips(name, mirror_dir, monkeypatch):
    """parse(serialise(row)) == row for all rows, features in random orders, dtypes kept."""
    from imbllm.data import load_dataset

    monkeypatch.setenv("IMBLLM_DATA_DIR", str(mirror_dir))
    ds = load_dataset(name)
    X, y = ds.X, ds.y
    schema = TableSchema.infer(X)
    classes = sorted(y.unique())
    # Every row with labels by name; the code form on a slice (it changes the label only).
    for label_format, rows in (("name", slice(None)), ("code", slice(0, 300))):
        X, y = ds.X.iloc[rows], ds.y.iloc[rows]
        codec = RowCodec(
            X.columns,
            schema.numeric,
            schema.categories,
            ds.spec.target,
            classes,
            label_format=label_format,
        )
        texts = TrainingTexts([Block(codec.pieces(X, y), "shuffle_all")], seed=0)(0)
        t0 = time.perf_counter()
        cells = codec.parse(texts)
        seconds = time.perf_counter() - t0
        checked = check_rows(cells, codec, schema, "strict")
        assert checked.keep.all(), pd.Series(checked.reason).value_counts().head()
        # TrainingTexts shuffled the rows: compare both frames sorted by every column.
        back = schema.cast_like(checked.X, X)
        back[ds.spec.target] = cells[ds.spec.target].map(codec.text_label)
        original = X.assign(**{ds.spec.target: y})
        key = [*X.columns, ds.spec.target]
        a = original.sort_values(key).reset_index(drop=True)
        b = back.sort_values(key).reset_index(drop=True)
        pd.testing.assert_frame_equal(a, b, check_exact=True)
        if label_format == "name":
            # Vectorised parsing: well under a millisecond per row even on a shared CPU.
            assert seconds < 2e-3 * len(X) + 1.0
