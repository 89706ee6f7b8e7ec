"""Who says what: each quoted chunk's document, citation and phone, the order documents are shown in, and the
related rules named under a measure («相关细则»). Pure functions over the corpus, used by answer.py."""

from __future__ import annotations

import datetime as dt
from dataclasses import replace
from typing import TYPE_CHECKING, Any

from .links import rule_links
from .model import Chunk, Corpus

if TYPE_CHECKING:  # answer.py imports this module; only the types flow back
    from ..answer import MeasureAnswer
    from ..planner import Plan


def attribution(chunk: Chunk, corpus: Corpus) -> dict[str, str]:
    """label / doc_title / doc_number / phone for one chunk (GUIDE §3): the chunk's own document's phone, the
    primary's only when that document states none."""
    doc = corpus.document(chunk.doc) or corpus.primary_doc
    return {
        "label": chunk.cite,
        "doc_title": doc.meta.title,
        "doc_number": doc.meta.number,
        "phone": doc.meta.phone or corpus.primary_doc.meta.phone,
    }


def heading_states(chunk: Chunk, question: str) -> bool:
    """A guide's field whose heading names what was asked (「申请材料」 for 「要带哪些材料」) states it, whatever its
    sentences look like: a list of documents has none of the words the intents look for in a sentence."""
    if chunk.kind != "field":
        return False
    return any(chunk.cite[i : i + 2] in question for i in range(len(chunk.cite) - 1))


def order_by_document(plan: Plan, corpus: Corpus, today: dt.date) -> Plan:
    """When an answer quotes more than one document: a current document before a lapsed one — except the chunk the
    retriever put first because it states what was asked and the chunks after it do not (Retrieval.stated_first):
    「春风行动招聘会几点开始」 is answered by the lapsed notice's 活动时间, flagged 已过期, not by a current measure
    that says nothing of it. Which chunk states what was asked is the retriever's decision (documents/fields.py),
    made on evidence the primary's answer does not depend on; it is not revisited here."""
    if len({s.hit.chunk.doc for s in plan.shown}) < 2:
        return plan
    r = plan.retrieval
    kept = 1 if r.stated_first and r.matched and plan.shown[0].hit.chunk.id == r.matched[0].chunk.id else 0

    def key(i: int) -> tuple[bool, int]:
        s = plan.shown[i]
        doc = corpus.document(s.hit.chunk.doc)
        lapsed = doc is not None and doc.meta.status(today) != "现行"
        return (lapsed, i)

    order = [*range(kept), *sorted(range(kept, len(plan.shown)), key=key)]
    return replace(plan, shown=tuple(plan.shown[i] for i in order))


def related_lines(measures: tuple[MeasureAnswer, ...], corpus: Corpus) -> dict[str, tuple[str, ...]]:
    """「相关细则:《…》第三条」 under each primary measure that a related rule implements (and is not quoted already)."""
    links = rule_links(corpus)
    shown = {m.id for m in measures}
    out: dict[str, tuple[str, ...]] = {}
    for m in measures:
        lines = []
        for link in links.get(m.id, ()):
            chunk = corpus.chunk(link.chunk)
            doc = corpus.document(link.doc)
            if chunk is None or doc is None or chunk.id in shown:
                continue
            number = f"({doc.meta.number})" if doc.meta.number else ""
            lines.append(f"《{doc.meta.title}》{number}{chunk.cite}")
        if lines:
            out[m.id] = tuple(lines)
    return out


def document_summary(corpus: Corpus, today: dt.date) -> list[dict[str, Any]]:
    """The library as `GET /api/documents` and `policy-assistant documents` list it."""
    out = []
    for d in corpus.documents:
        m = d.meta
        out.append(
            {
                "id": m.doc_id,
                "title": m.title,
                "number": m.number,
                "structure": m.structure,
                "format": m.format,
                "chunks": len(d.chunks),
                "written": m.written.isoformat() if m.written else None,
                "published": m.published.isoformat() if m.published else None,
                "effective": m.effective.isoformat() if m.effective else None,
                "expires": m.expires.isoformat() if m.expires else None,
                "status": m.status(today),
                "primary": m.doc_id == corpus.primary,
                "phone": m.phone,
                "warnings": list(m.warnings),
            }
        )
    return out
