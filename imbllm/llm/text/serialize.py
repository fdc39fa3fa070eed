"""Rows as text and back: ``"<column> is <value>, <column> is <value>"``.

The language model reads and writes tables in this form (method.md §1). A name or value that
the plain form would make ambiguous (it holds ``", "``, ``" is "``, a double quote, a line
break, leading or trailing blanks, or is empty) is written in double quotes, CSV style
(``"Less than $40K, single"``, an inner ``"`` doubled), so that
``parse_texts(join_pieces(pieces(df)))`` gives back every cell exactly. The ten benchmark
tables hold no such value, so their text is exactly the published form.

Numbers are written in their shortest exact form: ``39`` for integers and integral floats,
``33.77`` for floats (never ``39.0``), positional rather than scientific. TapTap's
``digits`` form writes them one character at a time (``"3 3 . 7 7"``).

Parsing works on many completions at once: one regular-expression scan per text, then array
operations over all pieces:
a piece whose name is a known column fills that column the first time it appears; pieces with
unknown names or without ``" is "`` are ignored.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from itertools import chain

import numpy as np
import pandas as pd
from numpy.dtypes import StringDType

SEP = ", "
IS = " is "
NUMBER_FORMATS = ("plain", "digits")

# A quoted token, an inner quote doubled.
_QUOTED = r'"(?:[^"]|"")*"'
# One piece: it starts the text or follows ", "; its name holds neither ", " nor " is "
# (unless quoted); its value runs to the next ", " or the end (unless quoted).
_PIECE = re.compile(
    rf"(?:\A|(?<=, ))(?P<name>{_QUOTED}|(?:(?!, | is )[^\"])*?) is "
    rf"(?P<value>{_QUOTED}|(?:(?!, )[^\"])*)(?=, |\Z)",
    flags=re.DOTALL,
)
# Empty; holds a separator, a quote or a line break; starts or ends with blanks; or ends so that
# the separator that follows would complete a separator (", is " and "a is is ...").
_NEEDS_QUOTES = re.compile(r'\A\Z|, | is |"|\n|\r|\A\s|\s\Z| is\Z|,\Z', flags=re.DOTALL)


def needs_quotes(token: str) -> bool:
    """Whether ``token`` must be quoted to be read back unchanged."""
    return _NEEDS_QUOTES.search(token) is not None


def quote(token: str) -> str:
    """``token`` as written in a sentence: as is, or in double quotes when ambiguous."""
    if needs_quotes(token):
        return '"' + token.replace('"', '""') + '"'
    return token


def quote_series(s: pd.Series) -> pd.Series:
    """Vectorised :func:`quote` over strings."""
    s = s.astype(str)
    mask = s.str.contains(_NEEDS_QUOTES, regex=True)
    if mask.any():
        s = s.copy()
        s[mask] = '"' + s[mask].str.replace('"', '""', regex=False) + '"'
    return s


#: Every character ``str.isspace`` accepts (numpy's default strip set differs).
WHITESPACE = (
    "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005"
    "\u2006\u2007\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000"
)


def unquote_series(s: pd.Series) -> pd.Series:
    """Inverse of :func:`quote_series`; unquoted tokens lose surrounding blanks."""
    raw = s.to_numpy(dtype=object)
    # numpy's string ufuncs run in C over the whole array (pandas' .str loops in Python).
    u = raw.astype(StringDType())
    quoted = (np.strings.str_len(u) >= 2) & np.strings.startswith(u, '"') & np.strings.endswith(
        u, '"'
    )
    out = np.strings.strip(u, WHITESPACE).astype(object)
    # numpy's strip also drops a "\x00" at either end: redo those few tokens in Python.
    nul = np.strings.find(u, "\x00") >= 0
    if nul.any():
        out[nul] = [t.strip() for t in raw[nul]]
    if quoted.any():
        out[quoted] = [t[1:-1].replace('""', '"') for t in raw[quoted]]
    return pd.Series(out, index=s.index, dtype=object)


def format_numbers(values: pd.Series, number_format: str = "plain") -> pd.Series:
    """Numbers as text: integers as ``39``, floats in their shortest exact positional form."""
    if number_format not in NUMBER_FORMATS:
        raise ValueError(
            f"number_format={number_format!r} is not one of {NUMBER_FORMATS}; use 'plain' "
            "(the default) or 'digits' (TapTap's digit-by-digit numbers)."
        )
    if pd.api.types.is_integer_dtype(values) or pd.api.types.is_bool_dtype(values):
        text = values.astype("int64").astype(str)
    else:
        v = values.to_numpy(dtype=float)
        # repr is the shortest string that reads back to the same float; switch the few
        # values it writes in scientific notation to positional form.
        text = pd.Series(v, index=values.index).astype(str)
        sci = text.str.contains("e", regex=False).to_numpy()
        if sci.any():
            text[sci] = [np.format_float_positional(x, unique=True, trim="-") for x in v[sci]]
        text = text.str.replace(r"\.0\Z", "", regex=True)
    if number_format == "digits":
        text = text.str.replace(r"(?<=.)(?=.)", " ", regex=True)
    return text


def read_numbers(text: pd.Series, number_format: str = "plain") -> pd.Series:
    """Inverse of :func:`format_numbers`: floats, NaN where the text is not a number."""
    text = text.astype(object)
    if number_format == "digits":
        text = text.str.replace(" ", "", regex=False)
    values = pd.to_numeric(text, errors="coerce").astype(float)
    ok = values.notna().to_numpy()
    # pandas' fast parser can be off by an ulp on long digit strings; Python's float() is
    # exact, and astype(float) applies it in C over the texts pandas already accepted. Every
    # string pandas reads as a number, float() reads too (tests/test_llm_serialize.py checks
    # it on arbitrary number-like text), so this cannot fail on the parser's string cells.
    values[ok] = text[ok].astype(float).to_numpy()
    return values


def cell_pieces(columns: Sequence[str], texts: pd.DataFrame) -> np.ndarray:
    """``"<name> is <value>"`` for every cell of ``texts`` (values already written as text).

    Returns an object array of shape ``(n_rows, n_columns)``.
    """
    out = np.empty(texts.shape, dtype=object)
    for j, c in enumerate(columns):
        name = quote(str(c))
        out[:, j] = (name + IS + quote_series(texts.iloc[:, j])).to_numpy()
    return out


def join_pieces(pieces: np.ndarray, order: np.ndarray | None = None) -> list[str]:
    """One sentence per row of ``pieces``, its pieces taken in ``order[i]`` when given."""
    if order is not None:
        pieces = np.take_along_axis(pieces, order, axis=1)
    return [SEP.join(row) for row in pieces.tolist()]


def parse_texts(texts: Sequence[str], columns: Sequence[str]) -> pd.DataFrame:
    """Parse sentences into a frame of text cells, one row per sentence.

    A piece whose name is one of ``columns`` fills that column the first time it appears;
    other pieces are ignored; a column no piece names is missing (NaN).

    >>> parse_texts(['age is 39, sex is "a, b", age is 40, foo is 1'], ["age", "sex"])
      age   sex
    0  39  a, b
    """
    columns = [str(c) for c in columns]
    cells = np.full((len(texts), len(columns)), np.nan, dtype=object)
    # One C-level regex scan per text (pandas' extractall does the same scan with far more
    # overhead); everything after it works on flat arrays of all pieces at once.
    found = [_PIECE.findall(t) for t in texts]
    counts = np.fromiter(map(len, found), dtype=np.int64, count=len(found))
    if counts.sum():
        flat = np.array(list(chain.from_iterable(found)), dtype=object).reshape(-1, 2)
        rows = np.repeat(np.arange(len(texts)), counts)
        cols = pd.Index(columns).get_indexer(unquote_series(pd.Series(flat[:, 0])))
        known = cols >= 0
        rows, cols, values = rows[known], cols[known], flat[known, 1]
        # First occurrence wins: findall lists pieces in text order.
        first = ~pd.Series(rows * len(columns) + cols).duplicated().to_numpy()
        rows, cols, values = rows[first], cols[first], values[first]
        cells[rows, cols] = unquote_series(pd.Series(values, dtype=object)).to_numpy()
    return pd.DataFrame(cells, columns=columns)


class RowCodec:
    """Writes the rows of one table as sentence pieces and reads completions back.

    Knows the feature columns (numeric ones written with :func:`format_numbers`), the text
    of every category and of every class label (``label_format="name"``: the class itself;
    ``"code"``: its position among the sorted classes, as the authors' code writes it).
    """

    def __init__(
        self,
        features: Sequence[str],
        numeric: Sequence[str],
        categories: dict,
        target: str,
        classes: Sequence,
        label_format: str = "name",
        number_format: str = "plain",
    ):
        if label_format not in ("name", "code"):
            raise ValueError(
                f"label_format={label_format!r} is not 'name' or 'code'; 'name' writes the "
                "class itself (the default), 'code' its index among the sorted classes."
            )
        format_numbers(pd.Series([0]), number_format)  # validates number_format
        self.features = [str(c) for c in features]
        self.numeric = [str(c) for c in numeric]
        self.target = str(target)
        self.number_format = number_format
        self.category_text = {c: {v: str(v) for v in vals} for c, vals in categories.items()}
        self.text_category = {
            c: {t: v for v, t in m.items()} for c, m in self.category_text.items()
        }
        self.classes = list(classes)
        self.label_text = {
            k: (str(k) if label_format == "name" else str(i)) for i, k in enumerate(self.classes)
        }
        self.text_label = {t: k for k, t in self.label_text.items()}

    @property
    def columns(self) -> list[str]:
        """Every column a sentence can name: the features, then the target."""
        return self.features + [self.target]

    def value_texts(self, column: str, values: pd.Series) -> pd.Series:
        """Cells of one column as they are written (before quoting)."""
        if column == self.target:
            return values.map(self.label_text).astype(str)
        if column in self.numeric:
            return format_numbers(values, self.number_format)
        return values.astype(object).map(str)

    def pieces(self, X: pd.DataFrame, y: pd.Series | None = None, columns=None) -> np.ndarray:
        """``"<name> is <value>"`` pieces of ``X`` (and ``y`` as the last column)."""
        columns = [str(c) for c in (columns if columns is not None else X.columns)]
        texts = {c: self.value_texts(c, X[c]).to_numpy() for c in columns}
        if y is not None:
            columns.append(self.target)
            texts[self.target] = self.value_texts(self.target, pd.Series(y)).to_numpy()
        return cell_pieces(columns, pd.DataFrame(texts, columns=columns))

    def piece(self, column: str, value) -> str:
        """One piece, ``"<column> is <value>"``."""
        return quote(column) + IS + quote(self.value_texts(column, pd.Series([value])).iloc[0])

    def parse(self, texts: Sequence[str]) -> pd.DataFrame:
        """Text cells of the features and the target, NaN where a column is not named."""
        return parse_texts(texts, self.columns)
