"""Presentation helpers shared by the JSON API and the HTML pages: records → plain dicts, filters, groups.

Nothing here decides *what* answers a question; that stays in the library. These functions only
reshape the library's records for an edge, so the API and the pages show the same fields.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable
from dataclasses import dataclass
from typing import Any
from urllib.parse import urlencode

from markupsafe import Markup, escape

from assistant.corpus import Chunk
from assistant.retrieve import Hit


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


def filter_query(unit: str = "", section: str = "", group: str = "") -> str:
    """unit=…&section=…&group=… with only the filters that are set (never a question: see pages.py)."""
    return urlencode({k: v for k, v in (("unit", unit), ("section", section), ("group", group)) if v})


def lookup_url(unit: str = "", section: str = "", group: str = "") -> str:
    """/lookup with only the filters that are set, so links stay short and shareable."""
    query = filter_query(unit, section, group)
    return "/lookup" + ("?" + query if query else "")


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


_WHY_KINDS = {"编号": "num", "部门": "unit", "关键词": "kw", "语义": "sem"}


def why_kind(reason: str) -> str:
    """CSS class for one `Hit.why` entry ("部门:区妇联" → "unit"); unknown prefixes get "other"."""
    return _WHY_KINDS.get(reason.split(":", 1)[0].split("：", 1)[0], "other")


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


@dataclass(frozen=True)
class Group:
    section: str
    chunks: tuple[Chunk, ...]


def group_by_section(chunks: Iterable[Chunk]) -> list[Group]:
    """Numbered measures first, grouped under their sections in document order; the notice,
    guiding thoughts and organisation paragraphs follow, so operators find them too."""
    chunks = list(chunks)
    ordered = [c for c in chunks if c.kind == "measure"] + [c for c in chunks if c.kind != "measure"]
    groups: dict[str, list[Chunk]] = {}
    for c in ordered:
        groups.setdefault(c.section, []).append(c)
    return [Group(section, tuple(cs)) for section, cs in groups.items()]


def unit_counts(chunks: Iterable[Chunk]) -> list[tuple[str, int]]:
    """Every responsible unit with how many chunks name it, most-named first (ties: first seen)."""
    counts: dict[str, int] = {}
    for c in chunks:
        for u in c.lead_units:
            counts[u] = counts.get(u, 0) + 1
    return sorted(counts.items(), key=lambda kv: -kv[1])


def section_counts(chunks: Iterable[Chunk]) -> list[tuple[str, int]]:
    return [(g.section, len(g.chunks)) for g in group_by_section(chunks)]


__all__ = [
    "Group",
    "chunk_dict",
    "filter_chunks",
    "filter_query",
    "group_by_section",
    "hit_dict",
    "lookup_url",
    "marked",
    "matches",
    "section_counts",
    "tel_href",
    "unit_counts",
    "why_kind",
]
