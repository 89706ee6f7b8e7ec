"""Reading digits in any dress: the detection copy and digit runs that redaction matches against.

A *detection copy* of the text is made character for character (full-width and other Unicode
digits to ASCII, dash and space variants to "-" and " ", full-width punctuation to ASCII), so a
position in the copy is a position in the original. Numbers are then read as *runs* by ONE reader
(`runs`, `run_at`): a digit is any character that writes one (ASCII, full-width, every Unicode
Nd script, circled ①, parenthesised ⑴, super/subscript, Chinese 〇一二…九/零/两/幺, capital 壹贰…);
digits joined by up to three non-letter characters of any kind (every Unicode punctuation, symbol,
space or control character: `；` `：` `~` `|` `/` `·` `—` emoji…) and any number of invisible
ones (format characters, combining marks) are one number. Each digit keeps the index of the
character it came from, and where the writer put separators is kept ("groups").

Only a letter (any script, Han included, unless it writes a digit) or an already-taken span ends
a number: a separator set listing "the" separators would always miss the next one typed.
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
    "二": "2", "两": "2", "兩": "2", "贰": "2", "貳": "2",
    "三": "3", "叁": "3", "叄": "3", "參": "3",
    "四": "4", "肆": "4",
    "五": "5", "伍": "5",
    "六": "6", "陆": "6", "陸": "6",
    "七": "7", "柒": "7",
    "八": "8", "捌": "8",
    "九": "9", "玖": "9",
}  # fmt: skip
_DIGIT_OF = {**{str(d): str(d) for d in range(10)}, **_HAN_DIGITS}

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


# What a character between two digits is: a letter ends the number; a format character or a
# combining mark is invisible; anything else (punctuation, symbol, space, control, private use,
# unassigned) is a visible separator. Decided by category, never by a list of characters.
_LETTER, _INVISIBLE, _SEPARATOR = 0, 1, 2


def _role(ch: str) -> int:
    if ch.isascii():
        if ch.isalnum():
            return _LETTER
        return _LETTER if ch == MASK else _SEPARATOR  # a taken span is a hard boundary
    category = unicodedata.category(ch)
    if category[0] == "L":
        return _LETTER
    if category == "Cf" or category[0] == "M":
        # Zero-width space/joiners, BOM, soft hyphen, bidi marks and combining marks render as
        # nothing (or onto the digit), so they may sit inside a number without the reader noticing.
        return _INVISIBLE
    if category[0] == "N":
        return _LETTER  # ½, Ⅻ: a number of another kind, not part of this one
    return _SEPARATOR


@dataclass(frozen=True)
class Run:
    """Digits read from the text as one number: folded digits (and an X check character), the
    index in the text each came from, and the written group each belongs to."""

    digits: str
    where: tuple[int, ...]
    groups: tuple[int, ...]



def runs(det: str, start: int = 0) -> Iterator[Run]:
    """Every number in det[start:], read by the one digit reader (short ones too)."""
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

    for i in range(start, len(det)):
        ch = det[i]
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
            continue
        role = _role(ch)
        if role == _SEPARATOR:
            if digits:
                gap += 1
                if gap > _MAX_GAP:
                    yield from flush()
                    gap = 0
        elif role == _LETTER:
            yield from flush()
            gap = 0
    yield from flush()


def run_at(det: str, pos: int, lead: int = _MAX_GAP) -> Run | None:
    """The number whose first digit is at `pos` or after at most `lead` separators from it."""
    i = pos
    skipped = 0
    while i < len(det) and _DIGIT_OF.get(det[i]) is None:
        role = _role(det[i])
        if role == _LETTER:
            return None
        if role == _SEPARATOR:
            skipped += 1
            if skipped > lead:
                return None
        i += 1
    if i >= len(det):
        return None
    run = next(runs(det, i), None)
    return run if run is not None and run.where[0] == i else None


def fold_digits(det: str) -> str:
    """The detection copy with Chinese and capital numerals as ASCII too (same length), for the
    patterns that read a house or room number wherever it is written (五栋三单元三〇一)."""
    if det.isascii():
        return det
    return "".join(_DIGIT_OF.get(ch, ch) for ch in det)


__all__ = ["MASK", "Run", "Span", "detection_copy", "fold_digits", "run_at", "runs"]
