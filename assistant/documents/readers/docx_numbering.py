"""Word's automatic numbering, recomputed: the 「一、」 or 「1.」 Word draws before a heading or list item is not in the
paragraph's text but in word/numbering.xml, and people cite documents by those numbers.

A paragraph is numbered through its own <w:numPr> or its style's (styles inherit through <w:basedOn>). A <w:num>
instance points at an <w:abstractNum> whose <w:lvl> elements give each level's start, format (numFmt) and pattern
(lvlText, 「%1、」, 「（%2）」). Instances of one abstract list continue its count, as Word does, unless they override a
level's start; an item resets the count of every deeper level.

python-docx exposes none of this, so it is read here from the lxml elements python-docx parsed.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass

W = "{http://schemas.openxmlformats.org/wordprocessingml/2006/main}"


def qn(name: str) -> str:
    return W + name.removeprefix("w:")


MAX_LEVELS = 9
CHINESE_DIGITS = "零一二三四五六七八九"
CAPITAL_DIGITS = "零壹贰叁肆伍陆柒捌玖"
HEAVENLY_STEMS = "甲乙丙丁戊己庚辛壬癸"
EARTHLY_BRANCHES = "子丑寅卯辰巳午未申酉戌亥"


def chinese_number(n: int, digits: str = CHINESE_DIGITS, units: str = "十百千") -> str:
    """1 → 一, 10 → 十, 12 → 十二, 20 → 二十, 105 → 一百零五 (as Word's chineseCounting writes them)."""
    if n <= 0 or n >= 10000:
        return str(n)
    parts, zero = [], False
    for power, unit in ((1000, units[2]), (100, units[1]), (10, units[0]), (1, "")):
        digit = n // power % 10
        if digit == 0:
            zero = bool(parts)
            continue
        if zero:
            parts.append(digits[0])
            zero = False
        parts.append(digits[digit] + unit)
    text = "".join(parts)
    return text[1:] if 10 <= n < 20 and digits is CHINESE_DIGITS else text  # 十二, not 一十二


def _letters(n: int) -> str:
    # Word: a…z, then aa…zz, aaa…
    return chr(ord("a") + (n - 1) % 26) * ((n - 1) // 26 + 1) if n > 0 else str(n)


def _roman(n: int) -> str:
    if not 0 < n < 4000:
        return str(n)
    out = []
    for value, numeral in (
        (1000, "m"),
        (900, "cm"),
        (500, "d"),
        (400, "cd"),
        (100, "c"),
        (90, "xc"),
        (50, "l"),
        (40, "xl"),
        (10, "x"),
        (9, "ix"),
        (5, "v"),
        (4, "iv"),
        (1, "i"),
    ):
        count, n = divmod(n, value)
        out.append(numeral * count)
    return "".join(out)


def _cycle(symbols: str) -> Callable[[int], str]:
    return lambda n: symbols[(n - 1) % len(symbols)] if n > 0 else str(n)


def _enclosed(first: int, last: int) -> Callable[[int], str]:
    return lambda n: chr(first + n - 1) if 1 <= n <= last else str(n)


FORMATS: dict[str, Callable[[int], str]] = {
    "decimal": str,
    "decimalZero": lambda n: f"{n:02d}",
    "decimalHalfWidth": str,
    "decimalFullWidth": lambda n: str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    "decimalFullWidth2": lambda n: str(n).translate(str.maketrans("0123456789", "０１２３４５６７８９")),
    "chineseCounting": chinese_number,
    "chineseCountingThousand": chinese_number,
    "japaneseCounting": chinese_number,
    "taiwaneseCounting": chinese_number,
    "taiwaneseCountingThousand": chinese_number,
    "chineseLegalSimplified": lambda n: chinese_number(n, CAPITAL_DIGITS, "拾佰仟"),
    "ideographLegalTraditional": lambda n: chinese_number(n, CAPITAL_DIGITS, "拾佰仟"),
    "ideographTraditional": _cycle(HEAVENLY_STEMS),
    "ideographZodiac": _cycle(EARTHLY_BRANCHES),
    "decimalEnclosedCircle": _enclosed(0x2460, 20),  # ①
    "decimalEnclosedCircleChinese": _enclosed(0x2460, 20),
    "ideographEnclosedCircle": _enclosed(0x3280, 10),  # ㊀
    "decimalEnclosedParen": _enclosed(0x2474, 20),  # ⑴
    "decimalEnclosedFullstop": _enclosed(0x2488, 20),  # ⒈
    "lowerLetter": _letters,
    "upperLetter": lambda n: _letters(n).upper(),
    "lowerRoman": _roman,
    "upperRoman": lambda n: _roman(n).upper(),
    "none": lambda n: "",
}
# A label ending in one of these needs no space before the text (「一、申请对象」, 「（1）居民身份证」).
LABEL_PUNCTUATION = "、.．)）]】:："


@dataclass(frozen=True)
class _Level:
    start: int
    fmt: str
    text: str  # lvlText, e.g. "%1、"
    legal: bool  # isLgl: every level shown as decimal
    style: str | None  # pStyle: the paragraph style this level is linked to


def _val(element, tag: str) -> str | None:
    child = element.find(qn(tag)) if element is not None else None
    return child.get(qn("w:val")) if child is not None else None


def _int(value: str | None, default: int) -> int:
    try:
        return int(value) if value is not None else default
    except ValueError:
        return default


class WordNumbering:
    """The labels of one document's numbered paragraphs, computed in reading order (call `label` for each paragraph,
    in order: counting is stateful, as it is in Word)."""

    def __init__(self, numbering_element, styles_element) -> None:
        self.abstract: dict[str, dict[int, _Level]] = {}
        self.style_links: dict[str, str] = {}  # abstractNum numStyleLink → style id
        self.nums: dict[str, tuple[str, dict[int, int]]] = {}  # numId → (abstractNumId, {level: start override})
        self.style_num: dict[str, tuple[str | None, int | None]] = {}
        self.style_based_on: dict[str, str] = {}
        self.counters: dict[str, list[int | None]] = {}
        self.started: set[str] = set()
        self.unknown_formats: set[str] = set()
        self.missing_lists = 0  # numbered paragraphs whose list definition is missing from numbering.xml
        if numbering_element is not None:
            self._read_numbering(numbering_element)
        if styles_element is not None:
            self._read_styles(styles_element)

    def _read_numbering(self, root) -> None:
        for abstract in root.iter(qn("w:abstractNum")):
            levels: dict[int, _Level] = {}
            for lvl in abstract.findall(qn("w:lvl")):
                levels[_int(lvl.get(qn("w:ilvl")), 0)] = _Level(
                    start=_int(_val(lvl, "w:start"), 1),
                    fmt=_val(lvl, "w:numFmt") or "decimal",
                    text=_val(lvl, "w:lvlText") or "",
                    legal=lvl.find(qn("w:isLgl")) is not None,
                    style=_val(lvl, "w:pStyle"),
                )
            abstract_id = abstract.get(qn("w:abstractNumId"))
            self.abstract[abstract_id] = levels
            link = _val(abstract, "w:numStyleLink")
            if link and not levels:
                self.style_links[abstract_id] = link
        for num in root.iter(qn("w:num")):
            overrides = {}
            for override in num.findall(qn("w:lvlOverride")):
                start = _val(override, "w:startOverride")
                if start is not None:
                    overrides[_int(override.get(qn("w:ilvl")), 0)] = _int(start, 1)
            self.nums[num.get(qn("w:numId"))] = (_val(num, "w:abstractNumId"), overrides)

    def _read_styles(self, root) -> None:
        for style in root.iter(qn("w:style")):
            style_id = style.get(qn("w:styleId"))
            based_on = _val(style, "w:basedOn")
            if based_on:
                self.style_based_on[style_id] = based_on
            num_pr = style.find(f"{qn('w:pPr')}/{qn('w:numPr')}")
            if num_pr is not None:
                ilvl = _val(num_pr, "w:ilvl")
                self.style_num[style_id] = (_val(num_pr, "w:numId"), int(ilvl) if ilvl is not None else None)

    def _style_numbering(self, style_id: str | None) -> tuple[str | None, int | None]:
        seen = set()
        while style_id and style_id not in seen:
            seen.add(style_id)
            if style_id in self.style_num:
                return self.style_num[style_id]
            style_id = self.style_based_on.get(style_id)
        return None, None

    def _levels(self, abstract_id: str | None) -> dict[int, _Level]:
        levels = self.abstract.get(abstract_id or "", {})
        if not levels and abstract_id in self.style_links:
            # A list defined through a numbering style: follow the style to the list that holds the levels.
            num_id, _ = self._style_numbering(self.style_links[abstract_id])
            linked = self.nums.get(num_id or "")
            if linked and linked[0] != abstract_id:
                levels = self.abstract.get(linked[0] or "", {})
        return levels

    def label(self, paragraph) -> str | None:
        """The number Word shows before `paragraph` (a <w:p> element), or None. Unknown formats are collected in
        `unknown_formats` and yield None."""
        p_pr = paragraph.find(qn("w:pPr"))
        style_id = _val(p_pr, "w:pStyle")
        num_pr = p_pr.find(qn("w:numPr")) if p_pr is not None else None
        num_id, ilvl = self._style_numbering(style_id)
        if num_pr is not None:
            num_id = _val(num_pr, "w:numId") or num_id
            own_level = _val(num_pr, "w:ilvl")
            ilvl = int(own_level) if own_level is not None else ilvl
        if not num_id or num_id == "0":
            return None  # numId 0 switches numbering off
        if num_id not in self.nums:
            self.missing_lists += 1
            return None
        abstract_id, overrides = self.nums[num_id]
        levels = self._levels(abstract_id)
        if ilvl is None:
            # A style linked to a level (<w:pStyle> inside <w:lvl>) uses that level.
            ilvl = next((n for n, lvl in levels.items() if style_id and lvl.style == style_id), 0)
        ilvl = min(max(ilvl, 0), MAX_LEVELS - 1)
        if ilvl not in levels:
            self.missing_lists += 1
            return None
        key = abstract_id or num_id
        counters = self.counters.setdefault(key, [None] * MAX_LEVELS)
        if num_id not in self.started:
            self.started.add(num_id)
            for level, start in overrides.items():
                if 0 <= level < MAX_LEVELS:
                    counters[level] = start - 1
                    for deeper in range(level + 1, MAX_LEVELS):
                        counters[deeper] = None
        current = counters[ilvl]
        counters[ilvl] = (current + 1) if current is not None else levels[ilvl].start
        for deeper in range(ilvl + 1, MAX_LEVELS):
            counters[deeper] = None
        level = levels[ilvl]
        if level.fmt == "bullet":
            return None  # a bullet is not a number anyone cites

        def number(match: re.Match[str]) -> str:
            ref = int(match.group(1)) - 1
            ref_level = levels.get(ref)
            if ref_level is None:
                return ""
            value = counters[ref] if counters[ref] is not None else ref_level.start
            fmt = "decimal" if level.legal and ref != ilvl else ref_level.fmt
            formatter = FORMATS.get(fmt)
            if formatter is None:
                self.unknown_formats.add(fmt)
                raise _Unknown
            return formatter(value)

        try:
            text = re.sub(r"%([1-9])", number, level.text)
        except _Unknown:
            return None
        return text or None


class _Unknown(Exception):
    pass


def prefix(label: str | None, text: str) -> str:
    """`text` with Word's number in front, unless the author also typed it."""
    if not label:
        return text
    if text.startswith(label) and not text[len(label) :][:1].isdigit():  # typed too (but 「1.5万元」 is no 「1.」)
        return text
    separator = "" if label[-1] in LABEL_PUNCTUATION else " "
    return f"{label}{separator}{text}"
