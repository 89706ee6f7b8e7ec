"""The library's typed records: chunks, documents with their metadata, the corpus, and load failures.

Every structure (structures/) produces `Chunk`s and every reader (readers/) feeds them; the rest of the pipeline
(retrieve, answer, highlight, groups, web) reads only these records. The primary document's records keep exactly the
fields and values they had when `assistant/corpus.py` parsed one house style; other documents add what they know
(`ref`, lifecycle) without changing what the primary's chunks say.
"""

from __future__ import annotations

import datetime as dt
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

ChunkKind = Literal["measure", "guiding", "org", "notice", "part", "item", "article", "field", "qa", "paragraph"]

_SENTENCE_RE = re.compile(r"[^。！？；]+[。！？；]?")


def sentences_of(text: str) -> tuple[str, ...]:
    return tuple(s.strip() for s in _SENTENCE_RE.findall(text) if s.strip())


def fmt_date(d: dt.date) -> str:
    return f"{d.year}年{d.month}月{d.day}日"


@dataclass(frozen=True)
class Deadline:
    """A dated limit stated in a measure, with the sentence that states it."""

    date: dt.date
    phrase: str
    sentence: str


@dataclass(frozen=True)
class Chunk:
    """One retrievable, quotable unit: a measure, an article (条), a guide's field, a Q&A pair, a paragraph, or a notice.

    `ref` is how people cite it (「第五条」, 「申请材料」, the question of a Q&A pair); the primary's measures are
    cited 「第3条」 from their number, so their `ref` may stay empty."""

    id: str
    doc: str
    kind: ChunkKind
    number: int | None
    title: str
    section: str
    text: str
    lead_units: tuple[str, ...]
    line: int
    deadlines: tuple[Deadline, ...] = ()
    ref: str = ""

    @property
    def sentences(self) -> tuple[str, ...]:
        return sentences_of(self.text)

    @property
    def cite(self) -> str:
        """The short citation: 「第3条」, 「第五条」, 「申请材料」, a question; the title when nothing shorter exists."""
        if self.ref:
            return self.ref
        if self.kind == "measure":
            return f"第{self.number}条"
        return self.title

    @property
    def label(self) -> str:
        """How a list shows it: "第3条 实施灵活就业促进工程", "第五条 申请条件", "申请材料"."""
        cite = self.cite
        if self.title and self.title != cite and not cite.endswith(self.title):
            return f"{cite} {self.title}"
        return cite


Status = Literal["现行", "已过期", "已废止"]


@dataclass(frozen=True)
class DocumentMeta:
    """A document's metadata. `fields` holds what the document states (its metadata table, or what was read from its
    text: 发文字号, 发文机关, 成文日期, 政策咨询电话 …) plus any sidecar (`<file>.meta.toml`) values, in source order."""

    doc_id: str
    path: str
    title: str
    fields: tuple[tuple[str, str], ...]
    written: dt.date | None
    published: dt.date | None
    structure: str = "公文"
    format: str = "txt"
    effective: dt.date | None = None  # 「自…起施行」
    expires: dt.date | None = None  # 「有效期至…」, 「有效期X年」, the end of an activity period
    repealed: bool = False  # sidecar status = "废止"
    superseded_by: str = ""
    implements: tuple[str, ...] = ()  # primary measure ids this rule implements (declared in the sidecar)
    warnings: tuple[str, ...] = ()  # what the parse could not read, for `documents` and `add`
    fallback_phone: str = ""  # the primary's phone, for a document that states none

    def get(self, key: str, default: str = "") -> str:
        return dict(self.fields).get(key, default)

    @property
    def number(self) -> str:
        return self.get("发文字号")

    @property
    def issuer(self) -> str:
        return self.get("发文机关")

    @property
    def phone(self) -> str:
        return self.get("政策咨询电话") or self.fallback_phone

    @property
    def consult_dept(self) -> str:
        return self.get("政策咨询部门")

    @property
    def keywords(self) -> tuple[str, ...]:
        return tuple(k for k in re.split(r"[;；,，、\s]+", self.get("关键词")) if k)

    def status(self, today: dt.date) -> Status:
        if self.repealed or self.superseded_by:
            return "已废止"
        if self.expires is not None and self.expires < today:
            return "已过期"
        return "现行"

    def lifecycle_note(self, today: dt.date, titles: dict[str, str] | None = None) -> str:
        """The visible note every quote from a lapsed document carries; "" for a current one."""
        status = self.status(today)
        if status == "已过期":
            assert self.expires is not None
            return f"已过期:《{self.title}》的有效期已于{fmt_date(self.expires)}届满,以下内容仅供参考,现行做法请电话咨询。"
        if status == "已废止":
            by = (titles or {}).get(self.superseded_by, self.superseded_by)
            when = self.get("废止日期")
            tail = f",已由《{by}》取代" if by else ""
            return f"已废止:《{self.title}》{('已于' + when) if when else ''}废止{tail},以下内容仅供参考,请以现行政策为准。"
        return ""


@dataclass(frozen=True)
class Document:
    meta: DocumentMeta
    chunks: tuple[Chunk, ...]

    @property
    def measures(self) -> tuple[Chunk, ...]:
        return tuple(c for c in self.chunks if c.kind == "measure")


@dataclass(frozen=True)
class LoadFailure:
    """A file of the corpus folder that was left out: which, where, and why (in Chinese, for staff)."""

    file: str
    line: int | None
    reason: str

    def __str__(self) -> str:
        return f"{self.file}{f':{self.line}' if self.line else ''}: {self.reason}"


@dataclass(frozen=True)
class Corpus:
    """All documents plus the lexicon files that steer retrieval; `fingerprint` keys the index.

    `failures` lists files that could not be read or parsed: the others load and answer without them."""

    root: Path
    documents: tuple[Document, ...]
    fingerprint: str
    primary: str
    failures: tuple[LoadFailure, ...] = ()

    # Computed once: every question looks chunks up by id several times. (cached_property writes
    # the instance __dict__ directly, which a frozen dataclass allows.)
    @cached_property
    def chunks(self) -> tuple[Chunk, ...]:
        return tuple(c for d in self.documents for c in d.chunks)

    @cached_property
    def primary_doc(self) -> Document:
        return next(d for d in self.documents if d.meta.doc_id == self.primary)

    @cached_property
    def _by_id(self) -> dict[str, Chunk]:
        return {c.id: c for c in self.chunks}

    @cached_property
    def _docs(self) -> dict[str, Document]:
        return {d.meta.doc_id: d for d in self.documents}

    @cached_property
    def titles(self) -> dict[str, str]:
        """Each document's title by its id (a repealed rule's note names the one that replaced it)."""
        return {d.meta.doc_id: d.meta.title for d in self.documents}

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self._by_id.get(chunk_id)

    def document(self, doc_id: str) -> Document | None:
        return self._docs.get(doc_id)

    @property
    def units(self) -> tuple[str, ...]:
        """Every responsible unit named anywhere, in first-seen order."""
        seen: dict[str, None] = {}
        for c in self.chunks:
            if c.kind == "measure":
                seen.update(dict.fromkeys(c.lead_units))
        return tuple(seen)

    @property
    def sections(self) -> tuple[str, ...]:
        return tuple(dict.fromkeys(c.section for c in self.chunks if c.kind == "measure"))
