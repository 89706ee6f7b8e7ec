"""Parse policy documents (raw text as scraped from the government site) into typed records.

The house style (see GUIDE §1): a metadata table printed twice, the cover notice, then top-level
parts "一、…", sections "(一)…" and numbered measures "1.…(责任单位:…按职责分工负责)". Facts —
measures, units, dates — are only ever read from the text, never typed into code, so a new or
amended document needs no code change.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import re
from dataclasses import dataclass
from functools import cached_property
from pathlib import Path
from typing import Literal

from .errors import CorpusError

ChunkKind = Literal["measure", "guiding", "org", "notice", "part"]

_CN_DIGITS = {"零": 0, "〇": 0, "一": 1, "二": 2, "两": 2, "三": 3, "四": 4, "五": 5, "六": 6, "七": 7, "八": 8, "九": 9}


def cn_to_int(text: str) -> int | None:
    """Chinese numerals 1–99 (一, 十四, 二十, 九十九) or ASCII digits; None if it is neither."""
    if text.isdigit():
        return int(text)
    if not text or any(c not in _CN_DIGITS and c != "十" for c in text):
        return None
    if "十" not in text:
        return _CN_DIGITS[text] if len(text) == 1 else None
    tens, _, ones = text.partition("十")
    if len(tens) > 1 or len(ones) > 1:
        return None
    return (_CN_DIGITS[tens] if tens else 1) * 10 + (_CN_DIGITS[ones] if ones else 0)


# Headings. Both ASCII and full-width parentheses/dots occur in scraped government texts.
_PART_RE = re.compile(r"^([一二三四五六七八九十]+)、(.+)$")
_SECTION_RE = re.compile(r"^[(（]([一二三四五六七八九十]+)[)）](.+)$")
_MEASURE_RE = re.compile(r"^(\d{1,2})[.．、](.+)$")
# The unit clause closes every measure; the text itself may hold other parentheses ("(二期)").
_UNITS_RE = re.compile(r"[(（]责任单位[:：](?P<units>[^()（）]+)[)）]\s*$")
_UNIT_SUFFIX_RE = re.compile(r"(按职责分工)?(牵头)?(负责|配合)$")
_UNIT_SPLIT_RE = re.compile(r"[、,，;；]")
_DATE_RE = re.compile(r"(\d{4})[-年/.](\d{1,2})[-月/.](\d{1,2})日?")
# Deadlines written into measures ("至2025年12月31日", "延长至2024年年底"): an answer must warn
# when they have passed, because a citizen cannot tell from the quote alone.
_DEADLINE_RE = re.compile(r"至(\d{4})年(?:(\d{1,2})月(\d{1,2})日|年?底)")
_SENTENCE_RE = re.compile(r"[^。！？；]+[。！？；]?")


@dataclass(frozen=True)
class Deadline:
    """A dated limit stated in a measure, with the sentence that states it."""

    date: dt.date
    phrase: str
    sentence: str


@dataclass(frozen=True)
class Chunk:
    """One retrievable, quotable unit: a measure, a guiding/organisation paragraph, or the notice."""

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

    @property
    def sentences(self) -> tuple[str, ...]:
        return tuple(s.strip() for s in _SENTENCE_RE.findall(self.text) if s.strip())

    @property
    def label(self) -> str:
        """How people cite it: "第3条 实施灵活就业促进工程"."""
        if self.kind == "measure":
            return f"第{self.number}条 {self.title}"
        return self.title


@dataclass(frozen=True)
class DocumentMeta:
    doc_id: str
    path: str
    title: str
    fields: tuple[tuple[str, str], ...]  # the metadata table, in source order, values verbatim
    written: dt.date | None
    published: dt.date | None

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
        return self.get("政策咨询电话")

    @property
    def consult_dept(self) -> str:
        return self.get("政策咨询部门")

    @property
    def keywords(self) -> tuple[str, ...]:
        return tuple(k for k in re.split(r"[;；,，、\s]+", self.get("关键词")) if k)


@dataclass(frozen=True)
class Document:
    meta: DocumentMeta
    chunks: tuple[Chunk, ...]

    @property
    def measures(self) -> tuple[Chunk, ...]:
        return tuple(c for c in self.chunks if c.kind == "measure")


@dataclass(frozen=True)
class Corpus:
    """All documents plus the lexicon files that steer retrieval; `fingerprint` keys the index."""

    root: Path
    documents: tuple[Document, ...]
    fingerprint: str
    primary: str

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

    def chunk(self, chunk_id: str) -> Chunk | None:
        return self._by_id.get(chunk_id)

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


def _parse_date(value: str) -> dt.date | None:
    m = _DATE_RE.search(value)
    if not m:
        return None
    try:
        return dt.date(int(m[1]), int(m[2]), int(m[3]))
    except ValueError:
        return None


def _split_units(raw: str) -> tuple[str, ...]:
    units = [u.strip() for u in _UNIT_SPLIT_RE.split(raw)]
    units[-1] = _UNIT_SUFFIX_RE.sub("", units[-1]).strip()
    return tuple(u for u in units if u)


def _deadlines(text: str) -> tuple[Deadline, ...]:
    found = []
    for sentence in _SENTENCE_RE.findall(text):
        for m in _DEADLINE_RE.finditer(sentence):
            year = int(m[1])
            date = dt.date(year, int(m[2]), int(m[3])) if m[2] else dt.date(year, 12, 31)
            found.append(Deadline(date=date, phrase=m[0], sentence=sentence.strip()))
    return tuple(found)


def _meta_cells(line: str) -> list[tuple[str, str]]:
    # "k | v | k2 | v2 |" and "k | v |": a trailing "|" leaves one empty cell to drop.
    cells = [c.strip() for c in line.split("|")]
    if len(cells) % 2 == 1 and cells[-1] == "":
        cells = cells[:-1]
    if len(cells) % 2:
        raise ValueError("元数据行的单元格数目不是偶数")
    return [(cells[i], cells[i + 1]) for i in range(0, len(cells), 2)]


def parse_document(text: str, path: str, doc_id: str, prefix: str = "") -> Document:
    """Parse one document. `prefix` ("" for the primary document) namespaces the chunk ids."""
    lines = [(n, ln.strip()) for n, ln in enumerate(text.splitlines(), start=1)]
    lines = [(n, ln) for n, ln in lines if ln]
    if not lines:
        raise CorpusError(path, None, "文件为空")

    fields: dict[str, str] = {}
    pos = 0
    while pos < len(lines) and "|" in lines[pos][1]:
        n, ln = lines[pos]
        try:
            cells = _meta_cells(ln)
        except ValueError as exc:
            raise CorpusError(path, n, str(exc)) from None
        for key, value in cells:
            # The table is printed twice; a disagreement means a damaged scrape.
            if key in fields and fields[key] != value:
                raise CorpusError(path, n, f"元数据“{key}”前后不一致: {fields[key]!r} ≠ {value!r}")
            fields.setdefault(key, value)
        pos += 1
    if "发文字号" not in fields:
        raise CorpusError(path, lines[0][0], "缺少元数据表(需要“发文字号 | …”)")

    # Cover notice: everything up to the first top-level part "一、…".
    cover: list[tuple[int, str]] = []
    while pos < len(lines) and not _PART_RE.match(lines[pos][1]):
        cover.append(lines[pos])
        pos += 1
    if pos == len(lines):
        raise CorpusError(path, None, "找不到正文的一级标题(如“一、指导思想”)")
    title_m = re.search(r"《(.+?)》", "".join(ln for _, ln in cover))
    candidates = [ln for _, ln in cover if "。" not in ln and "," not in ln and not _DATE_RE.search(ln)]
    title = title_m[1] if title_m else (candidates[-1] if candidates else doc_id)

    chunks: list[Chunk] = []
    # Empty fields (the source leaves 有效性 blank) are said to be blank rather than filled with a guess.
    meta_text = "\n".join(f"{k}:{v or '原文未填写'}" for k, v in fields.items())
    chunks.append(
        Chunk(
            id=f"{prefix}notice",
            doc=doc_id,
            kind="notice",
            number=None,
            title=f"关于印发《{title}》的通知" if title_m else title,
            section="通知及文件信息",
            text="\n".join(ln for _, ln in cover) + "\n" + meta_text,
            lead_units=(fields["政策咨询部门"],) if fields.get("政策咨询部门") else (),
            line=cover[0][0] if cover else lines[0][0],
        )
    )

    part = ""
    part_heading = ""
    section = ""
    expected_number = 1
    body: list[tuple[int, str]] = lines[pos:]
    i = 0
    while i < len(body):
        n, ln = body[i]
        # A block is its first line plus continuation lines that start no new heading/item.
        j = i + 1
        while j < len(body) and not (
            _PART_RE.match(body[j][1]) or _SECTION_RE.match(body[j][1]) or _MEASURE_RE.match(body[j][1])
        ):
            j += 1
        block = "".join(x for _, x in body[i:j])
        i = j

        if m := _PART_RE.match(ln):
            part, part_heading, section = m[2].strip(), f"{m[1]}、{m[2].strip()}", ""
            rest = block[len(ln) :]
            if rest:
                kind: ChunkKind = "guiding" if "指导思想" in part else "part"
                cid = "guiding" if kind == "guiding" else f"part{cn_to_int(m[1])}"
                chunks.append(Chunk(f"{prefix}{cid}", doc_id, kind, None, part, part_heading, rest, (), n))
            continue
        if m := _SECTION_RE.match(ln):
            # Under 组织保障 the "(一)" items are paragraphs to quote; elsewhere they head sections.
            if "组织" in part or "保障措施" in part:
                heading, _, _ = m[2].partition("。")
                num = cn_to_int(m[1])
                chunks.append(
                    Chunk(f"{prefix}org{num}", doc_id, "org", num, heading, part_heading, block, (), n)
                )
            else:
                section = block
            continue
        m = _MEASURE_RE.match(ln)
        assert m is not None
        number = int(m[1])
        if number != expected_number:
            raise CorpusError(path, n, f"措施编号应为 {expected_number},实际为 {number}")
        if not section:
            raise CorpusError(path, n, f"第{number}条之前没有分节标题(如“(一)…”)")
        units_m = _UNITS_RE.search(block)
        if not units_m:
            raise CorpusError(path, n, f"第{number}条缺少结尾的“(责任单位:…)”")
        units = _split_units(units_m["units"])
        if not units:
            raise CorpusError(path, n, f"第{number}条的责任单位为空")
        body_text = block[m.start(2) : units_m.start()].strip()
        measure_title = body_text.split("。", 1)[0]
        chunks.append(
            Chunk(
                id=f"{prefix}m{number}",
                doc=doc_id,
                kind="measure",
                number=number,
                title=measure_title,
                section=section,
                text=body_text,
                lead_units=units,
                line=n,
                deadlines=_deadlines(body_text),
            )
        )
        expected_number += 1

    if expected_number == 1:
        raise CorpusError(path, None, "没有找到任何编号措施(如“1.…”)")
    meta = DocumentMeta(
        doc_id=doc_id,
        path=path,
        title=title,
        fields=tuple(fields.items()),
        written=_parse_date(fields.get("成文日期", "")),
        published=_parse_date(fields.get("发布日期", "")),
    )
    return Document(meta=meta, chunks=tuple(chunks))


def corpus_files(root: Path) -> list[Path]:
    """Files whose content determines the index: documents, lexicon and settings."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def fingerprint(root: Path) -> str:
    h = hashlib.sha256()
    for p in corpus_files(root):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def load_corpus(root: Path) -> Corpus:
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(str(root), None, "语料目录不存在")
    settings_path = root / "corpus.json"
    settings = json.loads(settings_path.read_text(encoding="utf-8")) if settings_path.exists() else {}
    paths = sorted(root.glob("*.txt"))
    if not paths:
        raise CorpusError(str(root), None, "目录中没有 *.txt 政策文件")
    primary = settings.get("primary", paths[0].stem)
    docs = []
    for p in paths:
        try:
            text = p.read_text(encoding="utf-8")
        except UnicodeDecodeError as exc:
            raise CorpusError(str(p), None, f"不是 UTF-8 文本 ({exc.reason})") from None
        prefix = "" if p.stem == primary else f"{p.stem}:"
        docs.append(parse_document(text, str(p), p.stem, prefix))
    if primary not in {d.meta.doc_id for d in docs}:
        raise CorpusError(str(settings_path), None, f"主文件 {primary}.txt 不存在")
    docs.sort(key=lambda d: d.meta.doc_id != primary)
    return Corpus(root=root, documents=tuple(docs), fingerprint=fingerprint(root), primary=primary)


__all__ = [
    "Chunk",
    "Corpus",
    "Deadline",
    "Document",
    "DocumentMeta",
    "cn_to_int",
    "fingerprint",
    "load_corpus",
    "parse_document",
]
