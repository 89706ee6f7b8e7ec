"""Hits → Answer record → text, through Jinja2 templates. Nothing here writes policy content:
every sentence a citizen reads is either quoted from the corpus or fixed template wording."""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import asdict, dataclass
from functools import cache
from typing import Any

import jinja2

from .corpus import Chunk, Corpus
from .retrieve import Hit, Retrieval

_THIS_YEAR_RE = re.compile(r"(?<![0-9一二两三四五六七八九十几])年内")


@dataclass(frozen=True)
class MeasureAnswer:
    id: str
    number: int | None
    doc: str
    title: str
    section: str
    quote: str
    lead_units: tuple[str, ...]
    notes: tuple[str, ...]
    score: float


@dataclass(frozen=True)
class Answer:
    """The answer contract of GUIDE §3; `to_dict()` is exactly what the CLI and HTTP return."""

    question: str
    matched: bool
    kind: str
    measures: tuple[MeasureAnswer, ...]
    phone: str
    answer: str

    def to_dict(self) -> dict[str, Any]:
        d = asdict(self)
        for m in d["measures"]:
            m["lead_units"] = list(m["lead_units"])
            m["notes"] = list(m["notes"])
        d["measures"] = list(d["measures"])
        return d


@cache
def template_env(html: bool = False) -> jinja2.Environment:
    """The package's Jinja2 templates. Plain text (answers) is not escaped; HTML (the eval report)
    is, because questions are arbitrary text and some are injection attempts."""
    return jinja2.Environment(
        loader=jinja2.PackageLoader("assistant", "templates"),
        autoescape=html,
        trim_blocks=True,
        lstrip_blocks=True,
        undefined=jinja2.StrictUndefined,
    )


def _fmt_date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


def validity_notes(chunk: Chunk, corpus: Corpus, today: dt.date) -> tuple[str, ...]:
    """Warnings a reader needs that the quote alone does not give: passed deadlines, "年内"."""
    doc = next(d for d in corpus.documents if d.meta.doc_id == chunk.doc)
    notes = []
    for dl in chunk.deadlines:
        if dl.date < today:
            notes.append(f"本条写明的期限“{dl.phrase}”已过({_fmt_date(dl.date)}),现行做法请以最新政策为准。")
    # "年内" alone means "this year"; "2年内" is a duration and needs no note.
    if _THIS_YEAR_RE.search(chunk.text) and doc.meta.written:
        notes.append(f"文中“年内”指文件印发当年,即{doc.meta.written.year}年。")
    if chunk.kind == "notice" and not doc.meta.get("有效性"):
        notes.append("原文“有效性”一栏未填写,文件是否仍在有效期内请电话咨询。")
    return tuple(notes)


def _measure(hit: Hit, corpus: Corpus, today: dt.date) -> MeasureAnswer:
    c = hit.chunk
    return MeasureAnswer(
        id=c.id,
        number=c.number if c.kind == "measure" else None,
        doc=c.doc,
        title=c.title,
        section=c.section,
        quote=c.text,
        lead_units=c.lead_units,
        notes=validity_notes(c, corpus, today),
        score=round(hit.score, 4),
    )


def suggestions(corpus: Corpus) -> tuple[str, ...]:
    """One example per section, from the corpus itself: the title of its first measure."""
    seen: dict[str, str] = {}
    for c in corpus.primary_doc.measures:
        seen.setdefault(c.section, c.title)
    return tuple(seen.values())


def compose(retrieval: Retrieval, corpus: Corpus, today: dt.date | None = None) -> Answer:
    today = today or dt.date.today()
    meta = corpus.primary_doc.meta
    measures = tuple(_measure(h, corpus, today) for h in retrieval.matched)
    kind = retrieval.kind
    template = {"answer": "answer.txt.j2", "no_match": "no_match.txt.j2", "greeting": "greeting.txt.j2"}[kind]
    labels = {m.id: (h.chunk.label) for m, h in zip(measures, retrieval.matched, strict=True)}
    text = template_env().get_template(template).render(
        measures=measures,
        labels=labels,
        doc_title=meta.title,
        doc_number=meta.number,
        phone=meta.phone,
        dept=meta.consult_dept,
        thanks=any(w in retrieval.expansion.normalized for w in ("谢", "thank")),
        examples=suggestions(corpus)[:4],
        n_measures=len(corpus.primary_doc.measures),
    )
    return Answer(
        question=retrieval.question,
        matched=bool(measures),
        kind=kind,
        measures=measures,
        phone=meta.phone,
        answer=text.strip(),
    )
