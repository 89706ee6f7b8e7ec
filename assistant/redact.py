"""Personal-data redaction, applied before a question is stored, logged, echoed or copied.

Citizens paste their ID number, phone, bank card, e-mail, name or address into the question box
when they ask about subsidies that are paid to them personally. None of that is needed to answer
a policy question, so it is replaced by a typed placeholder before anything is persisted.

Normalise, then match, then map back — one module per step, under assistant/pii/:
- `digits`: a *detection copy* of the text, character for character (full-width, circled and
  other Unicode digits to ASCII, dash and space variants to "-" and " "), so a position in the
  copy is a position in the original and everything outside a match is returned exactly as typed;
  and the ONE digit reader every pass uses: a digit in any dress (0-9, ０-９, every Unicode Nd,
  ①⑴¹₁, 一二三…〇/零/两/幺, 壹贰叁…), and digits joined by up to three non-letter characters of any
  kind (by Unicode category: punctuation, symbols, spaces, controls) and any invisible ones form
  one number, each digit remembering where it came from and where the writer grouped.
- `numbers`: IDs (valid, mistyped, cut short), bank cards and mobiles in those runs, looked for only
  where a written group starts or ends, so digits inside a longer number are never a phone.
- `documents`: passports, Hong Kong/Macao/Taiwan travel permits, military and veterans' cards.
- `words`: e-mails, QQ/WeChat accounts, street addresses and self-introduced names.
Passes run in a fixed order (e-mail; QQ/WeChat; numbers; documents; address; name). A pass never re-uses
characters an earlier pass took, and a taken span is a boundary for the next (an ID glued to a
mobile yields both). Errors lean towards over-redaction: a false positive costs a few characters
of a logged question; a false negative leaks someone's identity into a file. Amounts, dates and
counts of policy text (3000万元, 2025年12月31日, 1500个) are too short or too unlike any identifier.
The words that tell a name from a self-description are data (corpus/lexicon/, see `words`).
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

from .pii.digits import MASK, Span, detection_copy
from .pii.documents import document_spans
from .pii.numbers import number_spans
from .pii.words import address_spans, email_spans, im_spans, name_spans

__all__ = ["PLACEHOLDERS", "Redaction", "redact", "redact_text", "sanitize_log"]

PLACEHOLDERS: dict[str, str] = {
    "id_card": "[身份证号]",
    "mobile": "[手机号]",
    "bank_card": "[银行卡号]",
    "email": "[邮箱]",
    "address": "[地址]",
    "name": "[姓名]",
    "im_account": "[QQ/微信号]",
    "id_document": "[证件号]",
}


@dataclass(frozen=True)
class Redaction:
    """The redacted text and which kinds of personal data were found, in order of appearance."""

    text: str
    found: tuple[str, ...]


# --- putting it together --------------------------------------------------------------------------


def _masked(det: str, spans: list[Span]) -> str:
    chars = list(det)
    for start, end, _ in spans:
        chars[start:end] = MASK * (end - start)
    return "".join(chars)


_PASSES: tuple[Callable[[str], list[Span]], ...] = (
    email_spans,  # first: 13812345678@163.com is one mailbox, not a phone plus a domain
    im_spans,  # before numbers: "QQ 1381234567" is the account the person named
    number_spans,
    document_spans,  # after numbers: an ID-shaped 居住证 number stays an ID
    address_spans,  # after numbers: a phone is never the house number of an address
    name_spans,
)

_MAYBE_PERSONAL = re.compile(r"[0-9@号栋幢座单元本名我信联Qq一二两兩三四五六七八九〇零幺壹贰貳叁叄參肆伍陆陸柒捌玖洞\x00]")


def redact(text: str) -> Redaction:
    """Replace ID numbers, mobiles, bank cards, e-mails, QQ/WeChat accounts, addresses and names with placeholders."""
    det = detection_copy(text)
    if not _MAYBE_PERSONAL.search(det):
        return Redaction(text=text, found=())
    spans: list[Span] = []
    for find in _PASSES:
        accepted = find(det)
        if accepted:
            spans.extend(accepted)
            det = _masked(det, accepted)
    if not spans:
        return Redaction(text=text, found=())
    spans.sort()
    out: list[str] = []
    found: list[str] = []
    pos = 0
    for start, end, kind in spans:
        if start < pos:  # overlaps one already replaced (cannot happen with masking; defensive)
            start = pos
            if start >= end:
                continue
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
