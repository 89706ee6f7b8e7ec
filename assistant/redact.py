"""Personal-data redaction, applied before a question is stored or written to a log.

Citizens paste their ID number, phone, bank card or e-mail into the question box when they
ask about subsidies that are paid to them personally. None of that is needed to answer a
policy question, so it is replaced by a typed placeholder before anything is persisted.

Design:
- Detection runs on a *copy* of the text in which every character is mapped one-to-one
  (full-width and other Unicode digits to ASCII, dash and space variants to "-" and " ").
  Because the mapping never changes the length, match positions in the copy are positions in
  the original, and everything outside a match is returned exactly as the user typed it.
- Passes run in a fixed order (e-mail, ID, bank card, mobile). Each accepted match is masked in
  the copy with a non-digit, so a later pass can never re-use its digits, and a masked span acts
  as a boundary for the next pass (an 11-digit mobile glued to the end of an ID is still found).
- Every numeric pattern has digit boundaries: digits inside a longer number are not a phone.
- Errors lean towards over-redaction: a false positive costs a few characters of a logged
  question; a false negative leaks someone's identity into a file.
"""

from __future__ import annotations

import re
import unicodedata
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from datetime import date

__all__ = ["PLACEHOLDERS", "Redaction", "redact", "redact_text", "sanitize_log"]

PLACEHOLDERS: dict[str, str] = {
    "id_card": "[身份证号]",
    "mobile": "[手机号]",
    "bank_card": "[银行卡号]",
    "email": "[邮箱]",
}


@dataclass(frozen=True)
class Redaction:
    """The redacted text and which kinds of personal data were found, in order of appearance."""

    text: str
    found: tuple[str, ...]


# A character that is not a digit, not a separator and not an e-mail character: written over
# accepted matches in the detection copy so that later passes treat them as a hard boundary.
_MASK = "\x00"

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_EARLIEST_BIRTH_YEAR = 1900

# Local part restricted to the characters real mailbox providers hand out; the full RFC 5322
# set (/, =, ?, ...) would swallow neighbouring URL text. The lookbehind lets a match start only
# at the beginning of a run: without it a long run with no "@" is rescanned from every position
# (quadratic time on pasted junk).
_EMAIL_RE = re.compile(
    r"(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)

# Contiguous digit runs; a trailing X/x is kept with the run because it may be an ID check char.
_DIGIT_RUN_RE = re.compile(r"(?<![0-9])[0-9]+[Xx]?(?![0-9])")

# 18 ID characters written in groups (110105 19491231 0021, 1101-0519-...). Wrapped in a
# lookahead so candidates may overlap: validation happens after matching, and a failed
# candidate must not hide a valid one that starts a group later.
_GROUPED_ID_RE = re.compile(r"(?<![0-9])(?=((?:[0-9][ -]?){17}[0-9Xx])(?![0-9]))")

# 16–19 digits, contiguous or in groups of four (6222 0212 3456 7890 123). A trailing X marks
# an ID-shaped token, never a card.
_CARD_RE = re.compile(r"(?<![0-9])[0-9]{4}(?:[ -]?[0-9]{4}){3}(?:([ -]?)[0-9]{1,3})?(?![0-9Xx])")

# 1[3-9]x xxxx xxxx with optional single space/dash between the usual 3-4-4 groups and an
# optional +86 / 0086 / 86 country prefix.
_MOBILE_RE = re.compile(r"(?<![0-9])(?:(?:\+|00)?86[ -]?)?1[3-9][0-9][ -]?[0-9]{4}[ -]?[0-9]{4}(?![0-9])")

# People dictating a number through a pinyin IME sometimes get 一三八…; 幺 is the spoken "1".
_HAN_DIGITS = {
    "〇": "0",
    "零": "0",
    "一": "1",
    "幺": "1",
    "二": "2",
    "三": "3",
    "四": "4",
    "五": "5",
    "六": "6",
    "七": "7",
    "八": "8",
    "九": "9",
}
_HAN_DIGIT_RUN_RE = re.compile("[" + "".join(_HAN_DIGITS) + "]{11,}[Xx]?")

_DASHES = "\u2010\u2011\u2012\u2013\u2014\u2015\u2212\ufe58\ufe63\uff0d"
_SPACES = "\t\n\v\f\r\u00a0\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007\u2008\u2009\u200a\u202f\u205f\u3000"


def _fold_char(ch: str) -> str:
    """One character in, exactly one character out (the detection copy must keep positions)."""
    if ch.isascii():
        return " " if ch in "\t\n\v\f\r" else ch
    digit = unicodedata.decimal(ch, None)  # full-width ０-９ and every other script's 0-9
    if digit is not None:
        return str(digit)
    if ch in _DASHES:
        return "-"
    if ch in _SPACES:
        return " "
    if "\uff01" <= ch <= "\uff5e":  # full-width ASCII block: ＋ ＠ ． and letters
        return chr(ord(ch) - 0xFEE0)
    return ch


_ASCII_WS = str.maketrans({c: " " for c in "\t\n\v\f\r"})


def _detection_copy(text: str) -> str:
    # Line breaks are folded to spaces too, so a number split over lines is still one number.
    if text.isascii():
        return text.translate(_ASCII_WS)
    return "".join(_fold_char(ch) for ch in text)


def _valid_date(year: int, month: int, day: int) -> bool:
    if not _EARLIEST_BIRTH_YEAR <= year <= date.today().year:
        return False
    try:
        date(year, month, day)
    except ValueError:
        return False
    return True


def _valid_id18(chars: str) -> bool:
    if len(chars) != 18 or not chars[:17].isdigit():
        return False
    if not _valid_date(int(chars[6:10]), int(chars[10:12]), int(chars[12:14])):
        return False
    total = sum(int(c) * w for c, w in zip(chars[:17], _ID_WEIGHTS, strict=True))
    return chars[17].upper() == _ID_CHECK_CHARS[total % 11]


def _valid_id15(chars: str) -> bool:
    # Pre-1999 IDs: 6-digit region, YYMMDD (always 19YY), 3-digit sequence, no check digit.
    if len(chars) != 15 or not chars.isdigit():
        return False
    return _valid_date(1900 + int(chars[6:8]), int(chars[8:10]), int(chars[10:12]))


def _luhn_valid(digits: str) -> bool:
    total = 0
    for i, ch in enumerate(reversed(digits)):
        d = int(ch)
        if i % 2:
            d = d * 2 - 9 if d > 4 else d * 2
        total += d
    return total % 10 == 0


def _only_digits(s: str) -> str:
    return s.replace(" ", "").replace("-", "")


Span = tuple[int, int, str]


def _email_spans(det: str) -> Iterator[Span]:
    for m in _EMAIL_RE.finditer(det):
        yield m.start(), m.end(), "email"


def _id_spans(det: str) -> Iterator[Span]:
    for m in _DIGIT_RUN_RE.finditer(det):
        run, start = m.group(), m.start()
        if len(run) == 18:
            if _valid_id18(run):
                yield start, m.end(), "id_card"
        elif len(run) == 15:
            if _valid_id15(run):
                yield start, m.end(), "id_card"
        elif len(run) > 18:
            # An ID glued to other digits (ID then phone, "ID123"): try both ends of the run,
            # not every window, to keep false positives in long reference numbers rare.
            head_end = start + 18
            if _valid_id18(run[:18]):
                yield start, head_end, "id_card"
            tail_start = m.end() - 18
            if tail_start >= head_end and _valid_id18(run[-18:]):
                yield tail_start, m.end(), "id_card"


def _grouped_id_spans(det: str) -> Iterator[Span]:
    taken_until = -1
    for m in _GROUPED_ID_RE.finditer(det):
        candidate = m.group(1)
        start, end = m.start(1), m.end(1)
        if start < taken_until:
            continue
        if _valid_id18(_only_digits(candidate)):
            taken_until = end
            yield start, end, "id_card"


def _card_spans(det: str) -> Iterator[Span]:
    for m in _CARD_RE.finditer(det):
        digits = _only_digits(m.group())
        if _luhn_valid(digits):
            yield m.start(), m.end(), "bank_card"
        elif m.group(1):
            # A separated short tail ("6222 0212 3456 7890 123") may be part of a 19-digit card
            # or an unrelated number after a 16-digit one; the regex tried the longer reading
            # first, so give the 16-digit reading its own chance.
            head = _only_digits(det[m.start() : m.start(1)])
            if _luhn_valid(head):
                yield m.start(), m.start(1), "bank_card"


def _mobile_spans(det: str) -> Iterator[Span]:
    for m in _MOBILE_RE.finditer(det):
        yield m.start(), m.end(), "mobile"


def _han_digit_spans(det: str) -> Iterator[Span]:
    for m in _HAN_DIGIT_RUN_RE.finditer(det):
        run = m.group()
        digits = "".join(_HAN_DIGITS.get(c, c) for c in run)
        kind: str | None = None
        if _valid_id18(digits) or _valid_id15(digits):
            kind = "id_card"
        elif 16 <= len(digits) <= 19 and digits.isdigit() and _luhn_valid(digits):
            kind = "bank_card"
        elif len(digits) == 11 and re.fullmatch(r"1[3-9][0-9]{9}", digits):
            kind = "mobile"
        if kind is not None:
            yield m.start(), m.end(), kind


_PASSES: tuple[Callable[[str], Iterator[Span]], ...] = (
    _email_spans,  # first: 13812345678@163.com is one mailbox, not a phone plus a domain
    _id_spans,
    _grouped_id_spans,
    _card_spans,  # after IDs: a valid 18-digit ID is also Luhn-valid one time in ten
    _mobile_spans,  # last of the ASCII passes: never takes digits out of an ID or card
    _han_digit_spans,
)


def redact(text: str) -> Redaction:
    """Replace ID numbers, mobiles, bank cards and e-mail addresses with typed placeholders."""
    det = _detection_copy(text)
    spans: list[Span] = []
    for find in _PASSES:
        accepted = list(find(det))
        if not accepted:
            continue
        spans.extend(accepted)
        parts: list[str] = []
        pos = 0
        for start, end, _ in sorted(accepted):
            parts.append(det[pos:start])
            parts.append(_MASK * (end - start))
            pos = end
        parts.append(det[pos:])
        det = "".join(parts)

    if not spans:
        return Redaction(text=text, found=())
    spans.sort()
    out: list[str] = []
    found: list[str] = []
    pos = 0
    for start, end, kind in spans:
        out.append(text[pos:start])
        out.append(PLACEHOLDERS[kind])
        pos = end
        if kind not in found:
            found.append(kind)
    out.append(text[pos:])
    return Redaction(text="".join(out), found=tuple(found))


def redact_text(text: str) -> str:
    """`redact` for callers that only need the text."""
    return redact(text).text


# C0/C1 controls, Unicode line/paragraph separators (some log viewers break lines on them)
# and bidi overrides (they can make a log line display differently from what it contains).
_UNSAFE_RE = re.compile(r"[\\\x00-\x1f\x7f-\x9f\u061c\u200e\u200f\u2028\u2029\u202a-\u202e\u2066-\u2069]")
_NAMED_ESCAPES = {"\\": "\\\\", "\n": "\\n", "\r": "\\r", "\t": "\\t"}


def _escape(m: re.Match[str]) -> str:
    ch = m.group()
    named = _NAMED_ESCAPES.get(ch)
    if named is not None:
        return named
    code = ord(ch)
    return f"\\x{code:02x}" if code < 0x100 else f"\\u{code:04x}"


def sanitize_log(text: str) -> str:
    """Redacted, single-line form of user input for log messages.

    Control characters become visible escapes (a newline is the two characters \\n), so input
    cannot start a forged log line. Backslashes are doubled so that a user who literally types
    \\n cannot be confused with an escaped newline when the log is read later.
    """
    # Redact first: the detector treats a newline as a separator, so 138\\n1234\\n5678 is
    # still recognised as a phone before the newlines are turned into escapes.
    return _UNSAFE_RE.sub(_escape, redact_text(text))
