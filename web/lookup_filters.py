"""The hotline lookup's filters: what each value in a URL means, which chunks pass, the facet counts and the
browse order of a library of several documents.

A filter value means one thing. 文件 (`doc`) is a document id. 分节 (`section`) belongs to one document: the
chosen document's, or the primary's when none is chosen (every link from before the library meant the primary's
sections), so 「第一章 总则」 of a 办法 and a section of the 实施意见 are never mixed. Choosing another document
therefore drops the section. 责任单位 and 服务对象 apply across documents (related rules name no responsible units
and serve no target group today, so combined with them a related rule's chunks drop out: a narrowing, never a mix).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, replace
from urllib.parse import urlencode

from assistant.corpus import Chunk, Corpus


@dataclass(frozen=True)
class Filters:
    """The lookup's filters as the URL (or the refine form) gives them; "" = not set."""

    doc: str = ""
    section: str = ""
    unit: str = ""
    group: str = ""

    def but(self, **changes: str) -> Filters:
        """These filters with some values changed (templates build each facet's link with it)."""
        return replace(self, **changes)

    def with_doc(self, doc: str, primary: str) -> Filters:
        """These filters with the 文件 changed to `doc` ("" = every document): the 分节 stays only while the
        document it belongs to stays the same."""
        same = (doc or primary) == (self.doc or primary)
        return replace(self, doc=doc, section=self.section if same else "")

    @property
    def active(self) -> bool:
        return bool(self.doc or self.section or self.unit or self.group)

    @property
    def query(self) -> str:
        """doc=…&unit=…&section=…&group=… with only the filters that are set (never a question)."""
        pairs = (("doc", self.doc), ("unit", self.unit), ("section", self.section), ("group", self.group))
        return urlencode({k: v for k, v in pairs if v})

    @property
    def url(self) -> str:
        """/lookup with only the filters that are set, so links stay short and shareable."""
        return "/lookup" + ("?" + self.query if self.query else "")


@dataclass(frozen=True)
class Scope:
    """Filters resolved against the library: `groups` maps each target group to its measure ids."""

    filters: Filters
    primary: str
    groups: Mapping[str, Sequence[str]]

    @property
    def section_doc(self) -> str:
        """The document the 分节 filter (and the 分节 facet) is about."""
        return self.filters.doc or self.primary

    def but(self, **changes: str) -> Scope:
        return replace(self, filters=self.filters.but(**changes))

    def admits(self, c: Chunk) -> bool:
        f = self.filters
        if f.doc and c.doc != f.doc:
            return False
        if f.section and (c.section != f.section or c.doc != self.section_doc):
            return False
        if f.unit and f.unit not in c.lead_units:
            return False
        # An unknown group matches nothing (as before the library).
        return not f.group or c.id in self.groups.get(f.group, ())

    def keep(self, chunks: Iterable[Chunk]) -> list[Chunk]:
        return [c for c in chunks if self.admits(c)]

    def count(self, chunks: Iterable[Chunk]) -> int:
        return sum(1 for c in chunks if self.admits(c))


@dataclass(frozen=True)
class DocEntry:
    """One document of the 文件 facet and of the browse list's headings."""

    id: str
    title: str
    number: str
    status: str  # 现行 / 已过期 / 已废止 (today, in the district)
    chunks: int
    primary: bool

    @property
    def cited(self) -> str:
        """《title》(文号), as answers cite a document."""
        return f"《{self.title}》" + (f"({self.number})" if self.number else "")


def doc_entries(corpus: Corpus, status: Mapping[str, str]) -> list[DocEntry]:
    """Every document, the primary first (it is what most calls are about), then in library order."""
    docs = sorted(corpus.documents, key=lambda d: d.meta.doc_id != corpus.primary)
    return [
        DocEntry(
            d.meta.doc_id,
            d.meta.title,
            d.meta.number,
            status.get(d.meta.doc_id, "现行"),
            len(d.chunks),
            d.meta.doc_id == corpus.primary,
        )
        for d in docs
    ]


@dataclass(frozen=True)
class Section:
    """A run of chunks of one document under one heading."""

    doc: str
    section: str
    chunks: tuple[Chunk, ...]


def browse_order(chunks: Iterable[Chunk], primary: str) -> list[Section]:
    """Documents in turn (the primary first, then library order); within the primary its numbered measures first,
    grouped under their sections in document order, then the notice, guiding thoughts and organisation paragraphs,
    so operators find them too; within any other document its own order. Sections are keyed by document: two
    documents' 「一、活动时间」 never merge."""
    chunks = list(chunks)
    docs = list(dict.fromkeys([primary, *(c.doc for c in chunks)]))
    out: dict[tuple[str, str], list[Chunk]] = {}
    for doc in docs:
        mine = [c for c in chunks if c.doc == doc]
        if doc == primary:
            mine = [c for c in mine if c.kind == "measure"] + [c for c in mine if c.kind != "measure"]
        for c in mine:
            out.setdefault((c.doc, c.section), []).append(c)
    return [Section(doc, section, tuple(cs)) for (doc, section), cs in out.items()]


def facet_counts(
    results: Sequence[Chunk],
    scope: Scope,
    docs: Sequence[str],
    sections: Sequence[str],
    units: Sequence[str],
    groups: Sequence[str],
) -> dict[str, dict[str, int]]:
    """Facet counts over the current search results: each value counts the results that would show after choosing
    it with the other filters kept (exactly the link's filters), so a count is what a click gives."""
    f = scope.filters

    def n(filters: Filters) -> int:
        return replace(scope, filters=filters).count(results)

    return {
        "docs": {d: n(f.with_doc(d, scope.primary)) for d in docs},
        "sections": {s: n(f.but(section=s)) for s in sections},
        "units": {u: n(f.but(unit=u)) for u in units},
        "groups": {g: n(f.but(group=g)) for g in groups},
        # the 全部… entry of each facet
        "all": {
            "doc": n(f.with_doc("", scope.primary)),
            "section": n(f.but(section="")),
            "unit": n(f.but(unit="")),
            "group": n(f.but(group="")),
        },
    }


def section_counts(chunks: Iterable[Chunk], primary: str, doc: str) -> list[tuple[str, int]]:
    """The sections of one document with their sizes, in browse order."""
    return [(s.section, len(s.chunks)) for s in browse_order(chunks, primary) if s.doc == doc]


__all__ = ["DocEntry", "Filters", "Scope", "Section", "browse_order", "doc_entries", "facet_counts", "section_counts"]
