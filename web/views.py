"""Presentation helpers shared by the JSON API and the HTML pages: records → plain dicts, filters, expiry badges.

Nothing here decides *what* answers a question; that stays in the library. These functions only
reshape the library's records for an edge, so the API and the pages show the same fields.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Collection, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from markupsafe import Markup, escape

from assistant.answer import lapsed_note
from assistant.clock import district_today
from assistant.corpus import Chunk, Corpus
from assistant.fusion import Hit
from assistant.periods import lapsed

from .lookup_filters import Filters


def chunk_dict(c: Chunk) -> dict[str, Any]:
    return {
        "id": c.id,
        "doc": c.doc,
        "kind": c.kind,
        "number": c.number if c.kind == "measure" else None,
        "label": c.label,
        "title": c.title,
        "section": c.section,
        "lead_units": list(c.lead_units),
        "text": c.text,
    }


def hit_dict(h: Hit) -> dict[str, Any]:
    return {
        **chunk_dict(h.chunk),
        "score": round(h.score, 4),
        "lexical": round(h.lexical, 4),
        "dense": round(h.dense, 4),
        "coverage": round(h.coverage, 4),
        "why": list(h.why),
    }


def tel_href(phone: str) -> str:
    """`tel:` URI for a published number: digits and the area-code hyphen, nothing else."""
    return "tel:" + "".join(ch for ch in phone if ch.isdigit() or ch in "+-")


def filter_query(unit: str = "", section: str = "", group: str = "", doc: str = "") -> str:
    """doc=…&unit=…&section=…&group=… with only the filters that are set (never a question: see pages.py)."""
    return Filters(doc, section, unit, group).query


def lookup_url(unit: str = "", section: str = "", group: str = "", doc: str = "") -> str:
    """/lookup with only the filters that are set, so links stay short and shareable."""
    return Filters(doc, section, unit, group).url


def marked(text: str, sentences: Iterable[str]) -> Markup:
    """`text` escaped, with each of `sentences` (verbatim parts of it) wrapped in <mark>."""
    spans = sorted((text.find(s), len(s)) for s in sentences if s and s in text)
    out, pos = [], 0
    for at, n in spans:
        if at < pos:
            continue
        out.append(escape(text[pos:at]))
        out.append(Markup("<mark>") + escape(text[at : at + n]) + Markup("</mark>"))
        pos = at + n
    out.append(escape(text[pos:]))
    return Markup("").join(out)


_WHY_KINDS = {"编号": "num", "部门": "unit", "关键词": "kw", "语义": "sem", "问法": "asked"}


def why_kind(reason: str) -> str:
    """CSS class for one `Hit.why` entry ("部门:区妇联" → "unit"); unknown prefixes get "other"."""
    return _WHY_KINDS.get(reason.split(":", 1)[0].split("：", 1)[0], "other")


@dataclass(frozen=True)
class Reason:
    """One reason a hit matched, in words a hotline operator reads at a glance."""

    kind: str  # CSS suffix: num, unit, kw, sem, asked, group, other
    text: str
    title: str = ""


# `Hit.why` tags of the library → the phrase shown on the lookup card.
_REASON_LABELS = {"num": "直接引用", "unit": "责任单位", "kw": "命中关键词", "group": "服务对象"}


def reasons(why: Iterable[str]) -> tuple[Reason, ...]:
    """「编号:第7条」「部门:区妇联」「关键词:外卖、保险」「语义:0.87」 → 「直接引用:第7条」「责任单位:区妇联」
    「命中关键词:外卖、保险」「语义相近」. Tags of one kind merge into one phrase. The similarity number
    reads 0.86–0.92 for almost any question, so it stays out of sight (in the title only)."""
    values: dict[str, list[str]] = {}
    sem: list[str] = []
    asked: list[str] = []
    other: list[str] = []
    for w in why:
        head, _, value = w.replace("：", ":").partition(":")
        kind = _WHY_KINDS.get(head) or ("group" if head == "群体" else "")
        if kind == "sem":
            sem.append(value)
        elif kind == "asked":
            asked.append(value)
        elif kind and value:
            bucket = values.setdefault(kind, [])
            bucket.extend(v for v in value.split("、") if v and v not in bucket)
        else:
            other.append(w)
    out = [Reason(k, f"{_REASON_LABELS[k]}:{'、'.join(values[k])}") for k in ("num", "unit", "kw", "group") if k in values]
    if sem:
        out.append(Reason("sem", "语义相近", f"语义相似度 {sem[0]}(仅供参考)"))
    if asked:  # the topic model (assistant/topics.py): how often labelled questions worded like this were about it
        out.append(Reason("asked", "常见问法", f"措辞相近的已标注问题中 {asked[0]} 问的是这一条"))
    out.extend(Reason("other", w) for w in other)
    return tuple(out)


@dataclass(frozen=True)
class Row:
    """One ranked search result on the lookup page."""

    chunk: Chunk
    hit: Hit | None  # None: a measure the answer shows that retrieval did not rank (a group's list)
    marks: tuple[str, ...]  # sentences of the chunk that answer the question
    rank: int
    matched: bool  # clears the chat's threshold: the chat would quote it
    reasons: tuple[Reason, ...]


def rank_rows(
    found: Sequence[tuple[Hit, tuple[str, ...]]],
    matched: Sequence[tuple[Hit, tuple[str, ...]]],
) -> tuple[list[Row], list[Row]]:
    """(matched rows, weak rows), numbered 1…N in that order. `found` is the ranked search;
    `matched` what the chat's decision keeps, which may name a measure `found` lacks."""
    keep = {h.chunk.id: (h, m) for h, m in matched}
    order = [(h, m) for h, m in found if h.chunk.id in keep]
    order += [keep[cid] for cid in keep if cid not in {h.chunk.id for h, _ in order}]
    weak = [(h, m) for h, m in found if h.chunk.id not in keep]
    rows = [
        Row(h.chunk, h, m, i, i <= len(order), reasons(h.why))
        for i, (h, m) in enumerate([*order, *weak], start=1)
    ]
    return rows[: len(order)], rows[len(order) :]


@dataclass(frozen=True)
class Lapse:
    """The passed deadlines of one chunk, for the lookup's 已过期 badge: the sentences that state
    them and their notes (the chat's notes, word for word)."""

    sentences: tuple[str, ...]
    notes: tuple[str, ...]
    # 已过期 / 已废止 when the whole document has lapsed (its period passed, repealed or superseded):
    # then every chunk of it carries the badge, whichever sentences it shows.
    status: str = ""

    def covers(self, shown: Iterable[str]) -> bool:
        """Every sentence shown as the answer has passed: only then is the card "已过期"; a card
        whose other sentences state no end (第7条's subsidy for graduates) is not."""
        if self.status:
            return True
        shown = tuple(shown)
        return bool(shown) and all(s in self.sentences for s in shown)


def expired_notes(corpus: Corpus, today: dt.date | None = None) -> dict[str, Lapse]:
    """chunk id → its passed deadlines, and its document's own lapse (the chat uses the same notes)."""
    day = today or district_today()
    titles = {d.meta.doc_id: d.meta.title for d in corpus.documents}
    out: dict[str, Lapse] = {}
    for d in corpus.documents:
        doc_note = d.meta.lifecycle_note(day, titles)
        status = d.meta.status(day) if doc_note else ""
        for c in d.chunks:
            passed = lapsed(c, day)
            if passed or doc_note:
                notes = ((doc_note,) if doc_note else ()) + tuple(lapsed_note(dl) for dl in passed)
                out[c.id] = Lapse(tuple(dl.sentence for dl in passed), notes, status)
    return out


def document_status(corpus: Corpus, today: dt.date | None = None) -> dict[str, str]:
    """doc id → 现行 / 已过期 / 已废止 on the district's day."""
    day = today or district_today()
    return {d.meta.doc_id: d.meta.status(day) for d in corpus.documents}


def matches(c: Chunk, unit: str | None, section: str | None, members: Collection[str] | None = None) -> bool:
    """`members`: the ids of a target group's measures when filtering by group, else None."""
    return (
        (not unit or unit in c.lead_units)
        and (not section or c.section == section)
        and (members is None or c.id in members)
    )


def filter_chunks(
    chunks: Iterable[Chunk], unit: str | None = None, section: str | None = None, members: Collection[str] | None = None
) -> list[Chunk]:
    return [c for c in chunks if matches(c, unit, section, members)]


def unit_counts(chunks: Iterable[Chunk]) -> list[tuple[str, int]]:
    """Every responsible unit with how many chunks name it, most-named first (ties: first seen)."""
    counts: dict[str, int] = {}
    for c in chunks:
        for u in c.lead_units:
            counts[u] = counts.get(u, 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])


__all__ = [
    "Lapse",
    "Reason",
    "Row",
    "chunk_dict",
    "document_status",
    "expired_notes",
    "filter_chunks",
    "filter_query",
    "hit_dict",
    "lookup_url",
    "marked",
    "matches",
    "rank_rows",
    "reasons",
    "tel_href",
    "unit_counts",
    "why_kind",
]
