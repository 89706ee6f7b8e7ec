"""Managing the library: preview a file's parse, add it to the corpus, remove a document, list what is there.

Library functions only (no printing, no prompts): the CLI (`policy-assistant documents|add|remove`) and a future
admin upload page both translate these records and `LibraryError` for their users. Adding or removing changes the
corpus fingerprint, so the next `Assistant.load` rebuilds the index (embedding only new chunks, see index.py).
"""

from __future__ import annotations

import datetime as dt
import re
import shutil
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from ..errors import CorpusError, PolicyAssistantError
from .attribution import document_summary
from .library import document_files, load_corpus, read_document, read_settings, today
from .metadata import sidecar_path
from .model import Document, LoadFailure
from .readers import READERS, DocumentReadError

# A document id is its file stem, and ends up in chunk ids and URLs (/lookup/<doc>:a5): no ':' or '/'.
_DOC_ID_RE = re.compile(r"^[\w\-.]{1,80}$")


class LibraryError(PolicyAssistantError):
    """An add/remove that cannot be done (unsupported file, a name that exists, removing the primary…)."""


@dataclass(frozen=True)
class Preview:
    """What adding `path` would do: the parsed document, or why it cannot be read, and what it would replace."""

    path: Path
    doc_id: str
    document: Document | None
    failure: LoadFailure | None
    replaces: Path | None  # a file of the corpus with the same document id

    @property
    def ok(self) -> bool:
        return self.document is not None


def _doc_id(path: Path) -> str:
    if path.suffix.lower() not in READERS:
        raise LibraryError(f"不支持的文件类型 {path.suffix or '(无扩展名)'}(支持 {' '.join(sorted(set(READERS)))})")
    if not _DOC_ID_RE.match(path.stem) or ":" in path.stem:
        raise LibraryError(f"文件名“{path.stem}”不能作文件编号:只用字母、数字、汉字、- _ .(它会出现在条目编号和网址中)")
    return path.stem


def preview(path: str | Path, meta_path: str | Path | None = None, corpus_dir: str | Path | None = None) -> Preview:
    """Read and parse `path` as it would be read in the corpus (ids prefixed by its stem), without copying anything."""
    path = Path(path)
    doc_id = _doc_id(path)
    fallback = ""
    replaces = None
    if corpus_dir is not None:
        corpus_dir = Path(corpus_dir)
        primary = read_settings(corpus_dir).get("primary")
        if doc_id == primary:
            raise LibraryError(f"“{doc_id}”是主文件的编号,不能用作新文件的文件名")
        replaces = next((p for p in document_files(corpus_dir) if p.stem == doc_id), None)
        with_primary = next((p for p in document_files(corpus_dir) if p.stem == primary), None)
        if with_primary is not None:
            try:
                fallback = read_document(with_primary, primary, "").meta.phone
            except (CorpusError, DocumentReadError):
                fallback = ""
    try:
        doc = read_document(path, doc_id, fallback_phone=fallback, meta_path=Path(meta_path) if meta_path else None)
    except (CorpusError, DocumentReadError) as exc:
        return Preview(path, doc_id, None, LoadFailure(exc.path, getattr(exc, "line", None), exc.reason), replaces)
    return Preview(path, doc_id, doc, None, replaces)


def add(corpus_dir: str | Path, path: str | Path, meta_path: str | Path | None = None, *, replace: bool = False) -> Document:
    """Copy `path` (and its sidecar: `meta_path`, or `<file>.meta.toml` beside it) into the corpus after checking it
    parses. Raises LibraryError when it does not, or when a document of that id exists and `replace` is False."""
    corpus_dir = Path(corpus_dir)
    path = Path(path)
    seen = preview(path, meta_path, corpus_dir)
    if seen.document is None:
        assert seen.failure is not None
        raise LibraryError(f"文件未加入:{seen.failure}")
    if seen.replaces is not None and not replace:
        raise LibraryError(f"语料中已有文件编号“{seen.doc_id}”({seen.replaces.name});先删除它,或确认替换")
    side_src = Path(meta_path) if meta_path else sidecar_path(path)
    dest = corpus_dir / path.name
    if seen.replaces is not None:
        _remove_files(seen.replaces)
    shutil.copyfile(path, dest)
    if side_src.exists():
        shutil.copyfile(side_src, sidecar_path(dest))
    return seen.document


def _remove_files(doc_path: Path) -> list[Path]:
    removed = []
    for p in (doc_path, sidecar_path(doc_path)):
        if p.exists():
            p.unlink()
            removed.append(p)
    return removed


def remove(corpus_dir: str | Path, doc_id: str) -> list[Path]:
    """Delete a document (and its sidecar) from the corpus; returns the files removed. The primary cannot be removed."""
    corpus_dir = Path(corpus_dir)
    if doc_id == read_settings(corpus_dir).get("primary"):
        raise LibraryError(f"“{doc_id}”是主文件,不能删除")
    found = [p for p in document_files(corpus_dir) if p.stem == doc_id]
    if not found:
        known = "、".join(p.stem for p in document_files(corpus_dir))
        raise LibraryError(f"语料中没有文件编号“{doc_id}”(现有:{known})")
    return [r for p in found for r in _remove_files(p)]


def documents(corpus_dir: str | Path, day: dt.date | None = None) -> dict[str, Any]:
    """The library as listed by `policy-assistant documents` and `GET /api/documents`: documents and failures."""
    corpus = load_corpus(Path(corpus_dir))
    return {
        "documents": document_summary(corpus, day or today()),
        "failures": [{"file": f.file, "line": f.line, "reason": f.reason} for f in corpus.failures],
    }  # the same shape as Assistant.documents() (GET /api/documents), without loading an index
