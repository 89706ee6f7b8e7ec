"""办事指南 (service guide): one chunk per labelled field — 事项名称, 申请条件, 申请材料, 办理时限 …

A field heading may be numbered (「三、申请材料」, 「3.申请材料」, 「（三）申请材料」), in brackets (「【申请材料】」),
followed by a colon (「申请材料：…」) or be a table row (「申请材料 | …」). The recognised headings are the data file
guide_fields.txt beside this module.
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


@cache
def field_names() -> tuple[str, ...]:
    path = Path(__file__).with_name("guide_fields.txt")
    names = [ln.strip() for ln in path.read_text(encoding="utf-8").splitlines()]
    # Longest first, so 「补贴期限」 is not read as a shorter heading that prefixes it.
    return tuple(sorted((n for n in names if n and not n.startswith("#")), key=len, reverse=True))


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


def parse(lines: list[Line], ctx: Context) -> Parsed:
    chunks: list[Chunk] = []
    seen: dict[str, int] = {}
    heads = [k for k, (_, t) in enumerate(lines) if _match(t)]
    if not heads:
        raise CorpusError(ctx.path, None, "找不到办事指南的栏目标题(如“申请条件”“申请材料”)")
    item_name = ""
    for pos, k in enumerate(heads):
        end = heads[pos + 1] if pos + 1 < len(heads) else len(lines)
        n, ln = lines[k]
        m = _match(ln)
        assert m is not None
        name = m["b"] or m["n"]
        rest = m["rest"].strip().strip("|｜").strip()
        text = "\n".join([rest, *(t.strip("|｜ ") for _, t in lines[k + 1 : end])]).strip()
        if not text:
            continue  # a heading with nothing under it says nothing to quote
        if name == "事项名称":
            # The item's name heads every other field (their section); on its own it answers nothing.
            item_name = text.splitlines()[0]
            continue
        seen[name] = seen.get(name, 0) + 1
        local = f"f{pos + 1}"  # the heading's position, so ids stay put when a field is empty or skipped
        chunks.append(Chunk(ctx.cid(local), ctx.doc_id, "field", None, name, item_name, text, (), n, ref=name))
    if not chunks:
        raise CorpusError(ctx.path, lines[heads[0]][0], "办事指南的栏目下都没有内容")
    return Parsed(NAME, tuple(chunks))
