"""办事指南 (service guide): one chunk per labelled field — 事项名称, 申请条件, 申请材料, 办理时限 …

A field heading may be numbered (「三、申请材料」, 「3.申请材料」, 「（三）申请材料」), in brackets (「【申请材料】」),
followed by a colon (「申请材料：…」) or be a table row (「申请材料 | …」). The recognised headings are the data file
guide_fields.txt beside this module.

A guide written as a 「项目：内容」 list (or a two-column table) names its fields in its own words — 「所需要件：」,
「办结时限：」, 「受理单位：」 — most of which no list of headings holds. When at least two recognised headings use that
form, every line of the same form (a short key, then the colon or the column) is a heading too: the document's own
layout says which lines are its fields, so 「申报时间：…」 is not folded into the 补贴标准 above it.
"""

from __future__ import annotations

import re
from functools import cache
from pathlib import Path

from ...errors import CorpusError
from ..model import Chunk
from .common import Context, Line, Parsed

NAME = "办事指南"

_NUMBER = r"(?:[一二三四五六七八九十]+[、.．]|\d{1,2}[、.．]|[(（][一二三四五六七八九十\d]+[)）])?\s*"


# A key of a 「项目：内容」 line: a few Chinese characters (「申报时间」, 「所需要件」), no punctuation.
_KEYED = re.compile(rf"^{_NUMBER}(?P<k>[\u4e00-\u9fff]{{2,8}})\s*(?:[:：]|\s*[|｜])\s*(?P<rest>.*)$")
# How many recognised headings in the 「项目：内容」 form make a document's other keyed lines headings.
KEYED_MIN = 2


def _entries() -> list[tuple[str, str]]:
    path = Path(__file__).with_name("guide_fields.txt")
    out = []
    for ln in path.read_text(encoding="utf-8").splitlines():
        if ln.strip() and not ln.startswith("#"):
            name, _, role = ln.partition("\t")
            out.append((name.strip(), role.strip()))
    return out


@cache
def field_names() -> tuple[str, ...]:
    # Longest first, so 「补贴期限」 is not read as a shorter heading that prefixes it.
    return tuple(sorted((n for n, _ in _entries()), key=len, reverse=True))


@cache
def item_names() -> frozenset[str]:
    """Headings that name the guide's item (「事项名称」): they head every other field and answer nothing alone."""
    return frozenset(n for n, role in _entries() if role == "item")


@cache
def _heading_re() -> re.Pattern[str]:
    names = "|".join(map(re.escape, field_names()))
    # 【名称】rest | 名称：rest | 名称 | rest | 名称 (alone on its line)
    return re.compile(rf"^{_NUMBER}(?:【(?P<b>{names})】|(?P<n>{names})(?:\s*[:：|｜]|$))\s*(?P<rest>.*)$")


def _match(text: str) -> re.Match[str] | None:
    return _heading_re().match(text)


def score(lines: list[Line]) -> float:
    found = {m["b"] or m["n"] for _, t in lines if (m := _match(t))}
    return 3.0 * len(found)


def _keyed(lines: list[Line]) -> dict[int, tuple[str, str]]:
    """The lines of a 「项目：内容」 list (index → key, rest) when its recognised headings use that form, else none."""
    keyed = {k: (m["k"], m["rest"]) for k, (_, t) in enumerate(lines) if (m := _KEYED.match(t))}
    known = sum(1 for key, _ in keyed.values() if key in field_names())
    return keyed if known >= KEYED_MIN else {}


def parse(lines: list[Line], ctx: Context) -> Parsed:
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    keyed = _keyed(lines)
    heads = [k for k, (_, t) in enumerate(lines) if _match(t) or k in keyed]
    if not heads:
        raise CorpusError(ctx.path, None, "找不到办事指南的栏目标题(如“申请条件”“申请材料”)")
    item_name = ""
    for pos, k in enumerate(heads):
        end = heads[pos + 1] if pos + 1 < len(heads) else len(lines)
        n, ln = lines[k]
        m = _match(ln)
        name, rest = (m["b"] or m["n"], m["rest"]) if m is not None else keyed[k]
        rest = rest.strip().strip("|｜").strip()
        text = "\n".join([rest, *(t.strip("|｜ ") for _, t in lines[k + 1 : end])]).strip()
        if not text:
            continue  # a heading with nothing under it says nothing to quote
        if name in item_names():
            # The item's name heads every other field (their section); on its own it answers nothing.
            item_name = text.splitlines()[0]
            continue
        seen[name] = seen.get(name, 0) + 1
        local = f"f{pos + 1}"  # the heading's position, so ids stay put when a field is empty or skipped
        chunks.append(Chunk(ctx.cid(local), ctx.doc_id, "field", None, name, item_name, text, (), n, ref=name))
    if not chunks:
        raise CorpusError(ctx.path, lines[heads[0]][0], "办事指南的栏目下都没有内容")
    return Parsed(NAME, tuple(chunks))
