"""条文 (办法 / 细则 / 规定 / 条例): 第X章 (第X节) → 第X条 → 款 and 项 inside their 条.

One chunk per 条, cited as written (「第五条」), its 章 (and 节) as section. What precedes the first 条 (title, 文号,
「（2025年3月1日起施行）」) is metadata, read by metadata.py, not a chunk.
"""

from __future__ import annotations

import re

from ...errors import CorpusError
from ..model import Chunk
from ..numerals import NUMERAL_CHARS, cn_to_int
from .common import Context, Line, Parsed, short_title
from .gongwen import deadlines

NAME = "条文"

_N = f"[{NUMERAL_CHARS}\\d]+"
ARTICLE_RE = re.compile(rf"^第({_N})条(?:[\s　]+|(?=[【\[(（])|$)?(.*)$")
CHAPTER_RE = re.compile(rf"^第({_N})章[\s　]*(.*)$")
SECTION_RE = re.compile(rf"^第({_N})节[\s　]*(.*)$")
# An article's own heading, where the document gives one: 「第五条【申请条件】…」 or 「第五条（申请条件）…」.
_OWN_TITLE_RE = re.compile(r"^[【\[(（]([^】\])）]{1,16})[】\])）]")


def score(lines: list[Line]) -> float:
    articles = sum(1 for _, t in lines if ARTICLE_RE.match(t))
    chapters = sum(1 for _, t in lines if CHAPTER_RE.match(t))
    return 3.0 * articles + chapters


def parse(lines: list[Line], ctx: Context) -> Parsed:
    chunks: list[Chunk] = []
    warnings: list[str] = []
    chapter = sub = ""
    seen: dict[int, int] = {}
    expected = 1
    i = 0
    first = next((k for k, (_, t) in enumerate(lines) if ARTICLE_RE.match(t)), None)
    if first is None:
        raise CorpusError(ctx.path, None, "找不到任何“第X条”")
    i = 0
    while i < len(lines):
        n, ln = lines[i]
        if m := CHAPTER_RE.match(ln):
            chapter, sub = f"第{m[1]}章 {m[2]}".strip(), ""
            i += 1
            continue
        if m := SECTION_RE.match(ln):
            sub = f"第{m[1]}节 {m[2]}".strip()
            i += 1
            continue
        m = ARTICLE_RE.match(ln)
        if not m:
            i += 1  # the preamble before the first 条 and anything between 章 headings
            continue
        j = i + 1
        while j < len(lines) and not (ARTICLE_RE.match(lines[j][1]) or CHAPTER_RE.match(lines[j][1]) or SECTION_RE.match(lines[j][1])):
            j += 1
        # 款 are the article's paragraphs; they stay separate lines so the quote keeps its shape.
        first_line = m[2].strip()
        text = "\n".join([first_line, *(t for _, t in lines[i + 1 : j])]).strip()
        i = j
        number = cn_to_int(m[1])
        if number is None:
            warnings.append(f"第{n}行:条号“第{m[1]}条”无法识别,已按出现顺序编号")
            number = expected
        if number != expected:
            warnings.append(f"第{n}行:条号应为第{expected}条,实际为第{m[1]}条(原文编号可能有误)")
        expected = number + 1
        own = _OWN_TITLE_RE.match(text)
        title = own[1] if own else short_title(text)
        seen[number] = seen.get(number, 0) + 1
        local = f"a{number}" if seen[number] == 1 else f"a{number}-{seen[number]}"
        section = " ".join(s for s in (chapter, sub) if s)
        chunks.append(
            Chunk(ctx.cid(local), ctx.doc_id, "article", number, title, section, text, (), n, deadlines(text), ref=f"第{m[1]}条")
        )
    return Parsed(NAME, tuple(chunks), warnings=tuple(warnings))
