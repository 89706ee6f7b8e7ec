"""Follow-up questions: 「那找哪个部门？」 right after an answer is about that answer.

The caller passes the ids of the previous answer's measures (`context`). A question with no topic
of its own (see `intent.QuestionIntent.elliptical`) is answered about them; without a context it
must not be matched at random, so the assistant asks which measure is meant. A question with its
own evidence — a new topic, a cited number, a group — ignores the context.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from .corpus import Chunk, Corpus, cn_to_int
from .intent import QuestionIntent

# A previous answer lists at most a handful of measures; a longer context (a group list) is cut
# to its first measures, which are its most relevant.
MAX_CONTEXT = 3

# 「第二个找谁」 after an answer listing several measures: the second of them, not measure 2. Only
# "个" (the policy itself numbers its measures with 条), and only within the previous answer's whole
# list (a group answer may list more than MAX_CONTEXT: 「第四个」 is still one of them).
_ORDINAL_RE = re.compile(r"第\s*([1-9]|[一二三四五六七八九两])\s*个")


@dataclass(frozen=True)
class Resolution:
    kind: str  # "context": answer about these chunks | "clarify": ask which measure | "own": ignore context
    chunks: tuple[Chunk, ...] = ()


def clean_context(corpus: Corpus, context: Iterable[str] | None, limit: int | None = MAX_CONTEXT) -> tuple[Chunk, ...]:
    """Known chunks of the context, in order, without repeats, at most `limit`; unknown ids are
    dropped, since a stale tab may send ids of an older corpus."""
    out: list[Chunk] = []
    for cid in context or ():
        c = corpus.chunk(cid) if isinstance(cid, str) else None
        if c is not None and c not in out:
            out.append(c)
    return tuple(out[:limit])


def resolve(intent: QuestionIntent, context: tuple[Chunk, ...], cited: bool, question: str = "") -> Resolution:
    if len(context) > 1 and (m := _ORDINAL_RE.search(question)):
        n = cn_to_int(m[1])
        if n is not None and 1 <= n <= len(context):
            return Resolution("context", (context[n - 1],))
    if cited or not intent.elliptical:
        return Resolution("own")
    if context:
        return Resolution("context", context[:MAX_CONTEXT])
    return Resolution("clarify")


__all__ = ["MAX_CONTEXT", "Resolution", "clean_context", "resolve"]
