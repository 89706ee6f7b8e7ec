"""Identity documents other than the resident ID card: passports, the permits for travel between the
mainland, Hong Kong, Macao and Taiwan, and military and veterans' cards (veterans are a target group
of the policy, so their card numbers are typed into questions).

Two ways to know one:
- the document's word followed by a number: 护照号E12345678, 台胞证 12345678, 军官证号码：南字第1234567号.
  Whatever the number's shape (the formats of these cards changed over the years and differ by
  issuer), 5+ digits right after the word are the card's number;
- the standard shapes on their own: one or two Latin letters glued to 7–10 digits (passports
  E12345678/EA1234567/G12345678/P1234567, 港澳通行证 C12345678, 回乡证 H12345678/M12345678, 台湾通行证
  L12345678, a Taiwan ID A123456789). Policy text never writes a number that way.
Digits are read by the one digit reader (`digits.run_at`), so a number written in Chinese numerals,
full-width or with separators inside is the same number.
"""

from __future__ import annotations

import re

from .digits import Span, fold_digits, run_at

# The document words, longest first so the regex takes the whole name. 居住证 (the residence permits
# of Hong Kong, Macao and Taiwan residents) carry an ID-shaped number that the ID check also finds.
_DOCUMENT_WORDS = (
    "大陆居民往来台湾通行证", "台湾居民来往大陆通行证", "港澳居民来往内地通行证", "往来港澳通行证", "往来台湾通行证",
    "港澳通行证", "台湾通行证", "赴台通行证", "通行证", "台胞证", "回乡证", "护照",
    "退役军人优待证", "退役军人证", "优待证", "退伍证", "复员证", "转业证", "军官证", "士官证", "士兵证", "文职干部证",
    "军人证", "警官证", "学员证", "居住证", "证件",
)  # fmt: skip
_WORD_RE = re.compile(
    rf"(?i)(?:{'|'.join(_DOCUMENT_WORDS)})(?:号码|编号|证号|号)?[\s:：]*(?:是|为)?[\s:：]*"
    # Military cards are numbered "南字第1234567号" (the issuing command's character, 字, 第).
    r"(?P<prefix>(?:[\u4e00-\u9fff]{1,2}字)?第?)\s*(?P<letters>[A-Za-z]{0,3})"
)
_SHAPE_RE = re.compile(r"(?<![A-Za-z0-9_])[A-Za-z]{1,2}(?=[ ]?[0-9])")
_MAX_DIGITS = 20


def _whole_groups(digits: str, groups: tuple[int, ...], limit: int) -> int:
    """How many leading digits make up whole written groups without passing `limit`."""
    count = 0
    for i in range(1, len(digits) + 1):
        if i == len(digits) or groups[i] != groups[i - 1]:
            if i > limit:
                break
            count = i
    return count


def document_spans(det: str) -> list[Span]:
    folded = fold_digits(det)
    spans: list[Span] = []
    for m in _WORD_RE.finditer(folded):
        run = run_at(folded, m.end(), lead=1)
        if run is None:
            continue
        count = _whole_groups(run.digits, run.groups, _MAX_DIGITS)
        if count < 5:
            continue
        start = m.start("prefix") if m.group("prefix") or m.group("letters") else run.where[0]
        end = run.where[count - 1] + 1
        if m.group("prefix").endswith("第") and folded[end : end + 1] == "号":
            end += 1
        tail = re.match(r"\s*[(（][A-Za-z0-9][)）]", folded[end:])  # the check character of 台胞证 1234567890(B)
        if tail:
            end += tail.end()
        spans.append((start, end, "id_document"))
    for m in _SHAPE_RE.finditer(folded):
        if any(a <= m.start() < b for a, b, _ in spans):
            continue
        run = run_at(folded, m.end(), lead=1)
        if run is None or "X" in run.digits or not 7 <= len(run.digits) <= 10 or run.groups[2] != run.groups[0]:
            continue  # (the digits open with a group of 3 or more: E 1234 5678, not m1, 2, 3…)
        end = run.where[-1] + 1
        if re.match(r"[A-Za-z0-9]", folded[end : end + 1]):
            continue
        spans.append((m.start(), end, "id_document"))
    return sorted(spans)


__all__ = ["document_spans"]
