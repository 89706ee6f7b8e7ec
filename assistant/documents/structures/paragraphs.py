"""The fallback: a document whose numbering no structure recognises is chunked by paragraph, with a warning.

The first line is taken as the title when it reads like one (short, no sentence mark); every other non-empty line is a
paragraph. Never raises on a non-empty text: an odd document is still findable, and the report says why it looks odd.
"""

from __future__ import annotations

from ...errors import CorpusError
from ..model import Chunk
from .common import Context, Line, Parsed, short_title
from .gongwen import deadlines

NAME = "段落"
WARNING = "未识别出文件结构(公文编号、第X条、办事指南栏目或问答),已按段落切分"


def score(lines: list[Line]) -> float:
    return 0.0


def parse(lines: list[Line], ctx: Context) -> Parsed:
    if not lines:
        raise CorpusError(ctx.path, None, "文件为空")
    title = ""
    body = lines
    if len(lines) > 1 and len(lines[0][1]) <= 40 and not any(p in lines[0][1] for p in "。；;"):
        title, body = lines[0][1], lines[1:]
    chunks = tuple(
        Chunk(ctx.cid(f"p{k}"), ctx.doc_id, "paragraph", k, short_title(t), "", t, (), n, deadlines(t), ref=f"第{k}段")
        for k, (n, t) in enumerate(body, start=1)
    )
    return Parsed(NAME, chunks, title=title, warnings=(WARNING,))
