"""Reading digits in any dress: the detection copy and digit runs that redaction matches against.

A *detection copy* of the text is made character for character (full-width and other Unicode
digits to ASCII, dash and space variants to "-" and " ", full-width punctuation to ASCII), so a
position in the copy is a position in the original. Numbers are then read as *runs*: digits in any
script joined by up to three separators and any number of invisible characters; each digit keeps
the index of the character it came from, and where the writer put separators is kept ("groups").
"""

from __future__ import annotations

import unicodedata
from collections.abc import Iterator
from dataclasses import dataclass

# A span of the detection copy (= of the original text) and the kind of personal data in it.
Span = tuple[int, int, str]

# Written over taken spans in the detection copy: not a digit, separator, letter or Han
# character, so every later pass treats it as a hard boundary.
MASK = "\x00"

# Up to this many visible separators may join two digits of one number (" - " is three).
_MAX_GAP = 3

# Digits in the scripts people type numbers in. 幺 is the spoken "1" of phone numbers; the
# financial capitals (壹贰叁…) are what a cautious writer uses so that nothing can be altered.
_HAN_DIGITS = {
    "〇": "0", "零": "0", "洞": "0",
    "一": "1", "幺": "1", "壹": "1",
    "二": "2", "贰": "2", "貳": "2",
    "三": "3", "叁": "3", "叄": "3", "參": "3",
    "四": "4", "肆": "4",
    "五": "5", "伍": "5",
    "六": "6", "陆": "6", "陸": "6",
    "七": "7", "柒": "7",
    "八": "8", "捌": "8",
    "九": "9", "玖": "9",
}  # fmt: skip
_DIGIT_OF = {**{str(d): str(d) for d in range(10)}, **_HAN_DIGITS}
# After folding: whitespace, dashes, dots (incl. the ideographic full stop and middle dots),
# slashes, underscores, commas, the enumeration comma and parentheses.
_SEPARATORS = frozenset(" -.。·・/\\_,、()")

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d\u30fc"
_SPACES = "\t\n\v\f\r\u00a0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"
_MIDDLE_DOTS = "\u00b7\u2022\u2027\u30fb\uff65"


def _fold_char(ch: str) -> str:
    """One character in, exactly one character out (the detection copy must keep positions)."""
    if ch.isascii():
        return " " if ch in "\t\n\v\f\r" else ch
    # Full-width ０-９ and every other script's 0-9; then digits in other dress — circled ①,
    # parenthesised ⑴, with a full stop ⒈, superscript ¹ — one character each, so positions hold.
    digit = unicodedata.decimal(ch, None)
    if digit is None:
        digit = unicodedata.digit(ch, None)
    if digit is not None and 0 <= digit <= 9:
        return str(digit)
    if ch in _DASHES:
        return "-"
    if ch in _SPACES:
        return " "
    if ch in _MIDDLE_DOTS:
        return "·"
    if "\uff01" <= ch <= "\uff5e":  # full-width ASCII block: ＋ ＠ ． （ ） ， ／ ＿ and letters
        return chr(ord(ch) - 0xFEE0)
    return ch


_ASCII_WS = str.maketrans({c: " " for c in "\t\n\v\f\r"})


def detection_copy(text: str) -> str:
    # Line breaks are folded to spaces too, so a number split over lines is still one number.
    if text.isascii():
        return text.translate(_ASCII_WS)
    return "".join(_fold_char(ch) for ch in text)


def _ascii_letter(ch: str) -> bool:
    return ch.isascii() and ch.isalpha()


def _invisible(ch: str) -> bool:
    # Format characters (zero-width space/joiners, BOM, soft hyphen, bidi marks) render as
    # nothing, so they may sit inside a number without the reader noticing.
    return not ch.isascii() and unicodedata.category(ch) == "Cf"


@dataclass(frozen=True)
class Run:
    """Digits read from the text as one number: folded digits (and an X check character), the
    index in the text each came from, and the written group each belongs to."""

    digits: str
    where: tuple[int, ...]
    groups: tuple[int, ...]


def runs(det: str) -> Iterator[Run]:
    digits: list[str] = []
    where: list[int] = []
    groups: list[int] = []
    group = 0
    gap = 0  # visible separators since the last digit

    def flush() -> Iterator[Run]:
        if digits:
            yield Run("".join(digits), tuple(where), tuple(groups))
        digits.clear()
        where.clear()
        groups.clear()

    for i, ch in enumerate(det):
        d = _DIGIT_OF.get(ch)
        if d is None and ch in "Xx" and digits and digits[-1] != "X" and not _ascii_letter(det[i + 1 : i + 2]):
            d = "X"  # an ID's check character: right after its digits, not the start of a word
        if d is not None:
            # An X is a group of its own: it ends an ID, and a card or phone may stop before it.
            if digits and (gap or digits[-1] == "X" or d == "X"):
                group += 1
            digits.append(d)
            where.append(i)
            groups.append(group)
            gap = 0
        elif ch in _SEPARATORS:
            if digits:
                gap += 1
                if gap > _MAX_GAP:
                    yield from flush()
                    gap = 0
        elif not _invisible(ch):
            yield from flush()
            gap = 0
    yield from flush()


__all__ = ["MASK", "Run", "Span", "detection_copy", "runs"]
