"""Chinese numerals as documents number their parts: 一 … 九十九, 一百, 一百零二, 二百一十 (and ASCII digits)."""

from __future__ import annotations

_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}
_UNITS = {"十": 10, "百": 100, "千": 1000}

# Characters a numeral may be written with, for regular expressions that find numbered headings.
NUMERAL_CHARS = "".join(_DIGITS) + "".join(_UNITS)


def cn_to_int(text: str) -> int | None:
    """一→1, 十四→14, 九十九→99, 一百零二→102, 二百一十→210, "7"→7; None if `text` is not such a numeral.

    A unit must follow a digit (「百」 alone is not a number; 「十」 alone and 「十四」 are, as people write them), units
    descend (「十百」 is not a number) and 零 only stands for a skipped unit (一百零二)."""
    if text.isascii() and text.isdigit():
        return int(text)
    if not text or any(c not in _DIGITS and c not in _UNITS for c in text):
        return None
    if len(text) == 1 and text in _DIGITS:
        return _DIGITS[text]
    total, digit, last_unit, zero = 0, None, 10_000, False
    for i, c in enumerate(text):
        if c in _DIGITS:
            value = _DIGITS[c]
            if digit is not None:  # two digits in a row: only 「零」 then a digit (一百零二)
                if not zero:
                    return None
            if value == 0:
                if zero or i == 0:
                    return None
                zero = True
                digit = 0
                continue
            digit = value
        else:
            unit = _UNITS[c]
            if unit >= last_unit:
                return None
            if digit is None:
                if i != 0 or unit != 10:  # 「十四」 yes, 「百」 no
                    return None
                digit = 1
            if digit == 0:
                return None
            total += digit * unit
            last_unit, digit, zero = unit, None, False
    if digit is not None:
        if zero and digit == 0:
            return None
        # a trailing digit after 零 (一百零二) is ones; after a unit without 零 (一百二 = 120) it is one order down
        if zero or last_unit == 10 or last_unit == 10_000:
            total += digit
        else:
            total += digit * (last_unit // 10)
    return total
