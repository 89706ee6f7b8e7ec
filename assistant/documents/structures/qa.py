"""政策问答 / 解读: 「问：…答：…」, 「Q1：…A1：…」 or numbered questions ending in ？ followed by their answer.

One chunk per pair, cited by its question; the chunk's text is the answer, quoted verbatim.
"""

from __future__ import annotations

import re

from ...errors import CorpusError
from ..model import Chunk
from .common import Context, Line, Parsed
from .gongwen import deadlines

NAME = "问答"

_ASK_RE = re.compile(r"^(?:问|提问|Q\s*\d*|【问】)\s*[:：.、]?\s*(?P<q>.+)$", re.IGNORECASE)
_ANSWER_RE = re.compile(r"^(?:答|回答|解答|A\s*\d*|【答】)\s*[:：.、]\s*(?P<a>.*)$", re.IGNORECASE)
_NUMBERED_Q_RE = re.compile(r"^(?:\d{1,2}[.．、]|[一二三四五六七八九十]+、|[(（][一二三四五六七八九十\d]+[)）])\s*(?P<q>.+[？?])$")


def _question(text: str) -> str | None:
    if (m := _ASK_RE.match(text)) and not _ANSWER_RE.match(text) and (text[0] in "问提【" or m["q"].endswith(("？", "?"))):
        return m["q"].strip()
    if m := _NUMBERED_Q_RE.match(text):
        return m["q"].strip()
    return None


def score(lines: list[Line]) -> float:
    asks = sum(1 for _, t in lines if _question(t))
    answers = sum(1 for _, t in lines if _ANSWER_RE.match(t))
    return 2.0 * asks + answers


def parse(lines: list[Line], ctx: Context) -> Parsed:
    chunks: list[Chunk] = []
    warnings: list[str] = []
    heads = [k for k, (_, t) in enumerate(lines) if _question(t)]
    if not heads:
        raise CorpusError(ctx.path, None, "找不到问答(如“问:…答:…”)")
    for pos, k in enumerate(heads):
        end = heads[pos + 1] if pos + 1 < len(heads) else len(lines)
        n, ln = lines[k]
        question = _question(ln)
        assert question is not None
        answer_lines = []
        for _, t in lines[k + 1 : end]:
            m = _ANSWER_RE.match(t)
            answer_lines.append(m["a"].strip() if m else t)
        answer = "\n".join(a for a in answer_lines if a).strip()
        if not answer:
            warnings.append(f"第{n}行:问题“{question}”后没有答案,已跳过")
            continue
        chunks.append(
            Chunk(ctx.cid(f"q{len(chunks) + 1}"), ctx.doc_id, "qa", len(chunks) + 1, question, "", answer, (), n, deadlines(answer), ref=question)
        )
    if not chunks:
        raise CorpusError(ctx.path, lines[heads[0]][0], "问答中没有任何答案")
    return Parsed(NAME, tuple(chunks), warnings=tuple(warnings))
