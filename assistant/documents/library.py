"""`load_corpus`: every supported file of the corpus folder, read (readers/) and parsed (structures/) into one Corpus.

A file that cannot be read or parsed is left out and recorded (file, line, reason) in `Corpus.failures`, so one bad
upload never takes the service down; only the primary document is required, because every answer's fallback phone
and the web's title come from it.
"""

from __future__ import annotations

import datetime as dt
import hashlib
import json
import threading
from dataclasses import replace
from pathlib import Path
from typing import Any

from cachetools import LRUCache

from ..clock import district_today
from ..errors import CorpusError
from . import metadata, structures
from .model import Corpus, Document, DocumentMeta, LoadFailure
from .readers import READERS, DocumentReadError, SourceText, read_source
from .structures.common import Context, Line


def corpus_files(root: Path) -> list[Path]:
    """Files whose content determines the index: documents, sidecars, lexicon and settings."""
    return sorted(p for p in root.rglob("*") if p.is_file() and not p.name.startswith("."))


def fingerprint(root: Path) -> str:
    h = hashlib.sha256()
    for p in corpus_files(root):
        h.update(p.relative_to(root).as_posix().encode())
        h.update(b"\0")
        h.update(p.read_bytes())
    return h.hexdigest()


def document_files(root: Path) -> list[Path]:
    """The documents of a corpus folder: top-level files of a supported format (lexicon/ and sidecars are not)."""
    return sorted(p for p in root.iterdir() if p.is_file() and p.suffix.lower() in READERS and not p.name.startswith("."))


def parse_source(
    source: SourceText,
    doc_id: str,
    prefix: str = "",
    sidecar: dict[str, Any] | None = None,
    fallback_phone: str = "",
) -> Document:
    """One read document → its chunks (by the structure its text shows, or the sidecar's `structure`) and metadata."""
    sidecar = sidecar or {}
    lines: list[Line] = [(n, ln.strip()) for n, ln in enumerate(source.lines, start=1) if ln.strip()]
    if not lines:
        raise CorpusError(source.path, None, "文件为空")
    ctx = Context(doc_id=doc_id, path=source.path, prefix=prefix)
    body, closing = metadata.split_closing(lines) if prefix else (lines, [])
    try:
        parsed = structures.parse(body, ctx, sidecar.get("structure"))
    except structures.StructureError as exc:
        raise CorpusError(source.path, exc.line, exc.reason) from None
    # A document's own metadata table is the authority; without one, the text's sentences say what they can.
    stated = dict(parsed.fields) or metadata.from_text(lines, closing, dict(source.fields))
    fields = {**stated, **metadata.sidecar_fields(sidecar)}
    title = fields.pop("标题", "") or parsed.title or dict(source.fields).get("标题", "") or metadata.guess_title(lines) or doc_id
    warnings = [*source.warnings, *parsed.warnings]
    if prefix and not fields.get("政策咨询电话"):
        warnings.append("文中没有写明咨询电话,答复时使用主文件的咨询电话")
    status = str(sidecar.get("status", ""))
    meta = DocumentMeta(
        doc_id=doc_id,
        path=source.path,
        title=title,
        fields=tuple(fields.items()),
        written=metadata.parse_date(fields.get("成文日期", "")),
        published=metadata.parse_date(fields.get("发布日期", "")),
        structure=parsed.structure,
        format=source.format,
        effective=metadata.parse_date(fields.get("施行日期", "")),
        expires=metadata.parse_date(fields.get("有效期至", "")),
        repealed=status in ("废止", "已废止", "失效"),
        superseded_by=str(sidecar.get("superseded_by", "")),
        implements=tuple(sidecar.get("implements", ())),
        warnings=tuple(warnings),
        fallback_phone=fallback_phone if prefix else "",
    )
    # A chunk with no section of its own (a Q&A pair, a paragraph) is listed under its document's title.
    chunks = tuple(c if c.section or not prefix else replace(c, section=title) for c in parsed.chunks)
    return Document(meta=meta, chunks=chunks)


def read_document(path: Path, doc_id: str | None = None, prefix: str | None = None, *, fallback_phone: str = "",
                  meta_path: Path | None = None) -> Document:  # fmt: skip
    """Read, parse and attribute one file. Raises CorpusError or DocumentReadError naming the file (and line)."""
    path = Path(path)
    doc_id = doc_id or path.stem
    side = meta_path or metadata.sidecar_path(path)
    sidecar = metadata.read_sidecar(side) if side.exists() else {}
    try:
        source = read_source(path)
    except ImportError as exc:  # the format's reader (or its library) is not installed
        raise DocumentReadError(path, f"无法读取该格式的文件(缺少读取模块:{exc.name or exc})") from None
    except OSError as exc:
        raise DocumentReadError(path, f"文件无法打开({exc.strerror or exc})") from None
    return parse_source(source, doc_id, f"{doc_id}:" if prefix is None else prefix, sidecar, fallback_phone)


def parse_document(text: str, path: str, doc_id: str, prefix: str = "") -> Document:
    """Parse a document given as text (a .txt's content); `prefix` ("" for the primary) namespaces the chunk ids."""
    return parse_source(SourceText(path=path, format="txt", lines=tuple(text.splitlines())), doc_id, prefix)


def read_settings(root: Path) -> dict[str, Any]:
    path = root / "corpus.json"
    return json.loads(path.read_text(encoding="utf-8")) if path.exists() else {}


# Documents parsed before in this process, by everything a parse depends on (the file's and its sidecar's bytes, its
# path, id and the fallback phone): reloading a library after one document was added parses that document alone.
_PARSED: LRUCache[tuple[str, ...], Document] = LRUCache(maxsize=8192)
_PARSED_LOCK = threading.Lock()


def _digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest() if path.is_file() else ""


def _read_cached(path: Path, doc_id: str | None = None, prefix: str | None = None, fallback_phone: str = "") -> Document:
    """read_document, remembered by content (a Document is frozen: sharing it is safe). Failures are not remembered."""
    try:
        key = (str(path), doc_id or "", "\0" if prefix is None else prefix, fallback_phone, _digest(path),
               _digest(metadata.sidecar_path(path)))  # fmt: skip
    except OSError:
        return read_document(path, doc_id, prefix, fallback_phone=fallback_phone)
    with _PARSED_LOCK:
        doc = _PARSED.get(key)
    if doc is None:
        doc = read_document(path, doc_id, prefix, fallback_phone=fallback_phone)
        with _PARSED_LOCK:
            _PARSED[key] = doc
    return doc


def load_corpus(root: Path) -> Corpus:
    """All documents of `root`; the primary must load (CorpusError otherwise), any other file may fail and is
    recorded in `Corpus.failures` instead (Assistant.load logs them; /healthz lists them)."""
    root = Path(root)
    if not root.is_dir():
        raise CorpusError(str(root), None, "语料目录不存在")
    settings = read_settings(root)
    paths = document_files(root)
    if not paths:
        raise CorpusError(str(root), None, f"目录中没有政策文件(支持 {' '.join(sorted(set(READERS)))})")
    primary = settings.get("primary", paths[0].stem)
    primary_paths = [p for p in paths if p.stem == primary]
    if not primary_paths:
        raise CorpusError(str(root / "corpus.json"), None, f"主文件 {primary}.txt 不存在")
    first = _read_cached(primary_paths[0], primary, "")
    docs = [first]
    failures: list[LoadFailure] = []
    seen = {primary: primary_paths[0]}
    for p in paths:
        if p == primary_paths[0]:
            continue
        if p.stem in seen:
            failures.append(LoadFailure(str(p), None, f"与 {seen[p.stem].name} 同名(文件名去掉扩展名后即文件编号,必须唯一)"))
            continue
        try:
            docs.append(_read_cached(p, fallback_phone=first.meta.phone))
            seen[p.stem] = p
        except (CorpusError, DocumentReadError) as exc:
            failures.append(LoadFailure(exc.path, getattr(exc, "line", None), exc.reason))
        except Exception as exc:  # a reader library's own bug must not take the other documents down
            failures.append(LoadFailure(str(p), None, f"读取时出错({type(exc).__name__}: {exc})"))
    return Corpus(root=root, documents=tuple(docs), fingerprint=fingerprint(root), primary=primary, failures=tuple(failures))


def today() -> dt.date:
    """The district's date: a document's period ends at the district's midnight, not UTC's."""
    return district_today()
