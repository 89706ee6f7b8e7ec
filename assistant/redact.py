"""Personal-data redaction, applied before a question is stored, logged, echoed or copied.

Citizens paste their ID number, phone, bank card, e-mail, name or address into the question box
when they ask about subsidies that are paid to them personally. None of that is needed to answer
a policy question, so it is replaced by a typed placeholder before anything is persisted.

Normalise, then match, then map back:
- A *detection copy* of the text is made character for character (full-width and other Unicode
  digits to ASCII, dash and space variants to "-" and " ", full-width punctuation to ASCII), so a
  position in the copy is a position in the original and everything outside a match is returned
  exactly as typed.
- Numbers are then read as *runs*: digits in any script (0-9, ０-９, 一二三…〇/零, 壹贰叁…) joined by
  up to three separators (spaces, " - ", dots, slashes, underscores, commas, parentheses) and any
  number of invisible characters (zero-width space/joiner, BOM, soft hyphen). Each digit keeps the
  index of the character it came from, so a match found in the folded digits maps back to the
  original span, separators and all. Where the writer put separators is kept too ("groups"): a
  number is only looked for where a written group starts or ends, so digits inside a longer
  number are never taken for a phone.
- Passes run in a fixed order (e-mail; numbers: ID, ID-shaped, card, mobile; address; name). A
  pass never re-uses characters an earlier pass took, and a taken span is a boundary for the next
  (an ID glued to a mobile yields both).
- Errors lean towards over-redaction: a false positive costs a few characters of a logged
  question; a false negative leaks someone's identity into a file. Amounts, dates and counts of
  policy text (3000万元, 2025年12月31日, 1500个) are too short or too unlike any identifier to match.

The words that tell a name from a self-description ("我是王建国" vs "我是退役军人") are data:
family names in corpus/lexicon/surnames.txt, and every word of the lexicon (groups, glossary,
userdict, stopwords, self_descriptions.txt) is "not a name".
"""

from __future__ import annotations

import os
import re
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import date
from functools import cache
from pathlib import Path

__all__ = ["PLACEHOLDERS", "Redaction", "redact", "redact_text", "sanitize_log"]

PLACEHOLDERS: dict[str, str] = {
    "id_card": "[身份证号]",
    "mobile": "[手机号]",
    "bank_card": "[银行卡号]",
    "email": "[邮箱]",
    "address": "[地址]",
    "name": "[姓名]",
    "im_account": "[QQ/微信号]",
}


@dataclass(frozen=True)
class Redaction:
    """The redacted text and which kinds of personal data were found, in order of appearance."""

    text: str
    found: tuple[str, ...]


# Written over taken spans in the detection copy: not a digit, separator, letter or Han
# character, so every later pass treats it as a hard boundary.
_MASK = "\x00"

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

# Local part: the characters real mailbox providers hand out, or a short Chinese name in front of
# them (张伟@hotmail.com). The ASCII lookbehind lets a match start only at the beginning of a run,
# so a long run with no "@" is not rescanned from every position (quadratic time on junk).
_EMAIL_RE = re.compile(
    r"(?:[\u4e00-\u9fff]{1,3}(?=@)|(?<![A-Za-z0-9._%+-])[A-Za-z0-9._%+-]+)"
    r"@[A-Za-z0-9](?:[A-Za-z0-9-]*[A-Za-z0-9])?(?:\.[A-Za-z0-9-]+)*\.[A-Za-z]{2,}"
)
# A decimal number (0.8312345678901234, 12.5): one dot between two digit runs and no other dot
# next to them. Its digits are not an identifier written with dots (138.1234.5678 has two).
_DECIMAL_RE = re.compile(r"(?<![0-9.])[0-9]+\.[0-9]+(?![0-9]|\.[0-9])")
# Words that announce an account number: a long digit run after them is a card or account
# whatever its check digit says.
_CARD_CONTEXT_RE = re.compile(r"(?:卡|账户|帐户|账号|帐号|户头)(?:号|号码)?(?:是|为)?[:：]?\s*$")
# Words that announce a reference number (order, waybill, invoice, file number): a Luhn-valid
# run after them is one of those nine times in ten more often than a card.
_REFERENCE_CONTEXT_RE = re.compile(r"(?:订单|单号|编号|流水号|运单|快递单|发票|批次|文号|索引号)(?:号|号码)?(?:是|为)?[:：]?\s*$")

# QQ and WeChat accounts, after the word that names them: a QQ number (5–12 digits) or a WeChat id
# (6–20 letters, digits, _ or -, starting with a letter), and WeChat's internal wxid_… anywhere.
# Without the word, 5–12 digits are a count or an amount far more often than an account.
_IM_RE = re.compile(
    r"(?i)(?:(?P<wxid>(?<![A-Za-z0-9_-])wxid_[A-Za-z0-9_-]{4,30})|"
    # The Latin words must stand apart from the account ("QQ 12345", "qq:12345", "vx号 …"): glued to
    # letters and digits they are just part of some token (a hash, a base64 id).
    r"(?:(?:扣扣|企鹅号|微信)(?:号码|号|账号|帐号|id)?|(?<![A-Za-z0-9_-])(?:qq|vx|wx|weixin|wechat)(?=[\s:：号是为]))"
    r"(?:号码|号|账号|帐号)?\s*(?:是|为)?\s*[:：]?\s*(?P<id>[A-Za-z][A-Za-z0-9_-]{5,19}|[1-9][0-9]{4,11}))"
    r"(?![A-Za-z0-9_-])"
)

# Street addresses: a road, street or lane with a house number, and the building/unit/room tail
# that follows it; or a building-unit-room tail on its own (at least two of its parts).
_NUM = "[0-9一二三四五六七八九十百零〇两]+"
_ROAD = r"[^\W\d_在住是于到的了区市县镇乡村省街道，。、：:\x00]{1,6}?(?:路|街|大道|大街|巷|弄|胡同|村|庄|屯)"
_PART = rf"\s*[-－]?\s*{_NUM}\s*(?:号楼|栋|幢|座|单元|楼|层|室|户|号)"
_ADDRESS_RE = re.compile(
    rf"{_ROAD}\s*{_NUM}\s*号(?:院)?(?:{_PART})*"
    rf"|{_NUM}\s*(?:号楼|栋|幢|座|单元)(?:{_PART})+(?:\s*[-－]?\s*[0-9]{{3,4}}(?![0-9]))?"  # 2单元502: a bare room
)

# Self-introductions: strong triggers are followed by a name; after weak ones (我是, 本人) the
# next word must start with a family name (data) to count as one.
_STRONG_NAME_TRIGGER = r"我叫|我名叫|名叫|我的名字(?:是|叫)|名字(?:是|叫)|(?:姓名|联系人)(?:是|为)?\s*[:：]?"
_NAME_TRIGGER_RE = re.compile(rf"(?:(?P<strong>{_STRONG_NAME_TRIGGER})|(?P<weak>本人(?:是|叫)?|我是))\s*")
_HAN_RE = re.compile(r"[\u4e00-\u9fff]")
# What may follow a complete name in a self-introduction: the end of a clause.
_CLAUSE_END = frozenset("，,。.！!？?、;；:： ")

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


def _detection_copy(text: str) -> str:
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


# --- checks -----------------------------------------------------------------------------------


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


# --- numbers ------------------------------------------------------------------------------------


@dataclass(frozen=True)
class _Run:
    """Digits read from the text as one number: folded digits (and an X check character), the
    index in the text each came from, and the written group each belongs to."""

    digits: str
    where: tuple[int, ...]
    groups: tuple[int, ...]


def _runs(det: str) -> Iterator[_Run]:
    digits: list[str] = []
    where: list[int] = []
    groups: list[int] = []
    group = 0
    gap = 0  # visible separators since the last digit

    def flush() -> Iterator[_Run]:
        if digits:
            yield _Run("".join(digits), tuple(where), tuple(groups))
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


Span = tuple[int, int, str]


class _RunScan:
    """Finds identifiers in one run; written-group boundaries and taken spans are the anchors."""

    def __init__(self, run: _Run, text: str) -> None:
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
            if self.free(a, a + 15) and not (a == 0 and reference) and _valid_id15(d[a : a + 15]) and d[a : a + 2] in _PROVINCES:
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


def _number_spans(det: str) -> list[Span]:
    # Decimals are blanked for this pass only: their digits are a value, not an identifier.
    numbers = _DECIMAL_RE.sub(lambda m: _MASK * len(m.group()), det) if "." in det else det
    spans: list[Span] = []
    for run in _runs(numbers):
        if len(run.digits) >= 11:
            spans.extend(_RunScan(run, det).scan())
    return spans


# --- e-mail, address, name ----------------------------------------------------------------------


def _email_spans(det: str) -> list[Span]:
    if "@" not in det:
        return []
    dotted = det.replace("。", ".")  # a Chinese IME types the dot of "qq.com" as 。
    stop = _name_data(_lexicon_dir()).stop_chars
    spans: list[Span] = []
    for m in _EMAIL_RE.finditer(dotted):
        start = m.start()
        while dotted[start] in stop:  # "邮箱是张伟@…": the 是 is not part of the mailbox
            start += 1
        spans.append((start, m.end(), "email"))
    return spans


def _im_spans(det: str) -> list[Span]:
    spans: list[Span] = []
    for m in _IM_RE.finditer(det):
        group = "id" if m.group("id") else "wxid"
        spans.append((m.start(group), m.end(group), "im_account"))
    return spans


def _address_spans(det: str) -> list[Span]:
    return [(m.start(), m.end(), "address") for m in _ADDRESS_RE.finditer(det)]


def _lexicon_dir() -> Path:
    # The same corpus the service answers from (POLICY_ASSISTANT_CORPUS), else the repo's.
    configured = os.environ.get("POLICY_ASSISTANT_CORPUS", "").strip()
    root = Path(configured) if configured else Path(__file__).resolve().parent.parent / "corpus"
    return root / "lexicon"


def _words(path: Path, columns: Callable[[list[str]], Iterable[str]]) -> Iterator[str]:
    try:
        lines = path.read_text(encoding="utf-8").splitlines()
    except OSError:  # a corpus without this file: fewer exclusions, never a crash
        return
    for line in lines:
        if not line.strip() or line.lstrip().startswith("#"):
            continue
        for cell in columns(line.split("\t")):
            yield from (w for w in re.split(r"[|\s]+", cell) if w)


@dataclass(frozen=True)
class _NameData:
    surnames: frozenset[str]  # single-character and compound family names
    not_names: frozenset[str]  # words of the lexicon: what follows 我是 when it is not a name
    stop_chars: frozenset[str]  # single-character function words: a name ends before them


@cache
def _name_data(lexicon: Path) -> _NameData:
    surnames = frozenset(_words(lexicon / "surnames.txt", lambda cols: cols))
    words: set[str] = set(_words(lexicon / "self_descriptions.txt", lambda cols: cols))
    words.update(_words(lexicon / "groups.tsv", lambda cols: cols))
    words.update(_words(lexicon / "glossary.tsv", lambda cols: cols))
    words.update(_words(lexicon / "userdict.txt", lambda cols: cols[:1] and cols[0].split()[:1]))
    stop = set(_words(lexicon / "stopwords.txt", lambda cols: cols))
    words.update(w for w in stop if len(w) > 1)
    return _NameData(
        surnames=surnames,
        not_names=frozenset(w for w in words if len(w) > 1),
        stop_chars=frozenset(w for w in stop if len(w) == 1),
    )


def _starts_with_word(text: str, words: frozenset[str]) -> bool:
    return any(text[:k] in words for k in range(2, min(len(text), 8) + 1))


def _name_spans(det: str) -> list[Span]:
    if "我" not in det and "本人" not in det and "名" not in det and "联系人" not in det:
        return []
    data = _name_data(_lexicon_dir())
    spans: list[Span] = []
    for m in _NAME_TRIGGER_RE.finditer(det):
        start = m.end()
        tail = det[start : start + 8]
        if _starts_with_word(tail, data.not_names):
            continue
        if tail[:2] in data.surnames:
            family = 2
        elif tail[:1] in data.surnames:
            family = 1
        elif m.group("strong"):
            family = 1  # after 我叫 any name counts, family name known or not
        else:
            continue
        longest = 0
        for ch in tail[family : family + 2]:
            if not _HAN_RE.fullmatch(ch) or ch in data.stop_chars:
                break
            longest += 1
        after = tail[family + longest : family + longest + 1]
        # After 我叫/名字是 the next characters ARE a name, even when they spell an ordinary word
        # (王刚刚); so are a family name and given name that end the clause (「本人王刚刚，…」).
        # Otherwise, after the weak 我是/本人, the given name must not read as a word (我是李想家的).
        if m.group("strong") or (longest and (not after or after in _CLAUSE_END)):
            given = longest
        else:
            given = 0
            for ch in tail[family : family + longest]:
                if given and _starts_with_word(tail[family + given :], data.not_names):
                    break
                given += 1
            if given == 0 or _starts_with_word(tail[family:], data.not_names):
                continue
        if given == 0:
            continue
        if not all(_HAN_RE.fullmatch(c) for c in tail[:family]):
            continue
        spans.append((start, start + family + given, "name"))
    return spans


# --- putting it together --------------------------------------------------------------------------


def _masked(det: str, spans: list[Span]) -> str:
    chars = list(det)
    for start, end, _ in spans:
        chars[start:end] = _MASK * (end - start)
    return "".join(chars)


_PASSES: tuple[Callable[[str], list[Span]], ...] = (
    _email_spans,  # first: 13812345678@163.com is one mailbox, not a phone plus a domain
    _im_spans,  # before numbers: "QQ 1381234567" is the account the person named
    _number_spans,
    _address_spans,  # after numbers: a phone is never the house number of an address
    _name_spans,
)

_MAYBE_PERSONAL = re.compile(r"[0-9@号栋幢座单元本名我信联Qq一二三四五六七八九〇零幺壹贰貳叁叄參肆伍陆陸柒捌玖洞\x00]")


def redact(text: str) -> Redaction:
    """Replace ID numbers, mobiles, bank cards, e-mails, addresses and names with placeholders."""
    det = _detection_copy(text)
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
