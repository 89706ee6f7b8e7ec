"""What of a typed text is visible: control and invisible format characters removed.

Shared by the question check (assistant/service.py) and the feedback comments (assistant/qlog.py),
so that nothing stored or shown to staff can hide or reorder what a citizen typed.
"""

from __future__ import annotations

import unicodedata
from functools import cache

# Characters that are not text and are removed from a question before it is checked, stored or
# shown: C0/C1 controls (NUL, ESC…), and format characters (category Cf: bidi embeddings, overrides
# and isolates U+202A–U+202E/U+2066–U+2069, LRM/RLM/ALM, zero-width space, word joiner, BOM, soft
# hyphen, invisible operators, tag characters). They render as nothing or reorder what is shown, so
# they can only hide or disguise what was typed (a bidi override makes a stored question read
# differently on the admin dashboard; tag characters smuggle invisible ASCII).
# Kept: ZWJ (U+200D) between two pictographs, where it joins an emoji sequence (👨‍👩‍👧) that people
# do type and that would otherwise fall apart into several pictures; anywhere else it is removed.
# Line breaks, tabs and the Unicode line/paragraph separators become spaces, so lines do not glue.
_LINE_LIKE = frozenset("\t\n\v\f\r\x1c\x1d\x1e\x1f\x85\u2028\u2029")
_ZWJ = "\u200d"
# Characters that show nothing although they are letters or symbols (Hangul fillers, the braille
# blank): a question of these alone is as empty as one of spaces.
_BLANK_LETTERS = frozenset("\u115f\u1160\u3164\uffa0\u2800\u180e")


def _pictograph(ch: str) -> bool:
    return unicodedata.category(ch) == "So" or "\U0001f000" <= ch <= "\U0001faff"


def visible_text(text: str) -> str:
    """The question without control and invisible format characters (see above)."""
    if text.isascii() and text.isprintable():
        return text
    out: list[str] = []
    for i, ch in enumerate(text):
        if ch in _LINE_LIKE:
            out.append(" ")
            continue
        category = unicodedata.category(ch)
        if category == "Cc":
            continue
        if category == "Cf":
            if ch == _ZWJ and out and _pictograph(out[-1]) and i + 1 < len(text) and _pictograph(text[i + 1]):
                out.append(ch)
            continue
        out.append(ch)
    return "".join(out)


def ignorable(ch: str) -> bool:
    """Nothing a reader sees: whitespace, control and format characters, blank letters."""
    return ch.isspace() or ch in _BLANK_LETTERS or unicodedata.category(ch) in ("Cc", "Cf")


@cache
def ignorable_class() -> str:
    """A regular-expression character class body of every `ignorable` character, for the HTTP
    schema (web/api.py tells clients and fuzzers exactly what check_question accepts)."""
    ranges: list[list[int]] = []
    # Planes 0–1 and 14 (tags): planes 2–13 hold only ideographs or nothing, 15–16 private use.
    for cp in (*range(0x20000), *range(0xE0000, 0xE1000)):
        if not 0xD800 <= cp <= 0xDFFF and ignorable(chr(cp)):
            if ranges and ranges[-1][1] == cp - 1:
                ranges[-1][1] = cp
            else:
                ranges.append([cp, cp])
    # \uXXXX reads the same in Python and ECMAScript patterns; astral characters are written as themselves.
    def char(cp: int) -> str:
        return f"\\u{cp:04x}" if cp < 0x10000 else chr(cp)

    return "".join(char(a) if a == b else f"{char(a)}-{char(b)}" for a, b in ranges)


__all__ = ["ignorable", "ignorable_class", "visible_text"]
