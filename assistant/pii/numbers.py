"""Identifiers made of digits: resident IDs (also mistyped or cut short), bank cards, mobiles.

Each digit run (see `digits.runs`) is scanned for identifiers only where a written group starts or
ends, so digits inside a longer number are never taken for a phone; a taken span is a boundary for
the next check (an ID glued to a mobile yields both). Errors lean towards over-redaction.
"""

from __future__ import annotations

import re
from collections.abc import Iterator
from datetime import date

from ..clock import district_today
from .digits import Run, Span, runs

_ID_WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
_ID_CHECK_CHARS = "10X98765432"
_EARLIEST_BIRTH_YEAR = 1900
# First two digits of a resident ID: the province-level codes of GB/T 2260 (83 = residence permits
# of Taiwan residents). An 18-character number that starts with one of these and carries a real
# birth date is redacted even when its check digit is wrong (a typo still identifies a person).
_PROVINCES = frozenset(
    "11 12 13 14 15 21 22 23 31 32 33 34 35 36 37 41 42 43 44 45 46 50 51 52 53 54 61 62 63 64 65 71 81 82 83".split()
)
# IP long-distance prefixes dialled in front of a mobile (17951 China Mobile, 17911 Unicom, 12593
# China Mobile, 17909 Telecom), the country code and a trunk "0".
_DIAL_PREFIXES = ("0086", "17951", "17911", "12593", "17909", "86", "0")

# A decimal number standing alone (0.8312345678901234, 12.5, 120.3829345): one dot between two
# digit groups, at most six digits before it, and no other digit joined to it. Its digits are a
# value, not an identifier written with a dot (138.1234.5678 has two dots; 1391234.5702 seven
# digits before its dot; 139.1234；5678 goes on after it).
_DECIMAL_RE = re.compile(r"[0-9]{1,6}\.[0-9]+")
# Words that announce an account number: a long digit run after them is a card or account
# whatever its check digit says.
_CARD_CONTEXT_RE = re.compile(r"(?:卡|账户|帐户|账号|帐号|户头)(?:号|号码)?(?:是|为)?[:：]?\s*$")
# Words that announce a reference number (order, waybill, invoice, file number): a Luhn-valid
# run after them is one of those nine times in ten more often than a card.
_REFERENCE_CONTEXT_RE = re.compile(
    r"(?:订单|单号|编号|流水号|运单|快递单|发票|批次|文号|索引号)(?:号|号码)?(?:是|为)?[:：]?\s*$"
)


# --- checks -----------------------------------------------------------------------------------


def _valid_date(year: int, month: int, day: int) -> bool:
    if not _EARLIEST_BIRTH_YEAR <= year <= district_today().year:
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


def _id18_shaped(chars: str) -> bool:
    """Region and birth date of an ID, check character ignored (a mistyped ID is still an ID)."""
    if len(chars) != 18 or not chars[:17].isdigit() or chars[:2] not in _PROVINCES:
        return False
    return _valid_date(int(chars[6:10]), int(chars[10:12]), int(chars[12:14]))


def _id_fragment_shaped(chars: str) -> bool:
    """14–17 digits that open with an ID's region and birth date (「前面是11010519491231」): the
    person's ID with its tail cut or typed apart — still their birth date and place."""
    if not 14 <= len(chars) <= 17 or not chars.isdigit() or chars[:2] not in _PROVINCES:
        return False
    return _valid_date(int(chars[6:10]), int(chars[10:12]), int(chars[12:14]))


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


def _card_grouping(lengths: list[int]) -> bool:
    """How card numbers are written: whole, in fours, 6 + rest, or one digit at a time.

    Four amounts in a list ("1500, 3000, 2000, 1000") also look like fours; Luhn turns nine in
    ten of them away, and the rest is the price of catching cards written in groups.
    """
    if len(lengths) == 1 or all(n == 1 for n in lengths):
        return True
    if all(n == 4 for n in lengths[:-1]) and 1 <= lengths[-1] <= 4:
        return True
    return lengths[0] == 6 and len(lengths) == 2


class _RunScan:
    """Finds identifiers in one run; written-group boundaries and taken spans are the anchors."""

    def __init__(self, run: Run, text: str) -> None:
        self.run = run
        self.text = text
        self.d = run.digits
        self.n = len(run.digits)
        self.taken = bytearray(self.n)
        g = run.groups
        self.starts = {0} | {i for i in range(1, self.n) if g[i] != g[i - 1]}
        self.ends = {self.n} | {i for i in range(1, self.n) if g[i] != g[i - 1]}
        self.spans: list[Span] = []

    def free(self, a: int, b: int) -> bool:
        return not any(self.taken[a:b])

    def starts_group(self, a: int) -> bool:
        return a in self.starts or self.taken[a - 1] == 1

    def ends_group(self, b: int) -> bool:
        return b in self.ends or (b < self.n and self.taken[b] == 1)

    def lengths(self, a: int, b: int) -> list[int]:
        out: list[int] = []
        for i in range(a, b):
            if i == a or self.run.groups[i] != self.run.groups[i - 1]:
                out.append(0)
            out[-1] += 1
        return out

    def take(self, a: int, b: int, kind: str) -> None:
        self.taken[a:b] = b"\x01" * (b - a)
        start, end = self.run.where[a], self.run.where[b - 1] + 1
        inside = self.text[start:end]
        if start > 0 and self.text[start - 1] == "(" and ")" in inside and "(" not in inside:
            start -= 1  # "(138)1234-5678": the area-code parenthesis goes with the number
        if kind == "mobile":
            # "+86 138…": the plus sign belongs to the number.
            k = start - 1
            while k >= 0 and self.text[k] == " ":
                k -= 1
            if k >= 0 and self.text[k] == "+":
                start = k
        self.spans.append((start, end, kind))

    def windows(self, size: int, both: bool) -> Iterator[int]:
        for a in range(0, self.n - size + 1):
            b = a + size
            s, e = self.starts_group(a), self.ends_group(b)
            if (s and e) if both else (s or e):
                if self.free(a, b):
                    yield a

    def scan(self) -> list[Span]:
        d = self.d
        for a in self.windows(18, both=False):
            if self.free(a, a + 18) and _valid_id18(d[a : a + 18]):
                self.take(a, a + 18, "id_card")
        # Without a check digit to confirm them, ID shapes after 订单号/编号… are reference numbers.
        reference = bool(_REFERENCE_CONTEXT_RE.search(self._context(0)))
        for a in self.windows(18, both=True):
            if self.free(a, a + 18) and not (a == 0 and reference) and _id18_shaped(d[a : a + 18]):
                self.take(a, a + 18, "id_card")
        for a in self.windows(15, both=True):
            if (
                self.free(a, a + 15)
                and not (a == 0 and reference)
                and _valid_id15(d[a : a + 15])
                and d[a : a + 2] in _PROVINCES
            ):
                self.take(a, a + 15, "id_card")
        self._cards()
        for size in (17, 16, 14):  # 15 is an old-style ID, checked above; 16–17 after the cards
            for a in self.windows(size, both=True):
                if self.free(a, a + size) and not (a == 0 and reference) and _id_fragment_shaped(d[a : a + size]):
                    self.take(a, a + size, "id_card")
        self._mobiles()
        self._account_numbers()
        return self.spans

    def _context(self, a: int) -> str:
        return self.text[max(0, self.run.where[a] - 8) : self.run.where[a]]

    def _cards(self) -> None:
        d = self.d
        reference = bool(_REFERENCE_CONTEXT_RE.search(self._context(0)))
        for a in range(self.n):
            if not self.starts_group(a):
                continue
            for size in (19, 18, 17, 16):
                b = a + size
                if b > self.n or not self.ends_group(b) or not self.free(a, b) or self.d[b : b + 1] == "X":
                    continue  # (digits followed by an X are an ID's, not a card's)
                digits = d[a:b]
                if (
                    digits.isdigit()
                    and not (a == 0 and reference)
                    and len(set(digits)) > 1
                    and _luhn_valid(digits)
                    and _card_grouping(self.lengths(a, b))
                ):
                    self.take(a, b, "bank_card")
                    break

    def _mobiles(self) -> None:
        d = self.d
        for a in range(0, self.n - 10):
            b = a + 11
            if d[a] != "1" or d[a + 1] not in "3456789" or not d[a:b].isdigit():
                continue
            if not self.free(a, b) or not self.ends_group(b):
                continue
            start = None
            for prefix in _DIAL_PREFIXES:
                p = a - len(prefix)
                if p >= 0 and d[p:a] == prefix and self.starts_group(p) and self.free(p, a):
                    start = p
                    break
            if start is None and self.starts_group(a):
                start = a
            if start is not None:
                self.take(start, b, "mobile")

    def _account_numbers(self) -> None:
        # 12+ digits right after 卡号/银行卡/账号: an account number whatever Luhn says.
        a = 0
        while a < self.n:
            if self.taken[a] or not self.d[a].isdigit():
                a += 1
                continue
            b = a
            while b < self.n and not self.taken[b] and self.d[b].isdigit():
                b += 1
            if b - a >= 12 and self.starts_group(a) and self.ends_group(b):
                if _CARD_CONTEXT_RE.search(self._context(a)):
                    self.take(a, b, "bank_card")
            a = b


def number_spans(det: str) -> list[Span]:
    spans: list[Span] = []
    for run in runs(det):
        if len(run.digits) >= 11 and not _DECIMAL_RE.fullmatch(det, run.where[0], run.where[-1] + 1):
            spans.extend(_RunScan(run, det).scan())
    return spans


__all__ = ["number_spans"]
