"""Numbers of one column as a digit automaton, for the row grammar of constrained decoding.

A number is written in the column's learnt format (integer, or at most ``decimals`` decimals)
in its shortest form (no leading zeros, no trailing fractional zeros, no ``-0``), inside the
column's observed range; a prefix is allowed only if some continuation of it is such a number.
TapTap's ``digits`` form puts one blank between characters (``"3 3 . 7 7"``).
"""

from __future__ import annotations

from decimal import Decimal

_BLANK = ord(" ")


def _cmp(a: int, b: int) -> int:
    return (a > b) - (a < b)


class NumberSpec:
    """Numbers of one column: a digit automaton with the range checked on every prefix.

    Magnitudes are integers in units of ``10**-decimals``; the sign picks a branch with its
    own magnitude range. A state compares the digits written so far with the bounds' digits
    of the same position (``-1``, ``0``, ``+1``), which is all the future needs to know.
    """

    def __init__(self, low: float, high: float, decimals: int, digits: bool = False):
        self.decimals, self.digits = int(decimals), bool(digits)
        scale = Decimal(10) ** self.decimals
        # The bounds are written values, so they sit on the grid; ceil/floor only guard it.
        lo = int((Decimal(repr(float(low))) * scale).to_integral_value(rounding="ROUND_CEILING"))
        hi = int((Decimal(repr(float(high))) * scale).to_integral_value(rounding="ROUND_FLOOR"))
        # Branch 0: non-negative numbers; branch 1: negative ones, zero excluded (no "-0").
        self.bounds = {0: (max(lo, 0), hi), 1: (max(-hi, 1), -lo)}
        self.bounds = {b: self._split(*r) for b, r in self.bounds.items() if r[0] <= r[1]}
        self._short: dict = {}

    def _split(self, lo: int, hi: int):
        s = 10**self.decimals
        return tuple(
            (str(v // s), str(v % s).zfill(self.decimals) if self.decimals else "")
            for v in (lo, hi)
        )

    # A state: ("start",) or (branch, phase, count, cmp_low, cmp_high, zero, gap): phase "i"
    # (integer digits; zero: the integer part is "0") or "f" (after "."; zero: last digit 0);
    # gap: a blank was just written in the digits form, so a character must follow.
    START = ("start",)

    def _raw(self, s: tuple, ch: int):
        if self.digits and s != self.START:
            if s[6]:
                if ch == _BLANK:
                    return None
                s = s[:6] + (False,)
            elif ch == _BLANK:
                return s[:6] + (True,)
            else:
                return None
        c, digit = chr(ch), 48 <= ch <= 57  # str.isdigit would take "²" too
        if s == self.START:
            if c == "-":
                return (1, "i", 0, 0, 0, False, False) if 1 in self.bounds else None
            if 0 not in self.bounds or not digit:
                return None
            s = (0, "i", 0, 0, 0, False, False)
        b, phase, n, cl, chi, zero, _ = s
        (lo_i, lo_f), (hi_i, hi_f) = self.bounds[b]
        if phase == "i" and digit:
            if zero or n >= len(hi_i):
                return None  # a leading zero, or more digits than the upper bound
            cl = (cl or _cmp(ord(c), ord(lo_i[n]))) if n < len(lo_i) else 1
            chi = chi or _cmp(ord(c), ord(hi_i[n]))
            return (b, "i", n + 1, cl, chi, n == 0 and c == "0", False)
        if phase == "i" and c == ".":
            if n == 0 or not self.decimals:
                return None
            # The integer part is final: compare the whole number so far with the bounds.
            cl = 1 if n > len(lo_i) else (-1 if n < len(lo_i) else cl)
            chi = -1 if n < len(hi_i) else chi
            return None if cl < 0 or chi > 0 else (b, "f", 0, cl, chi, False, False)
        if phase == "f" and digit and n < self.decimals:
            cl = cl or _cmp(ord(c), ord(lo_f[n]))
            chi = chi or _cmp(ord(c), ord(hi_f[n]))
            return None if cl < 0 or chi > 0 else (b, "f", n + 1, cl, chi, c == "0", False)
        return None

    def accepts(self, s: tuple) -> bool:
        """Whether the number written so far is a finished, valid value."""
        if s == self.START or s[6]:
            return False
        b, phase, n, cl, chi, zero, _ = s
        (lo_i, lo_f), (hi_i, _) = self.bounds[b]
        if phase == "i":
            above = n > len(lo_i) or (
                n == len(lo_i) and (cl > 0 or (cl == 0 and not lo_f.strip("0")))
            )
            return n >= 1 and above and (n < len(hi_i) or chi <= 0)
        return n >= 1 and not zero and (cl > 0 or not lo_f[n:].strip("0"))

    def shortest(self, s: tuple) -> float:
        """Fewest bytes that finish a valid value from ``s`` (inf: none; memoised, states
        are few; a pure function, so sampling threads that race store the same value)."""
        if s not in self._short:
            nexts = (self._raw(s, ch) for ch in b"-0123456789. ")
            self._short[s] = (
                0
                if self.accepts(s)
                else 1
                + min((self.shortest(t) for t in nexts if t is not None), default=float("inf"))
            )
        return self._short[s]

    def step(self, s: tuple, ch: int):
        t = self._raw(s, ch)
        return t if t is not None and self.shortest(t) < float("inf") else None

    def max_bytes(self) -> int:
        """Longest written number."""
        longest = max(
            (b == 1) + len(hi_i) + (1 + self.decimals if self.decimals else 0)
            for b, (_, (hi_i, _)) in self.bounds.items()
        )
        return 2 * longest - 1 if self.digits else longest
